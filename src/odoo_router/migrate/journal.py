"""The run journal: one JSON object per line, appended and fsynced before and after each
step, so a killed ``apply`` knows on the next start what was begun and what was finished.

A run lives in ``state/runs/<run id>/``: journal.jsonl, the original bytes of every file
it replaced (originals/), and nothing else. ``state/current`` names the unfinished run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exitcodes import LOCKED, MigrateError
from .fsops import remove_file, write_atomic
from .layout import Layout


def utc_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Journal:
    run_dir: Path

    @property
    def path(self) -> Path:
        return self.run_dir / "journal.jsonl"

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def append(self, event: str, step: str | None = None, **data: Any) -> None:
        rec = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "event": event}
        if step is not None:
            rec["step"] = step
        rec.update(data)
        line = json.dumps(rec, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):  # a line cut by a kill is ignored
                out.append(json.loads(line))
        return out

    def step_state(self, step: str) -> str:
        state = "pending"
        for e in self.events():
            if e.get("step") == step and e["event"] in (
                "start",
                "done",
                "failed",
                "undone",
                "undo-failed",
            ):
                state = {"start": "started"}.get(e["event"], e["event"])
        return state

    def start_data(self, step: str) -> dict[str, Any] | None:
        for e in self.events():
            if e.get("step") == step and e["event"] == "start":
                return e
        return None

    def last(self, event: str) -> dict[str, Any] | None:
        found = None
        for e in self.events():
            if e["event"] == event:
                found = e
        return found

    @property
    def header(self) -> dict[str, Any]:
        return self.last("run") or {}

    @property
    def outcome(self) -> str | None:
        for e in reversed(self.events()):
            if e["event"] in ("finished", "rolled-back", "rollback-incomplete"):
                return str(e["event"])
        return None

    @property
    def staging(self) -> Path:
        return self.run_dir / "staging"

    def plan(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "plan.json").read_text("utf-8"))
        return data

    def originals(self) -> Path:
        p = self.run_dir / "originals"
        p.mkdir(exist_ok=True, mode=0o700)
        return p


def current_run(layout: Layout) -> Journal | None:
    pointer = layout.state / "current"
    try:
        run_id = pointer.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    run_dir = layout.runs / run_id
    return Journal(run_dir) if run_dir.is_dir() else None


def new_run(layout: Layout, plan_id: str) -> Journal:
    """A run folder with its own copy of the plan and staged files: a later ``plan`` may
    replace the state dir's, the run still resumes and rolls back what it planned."""
    layout.runs.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = f"{utc_stamp()}-{plan_id[:8]}"
    run_dir = layout.runs / base
    n = 1
    while True:
        try:
            run_dir.mkdir(mode=0o700)
            break
        except FileExistsError:
            n += 1
            run_dir = layout.runs / f"{base}-{n}"
    j = Journal(run_dir)
    shutil.copytree(layout.staging, run_dir / "staging")
    shutil.copy2(layout.plan_file, run_dir / "plan.json")
    j.append("run", plan_id=plan_id)
    write_atomic(layout.state / "current", (j.run_id + "\n").encode(), mode=0o600)
    return j


def close_run(layout: Layout) -> None:
    remove_file(layout.state / "current")


def latest_run(layout: Layout) -> Journal | None:
    cur = current_run(layout)
    if cur is not None:
        return cur
    if not layout.runs.is_dir():
        return None
    runs = sorted(p for p in layout.runs.iterdir() if p.is_dir())
    return Journal(runs[-1]) if runs else None


@contextlib.contextmanager
def hold_lock(layout: Layout) -> Iterator[None]:
    """One apply/rollback/backup at a time (fcntl lock: released by the kernel on a kill)."""
    layout.state.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise MigrateError(
                f"another run holds {layout.lock_file} (pid {holder or '?'})", LOCKED
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
