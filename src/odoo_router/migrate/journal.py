"""The run journal: one JSON object per line, appended and fsynced before each act, so that a
killed ``apply`` or ``rollback`` knows on the next start what was begun and what finished,
and ``status`` can say where the tree stands (runstate.py derives the state from it).

A run lives in ``state/runs/<NNNN>-<UTC time>-<plan id>/``: journal.jsonl, its own copy of
the plan and the staged files, the original bytes of every file it replaced (originals/),
files edited by hand that a rollback replaced (displaced/). The run with the highest number
is the current one. A run folder appears whole (built under a temporary name, renamed), so
there is never a run without its plan or its first journal line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exitcodes import LOCKED, MigrateError
from .fsops import fsync_dir
from .layout import Layout
from .runstate import RUN_EVENTS, JournalError, RunState, derive, transition

_RUN_DIR = re.compile(r"^(\d{4,})-")


def utc_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Journal:
    run_dir: Path
    _events: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.run_dir / "journal.jsonl"

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def append(self, event: str, step: str | None = None, **data: Any) -> None:
        """Write one event and fsync it; a run event must be a transition the state table
        allows from the current state (raises JournalError before writing otherwise)."""
        events = self.events()  # read before writing: the cache gets the new line below
        if step is None and event in RUN_EVENTS:
            transition(derive(events).state, event)
        rec: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "event": event,
        }
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
        events.append(rec)

    def events(self) -> list[dict[str, Any]]:
        if self._events is None:
            try:
                text = self.path.read_text("utf-8")
            except FileNotFoundError:
                text = ""
            self._events = []
            for line in text.splitlines():
                with contextlib.suppress(ValueError):  # a line cut by a kill is ignored
                    self._events.append(json.loads(line))
        return self._events

    @property
    def state(self) -> RunState:
        try:
            return derive(self.events())
        except JournalError as exc:
            raise JournalError(f"{self.path}: {exc}") from None

    def step_state(self, step: str) -> str:
        return self.state.steps.get(step, "pending")

    def start_data(self, step: str) -> dict[str, Any] | None:
        for e in self.events():
            if e.get("step") == step and e["event"] == "start":
                return e
        return None

    def last(self, event: str, step: str | None = None) -> dict[str, Any] | None:
        found = None
        for e in self.events():
            if e["event"] == event and (step is None or e.get("step") == step):
                found = e
        return found

    @property
    def header(self) -> dict[str, Any]:
        return self.last("run") or {}

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


def _runs(layout: Layout) -> list[tuple[int, Path]]:
    if not layout.runs.is_dir():
        return []
    out = []
    for p in layout.runs.iterdir():
        m = _RUN_DIR.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_run(layout: Layout) -> Journal | None:
    runs = _runs(layout)
    return Journal(runs[-1][1]) if runs else None


def new_run(layout: Layout, plan_id: str) -> Journal:
    """A run folder with its own copy of the plan and staged files (a later ``plan`` may
    replace the state dir's; the run still resumes and rolls back what it planned). The
    caller holds the lock."""
    layout.runs.mkdir(parents=True, exist_ok=True, mode=0o700)
    for left in layout.runs.glob(".new-*"):  # a creation killed half way: never a run
        shutil.rmtree(left, ignore_errors=True)
    tmp = layout.runs / f".new-{os.getpid()}"
    tmp.mkdir(mode=0o700)
    shutil.copytree(layout.staging, tmp / "staging")
    shutil.copy2(layout.plan_file, tmp / "plan.json")
    Journal(tmp).append("run", plan_id=plan_id)
    number = (_runs(layout)[-1][0] if _runs(layout) else 0) + 1
    run_dir = layout.runs / f"{number:04d}-{utc_stamp()}-{plan_id[:8]}"
    os.rename(tmp, run_dir)
    fsync_dir(layout.runs)
    return Journal(run_dir)


@contextlib.contextmanager
def hold_lock(layout: Layout, command: str = "") -> Iterator[None]:
    """One plan/apply/rollback/backup at a time (flock: released by the kernel on a kill).
    The lock file says who holds it: ``<pid> <command>``."""
    layout.state.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 128, 0).decode(errors="replace").strip()
            raise MigrateError(
                f"another run holds {layout.lock_file} (pid {holder or '?'})", LOCKED
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}".strip().encode() + b"\n", 0)
        yield
    finally:
        os.close(fd)


def lock_holder(layout: Layout) -> str | None:
    """``"<pid> <command>"`` of the process holding the lock, None when it is free. Probes with
    a shared lock, released at once (an apply starting in that instant is told LOCKED)."""
    try:
        fd = os.open(layout.lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 128, 0).decode(errors="replace").strip() or "?"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
