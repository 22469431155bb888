"""``plan --offline``: the stacks tree as it will be after ``apply``, written to a new folder.

OUT gets a copy of every file under ``--stacks`` at the same relative path, with the
rendered files in place of the originals (and the new ones added). It is written to a
temporary folder next to OUT and renamed at the end: OUT exists complete or not at all,
and never when the plan is refused. A bind-mounted filestore inside the tree is not
copied (its directory is), nor is anything outside ``--stacks``.

The Traefik snapshot (``inventory --snapshot SNAP`` on the server): ``version.json``,
``http-routers.json`` and ``http-middlewares.json``, the bodies of ``/api/version``,
``/api/http/routers`` and ``/api/http/middlewares``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .edge import RouterDef
from .exitcodes import REFUSED, USAGE, MigrateError
from .facts import Fact
from .fsops import write_new_exclusive
from .plan import Plan
from .survey import Survey
from .traefik import TraefikError, read_snapshot
from .traefik_model import RoutingTable


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MigrateError(f"{out} exists and is not an empty folder: give a new one", USAGE)


def stage_tree(s: Survey, plan: Plan, out: Path) -> list[str]:
    """Write OUT; returns notes for the report (what was not copied)."""
    stacks = s.layout.stacks
    check_out(out)
    notes: list[str] = []
    skip: set[Path] = set()
    fs = s.filestore
    if fs is not None and fs.host is not None:
        host = fs.host
        if host.resolve().is_relative_to(stacks.resolve()):
            skip.add(host.resolve())
            notes.append(f"the filestore directory {s.show(host)} is not copied (only the folder)")
    tmp = out.parent / f".{out.name}.odoo-router-migrate-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)

    def ignore(directory: str, names: list[str]) -> list[str]:
        return names if Path(directory).resolve() in skip else []

    try:
        shutil.copytree(stacks, tmp, symlinks=True, ignore=ignore)
        for role, data in plan.rendered.items():
            path = plan.paths[role]
            try:
                rel = path.resolve().relative_to(stacks.resolve())
            except ValueError:
                notes.append(f"{s.layout.rel(path)} ({role}) is outside the stacks: not in {out}")
                continue
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            mode = dest.stat().st_mode & 0o7777 if dest.exists() else 0o644
            if dest.exists():
                dest.unlink()
            write_new_exclusive(dest, data, mode)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return notes


def read_snap(folder: Path) -> tuple[Fact[str], list[RouterDef], RoutingTable]:
    """The running version, routers and routing table from a snapshot folder (taken by
    ``inventory --snapshot``); MigrateError(3) naming the file when it is broken."""
    try:
        snap = read_snapshot(folder)
    except TraefikError as exc:
        raise MigrateError(str(exc), REFUSED) from exc
    routers = [
        RouterDef(r.short_name, r.provider, r.rule, r.service, r.middlewares, None, r.name)
        for r in snap.routers()
    ]
    return Fact(str(snap.version), snap.version.source), routers, snap.table()
