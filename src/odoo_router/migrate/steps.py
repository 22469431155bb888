"""What each step kind does: precheck (facts recorded at the first start), act, verify and
undo. Every act is idempotent, so a resumed step simply runs again."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from .backup import run_backup
from .context import Context
from .fsops import remove_file, sha256_bytes, sha256_file, write_file, write_new_exclusive
from .inventory import gather
from .journal import Journal
from .verify import format_checks, run_checks, wait_healthy


class StepFailed(Exception):
    pass


def crash_hook(ctx: Context, step: str, phase: str) -> None:
    """Tests: die like a power cut at ``step:phase`` (SIGKILL: no cleanup, no finally)."""
    if ctx.crash_at == f"{step}:{phase}":
        os.kill(os.getpid(), signal.SIGKILL)


def _file(ctx: Context, plan: dict[str, Any], role: str) -> tuple[Path, dict[str, Any]]:
    for f in plan["files"]:
        if f["role"] == role:
            return ctx.layout.root / f["path"].lstrip("/"), f
    raise StepFailed(f"the plan has no file {role}")


def _project(ctx: Context, plan: dict[str, Any], target: str) -> tuple[Path, Path, str]:
    """(directory, compose file, compose project name: the one the running stack has)."""
    c = (plan.get("compose") or {})[target]
    d, f = ctx.layout.path(c["dir"]), ctx.layout.path(c["file"])
    return d, f, str((plan.get("projects") or {}).get(target) or d.name)


def _watched(ctx: Context, plan: dict[str, Any]) -> Path | None:
    """Traefik's directory: temp files go next to it, never in it."""
    watched = plan.get("watched") or []
    return ctx.layout.path(watched[0]) if watched else None


# --------------------------------------------------------------------------- write


def write_precheck(ctx: Context, j: Journal, plan: dict[str, Any], role: str) -> dict[str, Any]:
    path, _ = _file(ctx, plan, role)
    saved = j.originals() / role
    if path.exists():
        if not saved.exists():
            write_new_exclusive(saved, path.read_bytes())
        return {"existed": True, "sha256": sha256_file(path), "mode": path.stat().st_mode & 0o7777}
    created = []
    parent = path.parent
    while not parent.exists():
        created.append(str(parent))
        parent = parent.parent
    return {"existed": False, "created_dirs": created}


def write_act(ctx: Context, j: Journal, plan: dict[str, Any], role: str) -> None:
    path, f = _file(ctx, plan, role)
    if sha256_file(path) == f["new_sha256"]:
        return
    data = (j.staging / role).read_bytes()
    if sha256_bytes(data) != f["new_sha256"]:
        raise StepFailed(f"staged {role} differs from the plan: run plan again")
    existed = path.exists()
    write_file(path, data, in_place=f["write"] == "in-place", watched_dir=_watched(ctx, plan))
    like = ctx.layout.root / f["like"].lstrip("/") if f.get("like") else None
    if not existed and like is not None and like.exists():
        # The Odoo container reads odoo.conf as it is: the new confs get the same access.
        st = like.stat()
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, st.st_mode & 0o7777)


def write_verify(ctx: Context, plan: dict[str, Any], role: str) -> None:
    path, f = _file(ctx, plan, role)
    if sha256_file(path) != f["new_sha256"]:
        raise StepFailed(f"{path} does not hold the planned content after writing")


def _keep_displaced(j: Journal, path: Path, role: str, known: tuple[str, str]) -> None:
    """A file edited by hand after the run wrote it is kept in the run folder before the
    rollback overwrites it: rollback restores, it never silently discards someone's work."""
    now = sha256_file(path)
    if now is None or now in known:
        return
    keep = j.run_dir / "displaced" / f"{role}.{now[:12]}"
    keep.parent.mkdir(exist_ok=True, mode=0o700)
    if not keep.exists():
        write_new_exclusive(keep, path.read_bytes())


