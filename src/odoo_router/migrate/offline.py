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

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .edge import RouterDef
from .exitcodes import USAGE, MigrateError
from .facts import Fact
from .fsops import write_new_exclusive
from .plan import Plan
from .survey import Survey
from .traefik import TraefikAPI, TraefikError

SNAPSHOT_FILES = ("version.json", "http-routers.json", "http-middlewares.json")


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


def read_snapshot(folder: Path) -> tuple[Fact[str], list[RouterDef]]:
    """The running version and routers from a snapshot folder; MigrateError(3) when broken."""
    from .exitcodes import REFUSED

    try:
        version = json.loads((folder / "version.json").read_text("utf-8"))
        routers = json.loads((folder / "http-routers.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise MigrateError(f"{folder}: not a Traefik snapshot: {exc}", REFUSED) from exc
    if not isinstance(version, dict) or not isinstance(version.get("Version"), str):
        raise MigrateError(f"{folder / 'version.json'}: no Version string", REFUSED)
    if not isinstance(routers, list):
        raise MigrateError(f"{folder / 'http-routers.json'}: not a list of routers", REFUSED)
    out = []
    for r in routers:
        if isinstance(r, dict):
            name = str(r.get("name", ""))
            out.append(
                RouterDef(
                    name.split("@", 1)[0],
                    str(r.get("provider", name.rpartition("@")[2])),
                    str(r.get("rule", "")),
                    str(r.get("service", "")),
                    tuple(r.get("middlewares") or ()),
                    r.get("priority"),
                    f"{folder.name}/http-routers.json",
                )
            )
    return Fact(version["Version"].lstrip("v"), f"snapshot {folder}/version.json"), out


def write_snapshot(api: TraefikAPI, folder: Path) -> None:
    """The three API bodies into a new folder (inventory --snapshot SNAP)."""
    bodies: dict[str, Any] = {}
    try:
        bodies["version.json"], _ = api._get("/api/version")
        for name, path in (
            ("http-routers.json", "/api/http/routers"),
            ("http-middlewares.json", "/api/http/middlewares"),
        ):
            items: list[Any] = []
            page = "1"
            for _ in range(100):  # bounded: 100 pages of 100
                data, nxt = api._get(f"{path}?per_page=100&page={page}")
                items += data if isinstance(data, list) else []
                if not nxt or not nxt.isdigit() or int(nxt) <= int(page):
                    break
                page = nxt
            bodies[name] = items
    except TraefikError as exc:
        raise MigrateError(f"cannot take the snapshot: {exc}") from exc
    folder.mkdir(parents=True, exist_ok=False, mode=0o755)
    for name in SNAPSHOT_FILES:
        write_new_exclusive(
            folder / name, (json.dumps(bodies[name], indent=2) + "\n").encode(), 0o644
        )
