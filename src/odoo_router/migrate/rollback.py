"""``rollback``: back to the tree and the containers that were there before ``apply``.

Journal ``rollback-started`` first, then undo every started step, ordered by the step
kinds' ``undo_phase`` (steps.py): every file restored byte for byte (or removed, with the
directories made for it), then the containers the run created removed by id, then - with
``--restore-databases``, while no Odoo runs - the databases, then the networks and volumes
the run created removed and the containers that ran before apply started again from the
restored files. Each undo is journaled before ("undo")
and after ("undone" / "undo-failed"); a failed undo does not stop the others (a half
rollback is worse than a best effort). Last, a check of the end state: every file as it was,
every container that ran before running, nothing the run created left (containers,
networks, empty volumes: a volume that holds data is kept and named). ``rolled-back`` only
when all of it holds, else ``rollback-incomplete`` (exit 8). Every undo is idempotent, so a
killed or incomplete rollback is simply run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import containers as C
from .backup import check_manifest
from .console import emit, say
from .context import Context
from .exitcodes import ROLLBACK_FAILED, MigrateError
from .fsops import sha256_file
from .journal import Journal
from .runner import CommandError
from .steps import Run, Step, StepFailed, WriteFile, crash_hook, make_step


def rollback_order(plan: dict[str, Any], j: Journal) -> list[tuple[Step, dict[str, Any]]]:
    """The started steps that have something to undo, with their precheck facts, in the
    order a rollback undoes them."""
    started = []
    for index, spec in enumerate(plan["steps"]):
        start = j.start_data(spec["id"])
        step = make_step(spec)
        if start is not None and step.undo_phase is not None:
            started.append((step.undo_phase, -index, step, start.get("pre") or {}))
    started.sort(key=lambda x: (x[0], x[1]))
    return [(s, pre) for _, _, s, pre in started]


def rollback(ctx: Context, j: Journal, restore_databases: bool = False) -> None:
    """Raises MigrateError(ROLLBACK_FAILED) when the end state does not hold."""
    run = Run(ctx, j, j.plan())
    # A re-run finishes what an interrupted rollback was asked to do.
    asked = [e for e in j.events() if e["event"] == "rollback-started"]
    restore_databases = restore_databases or any(e.get("restore_databases") for e in asked)
    j.append("rollback-started", restore_databases=restore_databases)
    crash_hook(ctx, "rollback:started")
    errors: list[str] = []
    databases_tried = False

    def databases() -> None:
        nonlocal databases_tried
        databases_tried = True
        if restore_databases and not errors and j.last("databases-restored") is None:
            problems = restore_dbs(ctx, j)
            errors.extend(problems)
            if not problems:
                j.append("databases-restored")

    for s, pre in rollback_order(run.plan, j):
        if (s.undo_phase or 0) >= 2 and not databases_tried:
            databases()  # the new containers are gone, the old ones not started yet
        j.append("undo", s.id)
        crash_hook(ctx, f"{s.id}:undo")
        try:
            s.undo(run, pre)
            j.append("undone", s.id)
            say(f"<- {s.id} undone")
        except (StepFailed, CommandError, OSError) as exc:
            j.append("undo-failed", s.id, error=str(exc))
            emit(f"undo {s.id}: {exc}", "error")
            errors.append(f"{s.id}: {exc}")
    if not databases_tried:
        databases()  # no Odoo was stopped: pg_restore waits for its locks
    crash_hook(ctx, "rollback:check")
    errors += end_state_problems(run)
    if errors:
        j.append("rollback-incomplete", errors=errors)
        raise MigrateError("rollback incomplete:\n" + "\n".join(errors), ROLLBACK_FAILED)
    j.append("rolled-back")


def end_state_problems(run: Run) -> list[str]:
    """What differs from the state before apply: files, containers that ran, new ones left."""
    out = []
    for s, pre in rollback_order(run.plan, run.journal):
        if isinstance(s, WriteFile):
            path, _ = run.file(s.target)
            want = pre.get("sha256") if pre.get("existed") else None
            if sha256_file(path) != want:
                out.append(f"{run.ctx.layout.rel(path)} is not as it was before apply")
    for target, p in C.projects(run.ctx, run.plan).items():
        snap = C.snapshot(run.journal, target)
        if snap is None:
            continue  # no container was stopped or started
        try:
            out += C.missing(run.ctx, p, snap)
            out += [
                f"{p.name}/{c.service}: {c.name} was created by the run and is still there"
                for c in C.created_by_run(run.ctx, p, snap)
            ]
            out += [
                f"{p.name}: {kind} {name} was created by the run and is still there"
                for kind, name in C.left_by_run(run.ctx, p, snap)
            ]
        except CommandError as exc:
            out.append(f"{p.name}: cannot list its containers: {exc}")
    return out


def restore_dbs(ctx: Context, j: Journal) -> list[str]:
    done = j.last("done", "backup")
    if done is None:
        return ["no completed backup in this run: databases not restored"]
    folder = Path(done["folder"])
    problems = check_manifest(folder)
    if problems:
        return problems
    errors = []
    for dump in sorted((folder / "db").glob("*.dump")):
        try:
            ctx.pg.restore_into(dump, dump.stem, clean=True)
            say(f"restored database {dump.stem}")
        except CommandError as exc:
            errors.append(f"restore {dump.stem}: {exc}")
    return errors
