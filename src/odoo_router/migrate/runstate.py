"""A run's state, derived from its journal alone (pure).

Theory of operation: a run's state changes only through a run event (no ``step`` key) in
its journal, written and fsynced *before* the act it announces (``apply-started`` before the
first act of an apply, ``rollback-started`` before the first undo). Whatever kills the
process, reading the journal back gives the state the tree is in, so ``status`` tells the
truth and ``apply`` refuses what it must. The transitions are this table and nothing else;
an event the table does not allow is refused when written and reported when read.

    (none)              --run-------------->  planned           the run folder exists
    planned, applying   --apply-started---->  applying          an apply (or a resume) acts
    applying            --applied---------->  applied           every step done
    applying            --apply-failed----->  apply-failed      a step failed; rollback next
    all but rolled-back --rollback-started->  rolling-back      a rollback (or a re-run) acts
    rolling-back        --rolled-back------>  rolled-back       the pre-apply state is back
    rolling-back        --rollback-incomplete-> rollback-incomplete   run rollback again

A run that is ``applying`` or ``rolling-back`` while no process holds the lock was killed:
``status`` says "interrupted". ``rolled-back`` is final: the next apply starts a new run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .exitcodes import ERROR, MigrateError

PLANNED = "planned"
APPLYING = "applying"
APPLIED = "applied"
APPLY_FAILED = "apply-failed"
ROLLING_BACK = "rolling-back"
ROLLED_BACK = "rolled-back"
ROLLBACK_INCOMPLETE = "rollback-incomplete"
STATES = (
    PLANNED, APPLYING, APPLIED, APPLY_FAILED, ROLLING_BACK, ROLLED_BACK, ROLLBACK_INCOMPLETE,
)  # fmt: skip

TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "run"): PLANNED,
    (PLANNED, "apply-started"): APPLYING,
    (APPLYING, "apply-started"): APPLYING,
    (APPLYING, "applied"): APPLIED,
    (APPLYING, "apply-failed"): APPLY_FAILED,
    **{
        (s, "rollback-started"): ROLLING_BACK
        for s in (PLANNED, APPLYING, APPLIED, APPLY_FAILED, ROLLING_BACK, ROLLBACK_INCOMPLETE)
    },
    (ROLLING_BACK, "rolled-back"): ROLLED_BACK,
    (ROLLING_BACK, "rollback-incomplete"): ROLLBACK_INCOMPLETE,
}
RUN_EVENTS = frozenset(event for _, event in TRANSITIONS)

# Step events (with a ``step`` key) and what they say about the step.
STEP_STATES = {
    "start": "started",
    "restart": "started",
    "done": "done",
    "failed": "failed",
    "undo": "undoing",
    "undone": "undone",
    "undo-failed": "undo-failed",
}


class JournalError(MigrateError):
    """A journal that the state table cannot read: written by something else, or edited."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ERROR)


def transition(state: str | None, event: str) -> str:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise JournalError(f"event {event!r} is not allowed in state {state or 'none'}") from None


@dataclass
class RunState:
    state: str | None  # None: the journal has no run event yet
    last_step: dict[str, Any] | None = None  # the last step event
    last_run_event: dict[str, Any] | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step id -> its state

    @property
    def errors(self) -> list[str]:
        """Why the run is apply-failed or rollback-incomplete."""
        e = self.last_run_event or {}
        if e.get("event") == "apply-failed":
            return [f"{e.get('at')}: {e.get('error')}"]
        if e.get("event") == "rollback-incomplete":
            return [str(x) for x in e.get("errors") or ()]
        return []


def derive(events: Iterable[dict[str, Any]]) -> RunState:
    out = RunState(None)
    for n, e in enumerate(events, start=1):
        event = str(e.get("event"))
        step = e.get("step")
        if step is not None:
            if event in STEP_STATES:
                out.steps[str(step)] = STEP_STATES[event]
                out.last_step = e
        elif event in RUN_EVENTS:
            try:
                out.state = transition(out.state, event)
            except JournalError as exc:
                raise JournalError(f"event {n}: {exc}") from None
            out.last_run_event = e
    return out


def interrupted(state: str | None, lock_held: bool) -> bool:
    """An act was under way and nobody is carrying it on: the process was killed."""
    return state in (APPLYING, ROLLING_BACK) and not lock_held


def next_action(state: str | None, lock_held: bool, plan_exists: bool) -> str:
    """What the operator should run now, in words."""
    cmd = "odoo-router-migrate"
    if lock_held and state in (APPLYING, ROLLING_BACK, APPLY_FAILED):
        return "wait: the run is in progress (another odoo-router-migrate holds the lock)"
    return {
        None: f"review `{cmd} plan`, then `{cmd} apply`"
        if plan_exists
        else f"`{cmd} plan` to render and review the migration",
        PLANNED: f"`{cmd} apply` to run the plan",
        APPLYING: f"`{cmd} apply` to resume the interrupted run, "
        f"or `{cmd} rollback` to undo what it did",
        APPLIED: f"`{cmd} verify` any time; `{cmd} rollback` to undo the migration",
        APPLY_FAILED: f"`{cmd} rollback` (the run failed and was not rolled back)",
        ROLLING_BACK: f"`{cmd} rollback` to finish the interrupted rollback",
        ROLLED_BACK: f"`{cmd} plan` and `{cmd} apply` when ready to try again",
        ROLLBACK_INCOMPLETE: f"fix what the errors name, then `{cmd} rollback` again",
    }[state]
