"""The run state machine, the journal, status and apply's decisions, without servers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.apply import decide
from odoo_router.migrate.context import Context
from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.exitcodes import MigrateError
from odoo_router.migrate.journal import Journal, hold_lock, latest_run, lock_holder, new_run
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.runstate import (
    STATES,
    TRANSITIONS,
    JournalError,
    derive,
    next_action,
)
from odoo_router.migrate.status import format_status, status

from .test_units import Recorder

# Every state and the events that reach it from a fresh run, in order.
PATHS = {
    "planned": ["run"],
    "applying": ["run", "apply-started"],
    "applied": ["run", "apply-started", "applied"],
    "apply-failed": ["run", "apply-started", "apply-failed"],
    "rolling-back": ["run", "apply-started", "apply-failed", "rollback-started"],
    "rolled-back": ["run", "apply-started", "apply-failed", "rollback-started", "rolled-back"],
    "rollback-incomplete": ["run", "apply-started", "rollback-started", "rollback-incomplete"],
}


def _ctx(root: Path) -> Context:
    rec = Recorder()
    return Context(Layout.make(root), rec, Docker(rec), Pg(rec), None)


def _run_with(root: Path, events: list[str], plan_id: str = "p1") -> Journal:
    """A run folder as new_run makes it, then ``events`` (after "run") appended."""
    layout = Layout.make(root)
    layout.staging.mkdir(parents=True, exist_ok=True)
    steps = [{"id": "backup", "kind": "backup"}, {"id": "stop-odoo", "kind": "compose-down"}]
    layout.plan_file.write_text(json.dumps({"plan_id": plan_id, "steps": steps, "files": []}))
    j = new_run(layout, plan_id)
    for e in events[1:]:
        j.append(e, **({"at": "stop-odoo", "error": "boom"} if e == "apply-failed" else {}))
    return j


def test_every_state_is_reachable_and_the_table_is_closed() -> None:
    reached = {derive({"event": e} for e in path).state for path in PATHS.values()}
    assert reached == set(STATES)
    assert set(TRANSITIONS.values()) <= set(STATES)
    for (before, _event), after in TRANSITIONS.items():
        assert before is None or before in STATES, before
        assert after in STATES


@pytest.mark.parametrize(
    ("path", "event"),
    [
        (PATHS["rolled-back"], "apply-started"),  # final: a new apply is a new run
        (PATHS["rollback-incomplete"], "apply-started"),
        (PATHS["rolling-back"], "apply-started"),
        (PATHS["apply-failed"], "apply-started"),
        (PATHS["applied"], "apply-started"),
        (PATHS["applied"], "applied"),
        (PATHS["planned"], "rolled-back"),
        ([], "apply-started"),
    ],
)
def test_a_transition_outside_the_table_is_refused_when_written(
    tmp_path: Path, path: list[str], event: str
) -> None:
    j = Journal(tmp_path)
    for e in path:
        j.append(e)
    before = j.path.read_bytes() if j.path.exists() else b""
    with pytest.raises(JournalError, match=f"event '{event}' is not allowed"):
        j.append(event)
    assert (j.path.read_bytes() if j.path.exists() else b"") == before  # nothing written


def test_the_state_is_read_back_from_the_journal_alone(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append("run", plan_id="abc")
    j.append("apply-started")
    j.append("start", "backup", pre={})
    j.append("done", "backup", folder="/x")
    j.append("start", "stop-odoo", pre={"running": ["odoo18-prod-web"]})
    with j.path.open("a") as fh:
        fh.write('{"event": "do')  # the kill came mid-write
    again = Journal(tmp_path)  # a new process reads it
    rs = again.state
    assert rs.state == "applying"
    assert rs.steps == {"backup": "done", "stop-odoo": "started"}
    assert rs.last_step is not None and rs.last_step["step"] == "stop-odoo"
    assert again.start_data("stop-odoo")["pre"] == {"running": ["odoo18-prod-web"]}
    assert again.header["plan_id"] == "abc"
    # an edited journal is reported, not guessed at
    with j.path.open("a") as fh:
        fh.write('\n{"event": "rolled-back", "time": "x"}\n')
    with pytest.raises(JournalError, match=r"journal\.jsonl: event 6: event 'rolled-back'"):
        Journal(tmp_path).state  # noqa: B018


def test_runs_are_numbered_and_appear_whole(tmp_path: Path) -> None:
    layout = Layout.make(tmp_path)
    first = _run_with(tmp_path, PATHS["rolled-back"], "aaaaaaaa11")
    (layout.runs / ".new-999").mkdir()  # a creation killed half way
    second = _run_with(tmp_path, PATHS["applying"], "00000000ff")
    assert first.run_id.startswith("0001-") and second.run_id.startswith("0002-")
    assert second.run_id.endswith("-00000000")
    latest = latest_run(layout)
    assert latest is not None and latest.run_id == second.run_id
    assert [p.name for p in layout.runs.iterdir() if p.name.startswith(".")] == []
    assert (second.run_dir / "plan.json").exists() and (second.run_dir / "staging").is_dir()


def test_the_lock_says_who_holds_it(tmp_path: Path) -> None:
    layout = Layout.make(tmp_path)
    assert lock_holder(layout) is None
    with hold_lock(layout, "rollback"):
        assert lock_holder(layout) == f"{os.getpid()} rollback"
    assert lock_holder(layout) is None


@pytest.mark.parametrize("state", sorted(PATHS))
def test_apply_decides_from_the_state(tmp_path: Path, state: str) -> None:
    j = _run_with(tmp_path, PATHS[state])
    ctx = _ctx(tmp_path)
    plan = {"plan_id": "p1"}
    if state in ("rolling-back", "rollback-incomplete", "apply-failed"):
        with pytest.raises(MigrateError) as exc:
            decide(ctx, plan)
        assert exc.value.code == X.ROLLBACK_FAILED
        assert "odoo-router-migrate rollback" in str(exc.value) and state in str(exc.value)
        return
    decision, run = decide(ctx, plan)
    want = {"planned": "resume", "applying": "resume", "applied": "applied", "rolled-back": "new"}
    assert decision == want[state]
    if decision == "new":
        assert run is None
    else:
        assert run is not None and run.run_id == j.run_id
    if state in ("planned", "applying"):  # another plan cannot start over an unfinished run
        with pytest.raises(MigrateError) as exc:
            decide(ctx, {"plan_id": "p2"})
        assert exc.value.code == X.STALE_PLAN and "rollback" in str(exc.value)


def test_status_tells_the_state_what_runs_and_what_next(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert status(ctx)["state"] is None
    assert "`odoo-router-migrate plan`" in status(ctx)["next"]
    _run_with(tmp_path, PATHS["applying"])
    Journal(latest_run(ctx.layout).run_dir).append("start", "stop-odoo", pre={})
    s = status(ctx)
    assert (s["state"], s["interrupted"], s["running"]) == ("applying", True, None)
    assert s["last_step"]["step"] == "stop-odoo" and s["steps"]["stop-odoo"] == "started"
    text = format_status(s)
    assert "state:     applying (interrupted" in text
    assert "last step: stop-odoo: started, not finished" in text
    assert "apply` to resume" in text and "running:   nothing" in text
    with hold_lock(ctx.layout, "apply"):
        s = status(ctx)
        assert not s["interrupted"] and s["running"] == f"{os.getpid()} apply"
        assert s["next"].startswith("wait")
    j = latest_run(ctx.layout)
    assert j is not None
    j.append("apply-failed", at="stop-odoo", error="compose down: exit 1\nsecond line")
    s = status(ctx)
    assert s["state"] == "apply-failed" and s["errors"] == [
        "stop-odoo: compose down: exit 1\nsecond line"
    ]
    text = format_status(s)
    assert "error:     stop-odoo: compose down: exit 1\nerror:     second line\n" in text


def test_next_action_names_a_command_for_every_state() -> None:
    for state in (None, *STATES):
        text = next_action(state, False, True)
        assert "odoo-router-migrate" in text, state
