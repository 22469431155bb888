"""``status``: where the last run stands, read from its journal alone (runstate.py), what is
running now (the lock's holder) and what to run next. True after a kill at any point."""

from __future__ import annotations

from typing import Any

from .context import Context
from .journal import latest_run, lock_holder
from .plan import load_plan_file
from .runstate import PLANNED, interrupted, next_action


def status(ctx: Context) -> dict[str, Any]:
    layout = ctx.layout
    j = latest_run(layout)
    holder = lock_holder(layout)
    plan = load_plan_file(layout.plan_file) if layout.plan_file.exists() else None
    out: dict[str, Any] = {
        "state": None,
        "interrupted": False,
        "run": None,
        "plan": j.header.get("plan_id") if j is not None else None,
        "current_plan": plan["plan_id"] if plan else None,
        "last_step": None,
        "running": holder,
        "errors": [],
        "backup": None,
        "next": "",
        "steps": {},
    }
    if j is None:
        out["state"] = PLANNED if plan else None
        out["next"] = next_action(None, holder is not None, plan is not None)
        return out
    rs = j.state
    last = rs.last_step or {}
    out.update(
        state=rs.state,
        interrupted=interrupted(rs.state, holder is not None),
        run=j.run_id,
        last_step={"step": last.get("step"), "event": last.get("event"), "time": last.get("time")}
        if last
        else None,
        errors=rs.errors,
        next=next_action(rs.state, holder is not None, plan is not None),
        steps={s["id"]: rs.steps.get(s["id"], "pending") for s in j.plan()["steps"]},
    )
    backup = j.last("done", "backup")
    out["backup"] = backup.get("folder") if backup else None
    return out


_LAST = {
    "start": "started, not finished",
    "restart": "started again, not finished",
    "done": "done",
    "failed": "failed",
    "undo": "undo started, not finished",
    "undone": "undone",
    "undo-failed": "undo failed",
}


def format_status(s: dict[str, Any]) -> str:
    state = s["state"] or "no plan"
    if s["interrupted"]:
        state += " (interrupted: no odoo-router-migrate process is running it)"
    lines = [f"state:     {state}"]
    if s["run"]:
        lines.append(f"run:       {s['run']} (plan {s['plan']})")
    if s["current_plan"] and s["current_plan"] != s["plan"]:
        lines.append(f"plan:      {s['current_plan']} (staged, not applied)")
    last = s["last_step"]
    if last:
        lines.append(f"last step: {last['step']}: {_LAST.get(last['event'], last['event'])}")
    lines.append(f"running:   {'pid ' + s['running'] if s['running'] else 'nothing'}")
    lines += [f"error:     {line}" for e in s["errors"] for line in str(e).splitlines()]
    if s["backup"]:
        lines.append(f"backup:    {s['backup']}")
    lines.append(f"next:      {s['next']}")
    if s["steps"]:
        lines.append("steps:")
        lines += [f"  {st:12s} {sid}" for sid, st in s["steps"].items()]
    return "\n".join(lines) + "\n"
