"""``apply`` and ``rollback``: the journaled step engine.

apply: lock -> refuse a stale plan -> resume the unfinished run of this plan or start one ->
for each step not done: journal "start" (with the precheck facts, first time only), act,
verify, journal "done". A failure journals "failed" and rolls the run back.
rollback: every started step in reverse order, each undo idempotent; files come back byte
for byte from the run's saved originals; new containers go with --remove-orphans; the
databases are restored from the backup only when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import steps as S
from .backup import check_manifest
from .console import say, track
from .context import Context
from .exitcodes import BACKUP_FAILED, ROLLBACK_FAILED, ROLLED_BACK, STALE_PLAN, MigrateError
from .fsops import sha256_file
from .journal import Journal, close_run, current_run, new_run
from .runner import CommandError
from .traefik import TraefikError, major_version


def check_fresh(ctx: Context, plan: dict[str, Any], j: Journal | None) -> None:
    """Refuse a plan whose inputs changed since planning. A file may also hold its planned
    output (this run, or an earlier identical one, wrote it)."""
    planned = {f["path"]: f["new_sha256"] for f in plan["files"]}
    changed = []
    for rel, sha in plan["inputs"].items():
        now = sha256_file(ctx.layout.root / rel.lstrip("/"))
        if now != sha and now != planned.get(rel):
            changed.append(rel)
    if changed:
        raise MigrateError(
            "stale plan: changed since planning: " + ", ".join(changed) + "; run plan again",
            STALE_PLAN,
        )
    staging = ctx.layout.staging if j is None else j.staging
    for f in plan["files"]:
        staged = staging / f["role"]
        if sha256_file(staged) != f["new_sha256"]:
            raise MigrateError(
                f"staged file {staged} does not match the plan; run plan again", STALE_PLAN
            )
    if ctx.traefik is not None and ctx.traefik_version is None and j is None:
        try:
            version = ctx.traefik.version()
        except TraefikError as exc:
            raise MigrateError(f"cannot re-check the Traefik version: {exc}", STALE_PLAN) from exc
        if major_version(version) != major_version(plan["traefik_version"] or ""):
            raise MigrateError(
                f"Traefik is now {version}, the plan was rendered for {plan['traefik_version']}",
                STALE_PLAN,
            )


def _precheck(
    ctx: Context, j: Journal, plan: dict[str, Any], step: dict[str, Any]
) -> dict[str, Any]:
    kind, target = step["kind"], step["target"]
    if kind == "write":
        return S.write_precheck(ctx, j, plan, target)
    if kind == "compose-down":
        return S.down_precheck(ctx, plan, target)
    return {}


def _act(ctx: Context, j: Journal, plan: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    kind, target = step["kind"], step["target"]
    if kind == "backup":
        result = S.backup_act(ctx, plan)
        S.crash_hook(ctx, step["id"], "after")
        return result
    if kind == "write":
        S.write_act(ctx, j, plan, target)
        S.crash_hook(ctx, step["id"], "after")
        S.write_verify(ctx, plan, target)
    elif kind == "compose-down":
        S.down_act(ctx, plan, target)
        S.crash_hook(ctx, step["id"], "after")
        S.down_verify(ctx, plan, target)
    elif kind == "compose-up":
        S.up_act(ctx, plan, target)
        S.crash_hook(ctx, step["id"], "after")
        S.up_verify(ctx, plan, target)
    elif kind == "verify":
        since = (j.header or {}).get("time")
        S.verify_act(ctx, plan, since)
    return {}


def apply(ctx: Context, plan: dict[str, Any]) -> Journal:
    """Run (or resume) the plan; the caller holds the lock."""
    j = current_run(ctx.layout)
    if j is not None and j.outcome == "rollback-incomplete":
        raise MigrateError(
            f"run {j.run_id} was not completely rolled back: run rollback again first",
            ROLLBACK_FAILED,
        )
    if j is not None and j.header.get("plan_id") != plan["plan_id"]:
        raise MigrateError(
            f"run {j.run_id} of another plan ({j.header.get('plan_id')}) is unfinished: "
            "roll it back first",
            STALE_PLAN,
        )
    check_fresh(ctx, plan, j)
    if j is None:
        j = new_run(ctx.layout, plan["plan_id"])
    else:
        say(f"resuming run {j.run_id}")
    for step in track(plan["steps"], "apply", total=len(plan["steps"])):
        sid = step["id"]
        if j.step_state(sid) == "done":
            continue
        if j.start_data(sid) is None:
            j.append("start", sid, pre=_precheck(ctx, j, plan, step))
        else:
            j.append("restart", sid)
        say(f"-> {sid}: {step['title']}")
        S.crash_hook(ctx, sid, "before")
        try:
            result = _act(ctx, j, plan, step)
        except (S.StepFailed, CommandError, OSError, MigrateError) as exc:
            j.append("failed", sid, error=str(exc))
            say(f"step {sid} failed: {exc}")
            say("rolling back")
            rollback(ctx, plan, j)
            # A failed backup keeps its own exit code: the folder is there to inspect.
            code = (
                exc.code
                if isinstance(exc, MigrateError) and exc.code == BACKUP_FAILED
                else ROLLED_BACK
            )
            raise MigrateError(
                f"step {sid} failed and the run was rolled back: {exc}", code
            ) from exc
        j.append("done", sid, **result)
    j.append("finished")
    close_run(ctx.layout)
    return j


def _undo(
    ctx: Context, j: Journal, plan: dict[str, Any], step: dict[str, Any], pre: dict[str, Any]
) -> None:
    kind, target = step["kind"], step["target"]
    if kind == "write":
        S.write_undo(ctx, j, plan, target, pre)
    elif kind == "compose-down":
        S.down_undo(ctx, plan, target, pre)
    elif kind == "compose-up":
        S.up_undo(ctx, plan, target)


def rollback(
    ctx: Context, plan: dict[str, Any], j: Journal, restore_databases: bool = False
) -> None:
    """Undo every started step, last first. Raises MigrateError(ROLLBACK_FAILED) when an undo
    fails (the others are still tried: a half rollback is worse than a best effort)."""
    errors: list[str] = []

    def databases() -> None:
        # While no Odoo runs: after the new containers went, before the old ones come back.
        if restore_databases and not errors and j.last("databases-restored") is None:
            problems = restore_dbs(ctx, j)
            errors.extend(problems)
            if not problems:
                j.append("databases-restored")

    for step in reversed(plan["steps"]):
        sid = step["id"]
        start = j.start_data(sid)
        if start is None or j.step_state(sid) == "undone":
            continue
        if step["kind"] == "compose-down" and step["target"] == "odoo":
            databases()
        S.crash_hook(ctx, sid, "undo")
        try:
            _undo(ctx, j, plan, step, start.get("pre") or {})
            j.append("undone", sid)
            say(f"<- {sid} undone")
        except (S.StepFailed, CommandError, OSError) as exc:
            j.append("undo-failed", sid, error=str(exc))
            errors.append(f"{sid}: {exc}")
    databases()  # stop-odoo never ran: Odoo may be up, pg_restore waits for its locks
    if errors:
        j.append("rollback-incomplete", errors=errors)
        raise MigrateError("rollback incomplete:\n  " + "\n  ".join(errors), ROLLBACK_FAILED)
    j.append("rolled-back")
    close_run(ctx.layout)


def restore_dbs(ctx: Context, j: Journal) -> list[str]:
    done = next((e for e in j.events() if e.get("step") == "backup" and e["event"] == "done"), None)
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
