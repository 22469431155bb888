"""The step kinds, one class each behind the ``Step`` protocol; the plan's steps are data
(id, kind, target) and ``make_step`` gives each its behaviour.

A step is: ``precheck`` (facts recorded in its "start" event, once), ``act`` (idempotent: a
resumed step simply acts again), ``verify`` (the act's effect holds), ``undo`` (idempotent,
from the recorded facts: a killed rollback runs every undo again). ``undo_phase`` orders a
rollback: the files come back first (0), then the containers the run created go (1), then
the networks and volumes it created, and the containers that ran before apply start again
from the restored files (2); within a
phase, the last step first. None: nothing to undo (a backup is kept, verify changes nothing).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from . import containers as C
from .backup import run_backup, with_plan
from .console import warn
from .context import Context
from .coverage import covered
from .fsops import (
    remove_file,
    sha256_bytes,
    sha256_file,
    write_atomic,
    write_file,
    write_new_exclusive,
)
from .inventory import gather
from .journal import Journal
from .verify import format_checks, run_checks, wait_healthy

StepFailed = C.StepFailed


def crash_hook(ctx: Context, point: str) -> None:
    """Tests: die like a power cut at ``point`` (SIGKILL: no cleanup, no finally)."""
    if ctx.crash_at == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Run:
    """What a step works on: the context, the run's journal and its own copy of the plan."""

    ctx: Context
    journal: Journal
    plan: dict[str, Any]

    def file(self, role: str) -> tuple[Path, dict[str, Any]]:
        for f in self.plan["files"]:
            if f["role"] == role:
                return self.ctx.layout.root / f["path"].lstrip("/"), f
        raise StepFailed(f"the plan has no file {role}")

    def project(self, target: str) -> C.Project:
        return C.projects(self.ctx, self.plan)[target]

    def snapshot(self, target: str) -> dict[str, Any]:
        snap = C.snapshot(self.journal, target)
        if snap is None:
            raise StepFailed("the run has no record of the containers that ran before it")
        return snap


def watched_dir(ctx: Context, plan: dict[str, Any]) -> Path | None:
    """Traefik's directory: temp files go next to it, never in it."""
    watched = plan.get("watched") or []
    return ctx.layout.path(watched[0]) if watched else None


class Step(Protocol):
    id: str
    target: str  # a file's role, a stack, or ""
    undo_phase: ClassVar[int | None]
    touches_containers: ClassVar[bool]  # the pre-apply containers are recorded before it

    def precheck(self, run: Run) -> dict[str, Any]: ...
    def act(self, run: Run) -> dict[str, Any]: ...
    def verify(self, run: Run) -> None: ...
    def undo(self, run: Run, pre: dict[str, Any]) -> None: ...


@dataclass
class Backup:
    """Databases, the data volume, docker state and every covered file (coverage.py)."""

    id: str
    target: str = ""
    undo_phase: ClassVar[int | None] = None
    touches_containers: ClassVar[bool] = False

    def precheck(self, run: Run) -> dict[str, Any]:
        return {}

    def act(self, run: Run) -> dict[str, Any]:
        ctx = run.ctx
        inv = gather(ctx.layout, ctx.docker, ctx.pg, None, run.plan["traefik_version"])
        with_plan(inv, run.plan)
        folder = run_backup(ctx, inv, covered(ctx.layout, run.plan))
        return {"folder": str(folder)}

    def verify(self, run: Run) -> None:
        pass  # run_backup checks every piece as it goes and writes the manifest last

    def undo(self, run: Run, pre: dict[str, Any]) -> None:
        pass  # never called (undo_phase None): backups are kept


