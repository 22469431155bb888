"""``apply``: the journaled step engine.

apply: (the caller holds the lock) decide from the last run's state -> refuse a stale plan ->
start a run or resume this plan's unfinished one -> journal ``apply-started`` -> for each
step not done: record the containers that run (once, before the first step that stops or
starts one), journal "start" with the precheck facts (first time) or "restart", act, verify,
journal "done" -> ``applied``. A failure journals "failed" and ``apply-failed``, then rolls
the run back (rollback.py). The state table is runstate.py's.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

from . import containers as C
from .console import emit, is_terminal, say, step
from .context import Context
from .coverage import stale
from .exitcodes import BACKUP_FAILED, ROLLBACK_FAILED, ROLLED_BACK, STALE_PLAN, MigrateError
from .fsops import sha256_file
from .journal import Journal, latest_run, new_run
from .rollback import rollback
from .runner import CommandError
from .runstate import APPLIED, APPLY_FAILED, APPLYING, PLANNED, ROLLBACK_INCOMPLETE, ROLLING_BACK
from .steps import Run, StepFailed, crash_hook, make_step
from .traefik import TraefikError, major_version

CMD = "odoo-router-migrate"


def check_fresh(ctx: Context, plan: dict[str, Any], j: Journal | None) -> None:
    """Refuse a plan whose covered files changed since planning (coverage.py: the same set
    the backup copies), whose staged files differ from it, or whose Traefik major changed."""
    changed = stale(ctx.layout, plan)
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


def decide(ctx: Context, plan: dict[str, Any]) -> tuple[str, Journal | None]:
    """("new", None), ("resume", run) or ("applied", run): what ``apply`` of ``plan`` does
    given the last run's state; raises, saying what to run instead, when it must not act."""
    j = latest_run(ctx.layout)
    if j is None:
        return "new", None
    rs = j.state
    same = j.header.get("plan_id") == plan["plan_id"]
    why = "; ".join(rs.errors)
    if rs.state == ROLLING_BACK:
        raise MigrateError(
            f"the rollback of run {j.run_id} did not finish (state rolling-back): "
            f"run `{CMD} rollback` to finish it before applying again",
            ROLLBACK_FAILED,
        )
    if rs.state == ROLLBACK_INCOMPLETE:
        raise MigrateError(
            f"run {j.run_id} is not completely rolled back (rollback-incomplete: {why}): "
            f"fix that and run `{CMD} rollback` again before applying",
            ROLLBACK_FAILED,
        )
    if rs.state == APPLY_FAILED:
        raise MigrateError(
            f"run {j.run_id} failed ({why}) and was not rolled back (state apply-failed): "
            f"run `{CMD} rollback` first",
            ROLLBACK_FAILED,
        )
    if rs.state == APPLIED:
        return ("applied", j) if same else ("new", None)
    if rs.state in (PLANNED, APPLYING, None):
        if same:
            return "resume", j
        raise MigrateError(
            f"run {j.run_id} of another plan ({j.header.get('plan_id')}) is unfinished "
            f"(state {rs.state}): `{CMD} rollback` it first",
            STALE_PLAN,
        )
    return "new", None  # rolled back: a new run


def apply(ctx: Context, plan: dict[str, Any]) -> Journal:
    """Run (or resume) the plan; the caller holds the lock."""
    decision, j = decide(ctx, plan)
    if decision == "applied" and j is not None:
        return j
    check_fresh(ctx, plan, j)
    if j is None:
        j = new_run(ctx.layout, plan["plan_id"])
    else:
        say(f"resuming run {j.run_id}")
    j.append("apply-started", pid=os.getpid())
    run = Run(ctx, j, j.plan())  # the run's own copy: a later plan changes nothing here
    specs = run.plan["steps"]
    for n, spec in enumerate(specs, start=1):
        s = make_step(spec)
        if j.step_state(s.id) == "done":
            continue
        try:
            if s.touches_containers and j.last("containers-before") is None:
                j.append("containers-before", projects=C.take_snapshot(ctx, j, run.plan))
            if j.start_data(s.id) is None:
                j.append("start", s.id, pre=s.precheck(run))
            else:
                j.append("restart", s.id)
            step(f"[{n}/{len(specs)}] {s.id}: {spec.get('title', '')}")
            crash_hook(ctx, f"{s.id}:before")
            result = s.act(run)
            crash_hook(ctx, f"{s.id}:after")
            s.verify(run)
        except (StepFailed, CommandError, OSError, MigrateError) as exc:
            _fail(ctx, j, s.id, exc)
        j.append("done", s.id, **result)
    j.append("applied")
    return j


def _fail(ctx: Context, j: Journal, sid: str, exc: Exception) -> NoReturn:
    j.append("failed", sid, error=str(exc))
    j.append("apply-failed", at=sid, error=str(exc))
    crash_hook(ctx, f"{sid}:failed")
    emit(f"step {sid} failed: {exc}", "error")
    say("rolling back")
    try:
        rollback(ctx, j)
    except MigrateError as incomplete:
        raise MigrateError(f"step {sid} failed: {exc}\n{incomplete}", incomplete.code) from exc
    # A failed backup keeps its own exit code: the folder is there to inspect.
    code = exc.code if isinstance(exc, MigrateError) and exc.code == BACKUP_FAILED else ROLLED_BACK
    raise MigrateError(f"step {sid} failed and the run was rolled back: {exc}", code) from exc


def password_notice(ctx: Context, j: Journal) -> None:
    """Where the master password of the new confs is, and how to read it. A generated one
    is shown once, here, only when both outputs are a terminal: never in a log."""
    path = ctx.layout.secrets_file
    try:
        secret = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return
    applied = any(
        str(secret.get("admin_passwd_hash", "\0")).encode() in p.read_bytes()
        for p in j.staging.iterdir()
    )
    if not applied:
        emit(f"{path} does not hold the master password this run applied", "warning")
        return
    os.chmod(path, 0o600)
    if secret.get("generated") and is_terminal(sys.stdout) and is_terminal(sys.stderr):
        emit(f"master password (admin_passwd) of the new Odoo confs: {secret['admin_passwd']}")
        emit("  (shown once; only its hash is in the confs)")
    read = (
        "python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"admin_passwd\"])' "
        + str(path)
    )
    say(f"the master password is stored in {path} (mode 0600); to read it: {read}")