def write_undo(
    ctx: Context, j: Journal, plan: dict[str, Any], role: str, pre: dict[str, Any]
) -> None:
    path, f = _file(ctx, plan, role)
    if not pre.get("existed"):
        _keep_displaced(j, path, role, ("", f["new_sha256"]))
        remove_file(path)
        for d in pre.get("created_dirs", []):
            with contextlib.suppress(OSError):  # not empty: someone else's files
                Path(d).rmdir()
        return
    data = (j.originals() / role).read_bytes()
    if sha256_bytes(data) != pre["sha256"]:
        raise StepFailed(f"the saved original of {path} is damaged")
    _keep_displaced(j, path, role, (pre["sha256"], f["new_sha256"]))
    if sha256_file(path) != pre["sha256"]:
        write_file(path, data, in_place=f["write"] == "in-place", watched_dir=_watched(ctx, plan))
    os.chmod(path, pre["mode"])
    if sha256_file(path) != pre["sha256"]:
        raise StepFailed(f"{path} could not be restored")


# --------------------------------------------------------------------------- compose


def down_precheck(ctx: Context, plan: dict[str, Any], target: str) -> dict[str, Any]:
    running = []
    for name in ctx.docker.project_containers(_project(ctx, plan, target)[2]):
        st = ctx.docker.state(name)
        if st is not None and st[0] == "running":
            running.append(name)
    return {"running": running}


def down_act(ctx: Context, plan: dict[str, Any], target: str) -> None:
    ctx.docker.compose_down(*_project(ctx, plan, target))


def down_verify(ctx: Context, plan: dict[str, Any], target: str) -> None:
    left = ctx.docker.project_containers(_project(ctx, plan, target)[2])
    if left:
        raise StepFailed(f"still there after compose down: {', '.join(left)}")


def down_undo(ctx: Context, plan: dict[str, Any], target: str, pre: dict[str, Any]) -> None:
    if not pre.get("running"):
        return  # it was not running before the run: leave it down
    ctx.docker.compose_up(*_project(ctx, plan, target))
    for name in pre["running"]:
        st = wait_healthy(ctx, name, ctx.health_timeout, need_healthy=False)
        if st is None or st[0] != "running":
            raise StepFailed(f"{name} did not come back: {st}")


def up_act(ctx: Context, plan: dict[str, Any], target: str) -> None:
    ctx.docker.compose_up(*_project(ctx, plan, target))


def up_verify(ctx: Context, plan: dict[str, Any], target: str) -> None:
    expect = plan["verify"]
    names = expect["odoo_containers"] if target == "odoo" else [expect["router_container"]]
    if target == "odoo" and "router" not in (plan.get("compose") or {}):
        names = [*names, expect["router_container"]]  # the router lives in Odoo's project
    for name in names:
        st = wait_healthy(ctx, name, ctx.health_timeout, need_healthy=target != "odoo")
        if st is None or st[0] != "running" or st[1] == "unhealthy":
            raise StepFailed(f"{name} is not up: {st}")


def up_undo(ctx: Context, plan: dict[str, Any], target: str) -> None:
    ctx.docker.compose_down(*_project(ctx, plan, target))  # --remove-orphans: nothing new stays


# --------------------------------------------------------------------------- others


def backup_act(ctx: Context, plan: dict[str, Any]) -> dict[str, Any]:
    inv = gather(ctx.layout, ctx.docker, ctx.pg, None, plan["traefik_version"])
    # What the plan found (with the operator's inputs): rediscovery has no inputs file.
    b = plan.get("backup") or {}
    inv.odoo_container = b.get("odoo_container") or inv.odoo_container
    inv.data_volume = b.get("data_volume") or inv.data_volume
    inv.data_bind = b.get("data_bind") or inv.data_bind
    inv.odoo_image = inv.odoo_image or b.get("odoo_image")
    touched = [ctx.layout.root / f["path"].lstrip("/") for f in plan["files"]]
    folder = run_backup(ctx, inv, touched)
    return {"folder": str(folder)}


def verify_act(ctx: Context, plan: dict[str, Any], since: str | None) -> None:
    """F0-F5 until they all pass or ``verify_timeout`` runs out: Odoo takes a while to
    answer after a start and Traefik applies its files a moment after they change."""
    deadline = time.monotonic() + ctx.verify_timeout
    while True:
        failed = [c for c in run_checks(ctx, plan["verify"], since) if not c.ok]
        if not failed:
            return
        if time.monotonic() >= deadline:
            raise StepFailed("verification failed:\n" + format_checks(failed))
        time.sleep(min(3.0, max(0.0, deadline - time.monotonic())))