@dataclass
class WriteFile:
    """Write one staged file; undo brings the original bytes and mode back (or removes a
    new file and the directories made for it)."""

    id: str
    target: str  # the file's role in the plan
    undo_phase: ClassVar[int | None] = 0
    touches_containers: ClassVar[bool] = False

    def precheck(self, run: Run) -> dict[str, Any]:
        path, _ = run.file(self.target)
        saved = run.journal.originals() / self.target
        if path.exists():
            # No "start" yet, so the step never acted: this is the original. Replaced whole,
            # never kept half written by a kill during an earlier precheck.
            write_atomic(saved, path.read_bytes(), mode=0o600)
            mode = path.stat().st_mode & 0o7777
            return {"existed": True, "sha256": sha256_file(path), "mode": mode}
        created = []
        parent = path.parent
        while not parent.exists():
            created.append(str(parent))
            parent = parent.parent
        return {"existed": False, "created_dirs": created}

    def act(self, run: Run) -> dict[str, Any]:
        ctx = run.ctx
        path, f = run.file(self.target)
        if sha256_file(path) == f["new_sha256"]:
            return {}
        data = (run.journal.staging / self.target).read_bytes()
        if sha256_bytes(data) != f["new_sha256"]:
            raise StepFailed(f"staged {self.target} differs from the plan: run plan again")
        existed = path.exists()
        watched = watched_dir(ctx, run.plan)
        write_file(path, data, in_place=f["write"] == "in-place", watched_dir=watched)
        like = ctx.layout.root / f["like"].lstrip("/") if f.get("like") else None
        if not existed and like is not None and like.exists():
            # The Odoo container reads odoo.conf as it is: the new confs get the same access.
            st = like.stat()
            os.chown(path, st.st_uid, st.st_gid)
            os.chmod(path, st.st_mode & 0o7777)
        return {}

    def verify(self, run: Run) -> None:
        path, f = run.file(self.target)
        if sha256_file(path) != f["new_sha256"]:
            raise StepFailed(f"{path} does not hold the planned content after writing")

    def _keep_displaced(self, run: Run, path: Path, known: tuple[str, str]) -> None:
        """A file edited by hand after the run wrote it is kept in the run folder before the
        rollback overwrites it: rollback restores, it never silently discards work."""
        now = sha256_file(path)
        if now is None or now in known:
            return
        keep = run.journal.run_dir / "displaced" / f"{self.target}.{now[:12]}"
        keep.parent.mkdir(exist_ok=True, mode=0o700)
        if not keep.exists():
            write_new_exclusive(keep, path.read_bytes())

    def undo(self, run: Run, pre: dict[str, Any]) -> None:
        path, f = run.file(self.target)
        watched = watched_dir(run.ctx, run.plan)
        if not pre.get("existed"):
            self._keep_displaced(run, path, ("", f["new_sha256"]))
            remove_file(path)
            for d in pre.get("created_dirs", []):
                with contextlib.suppress(OSError):  # not empty: someone else's files
                    Path(d).rmdir()
            return
        data = (run.journal.originals() / self.target).read_bytes()
        if sha256_bytes(data) != pre["sha256"]:
            raise StepFailed(f"the saved original of {path} is damaged")
        self._keep_displaced(run, path, (pre["sha256"], f["new_sha256"]))
        if sha256_file(path) != pre["sha256"]:
            write_file(path, data, in_place=f["write"] == "in-place", watched_dir=watched)
        os.chmod(path, pre["mode"])
        if sha256_file(path) != pre["sha256"]:
            raise StepFailed(f"{path} could not be restored")


@dataclass
class StopStack:
    """``compose down`` of a stack's old file; undo removes the networks and volumes the run
    made for the project and starts what ran before from the old file again."""

    id: str
    target: str
    undo_phase: ClassVar[int | None] = 2
    touches_containers: ClassVar[bool] = True

    def precheck(self, run: Run) -> dict[str, Any]:
        return {"running": [c["name"] for c in C.ran_before(run.snapshot(self.target))]}

    def act(self, run: Run) -> dict[str, Any]:
        p, snap = run.project(self.target), run.snapshot(self.target)
        if snap["compose_sha256"] is None:
            return {}  # no such stack: nothing runs from it
        if sha256_file(p.compose_file) != snap["compose_sha256"]:
            raise StepFailed(f"{p.compose_file} changed since the run recorded it")
        run.ctx.docker.compose_down(p.directory, p.compose_file, p.name)
        return {}

    def verify(self, run: Run) -> None:
        p, snap = run.project(self.target), run.snapshot(self.target)
        stopped = set(snap["services"])
        left = [c.name for c in run.ctx.docker.containers(p.name) if c.service in stopped]
        if left:
            raise StepFailed(f"still there after compose down: {', '.join(left)}")

    def undo(self, run: Run, pre: dict[str, Any]) -> None:
        p, snap = run.project(self.target), run.snapshot(self.target)
        # Phase 1 removed every container the run made, in every project: the networks and
        # volumes compose made for them are free to go now, before the old set comes back.
        errors = C.remove_created_resources(run.ctx, p, snap)
        for name in C.kept_volumes(run.ctx, p, snap):
            warn(
                f"volume {name} was created by the run for {p.name} and is kept: it may hold "
                "what the new services wrote since apply, which no backup has; once nothing "
                f"in it is needed: docker volume rm {name}"
            )
        C.start_before_set(run.ctx, p, snap)
        if errors:
            raise StepFailed("could not remove what the run created: " + "; ".join(errors))


@dataclass
class StartStack:
    """``compose up`` of a stack's new file: its new services and those that ran before
    (never one the operator had stopped); no registry pull in the downtime. Undo removes the
    containers the run created, by id (containers.py), never by ``compose down``."""

    id: str
    target: str
    undo_phase: ClassVar[int | None] = 1
    touches_containers: ClassVar[bool] = True

    def precheck(self, run: Run) -> dict[str, Any]:
        return {}

    def services(self, run: Run) -> list[str]:
        p, snap = run.project(self.target), run.snapshot(self.target)
        new = C.compose_services(p.compose_file.read_bytes())
        ran = set(C.services_that_ran(snap))
        return [s for s in new if s not in snap["services"] or s in ran]

    def act(self, run: Run) -> dict[str, Any]:
        p = run.project(self.target)
        services = self.services(run)
        if services:
            run.ctx.docker.compose_up(p.directory, p.compose_file, p.name, services, pull="never")
        return {"services": services}

    def verify(self, run: Run) -> None:
        ctx, expect = run.ctx, run.plan["verify"]
        odoo = self.target == "odoo"
        names = expect["odoo_containers"] if odoo else [expect["router_container"]]
        if odoo and "router" not in (run.plan.get("compose") or {}):
            names = [*names, expect["router_container"]]  # the router lives in Odoo's project
        for name in names:
            st = wait_healthy(ctx, name, ctx.health_timeout, need_healthy=not odoo)
            if st is None or st[0] != "running" or st[1] == "unhealthy":
                raise StepFailed(f"{name} is not up: {st}")

    def undo(self, run: Run, pre: dict[str, Any]) -> None:
        C.remove_created(run.ctx, run.project(self.target), run.snapshot(self.target))


@dataclass
class VerifyStack:
    """F0-F5 until they all pass or ``verify_timeout`` runs out: Odoo takes a while to
    answer after a start and Traefik applies its files a moment after they change."""

    id: str
    target: str = ""
    undo_phase: ClassVar[int | None] = None
    touches_containers: ClassVar[bool] = False

    def precheck(self, run: Run) -> dict[str, Any]:
        return {}

    def act(self, run: Run) -> dict[str, Any]:
        ctx = run.ctx
        since = run.journal.header.get("time")
        deadline = time.monotonic() + ctx.verify_timeout
        while True:
            failed = [c for c in run_checks(ctx, run.plan["verify"], since) if not c.ok]
            if not failed:
                return {}
            if time.monotonic() >= deadline:
                raise StepFailed("verification failed:\n" + format_checks(failed))
            time.sleep(min(3.0, max(0.0, deadline - time.monotonic())))

    def verify(self, run: Run) -> None:
        pass

    def undo(self, run: Run, pre: dict[str, Any]) -> None:
        pass  # never called (undo_phase None): verify changes nothing


KINDS: dict[str, Callable[[str, str], Step]] = {
    "backup": Backup,
    "write": WriteFile,
    "compose-down": StopStack,
    "compose-up": StartStack,
    "verify": VerifyStack,
}


def make_step(spec: dict[str, Any]) -> Step:
    """The behaviour of one of the plan's steps (``{"id", "kind", "target", ...}``)."""
    kind = spec["kind"]
    if kind not in KINDS:
        raise StepFailed(f"step {spec['id']}: unknown kind {kind!r}")
    return KINDS[kind](spec["id"], spec.get("target", ""))
