"""The maintenance state file: which tenants are taken out, since when, until when, by whom.

Rules / theory of operation
---------------------------
* The file is small and meant to be read by people: YAML (JSON, being YAML, is read too), a
  mapping of database name -> ``{since: TIME, until: TIME, by: TEXT}``, ``until`` and ``by``
  optional, times in ISO 8601 with their offset. A missing or empty file: no tenant is in
  maintenance.
* A tenant is in maintenance from ``since`` on (the file says so as soon as it is written)
  until ``until``; once ``until`` has passed the tenant is back, whether or not the file
  was written again (``active``); the next write drops such entries.
* Every write is atomic: a temporary file in the same directory, fsynced, renamed over the
  file, then the directory fsynced; a reader (a worker) sees the old file or the new one,
  never half of one. Writers take a lock (``<file>.lock``, flock) around read-modify-write,
  so that two operators (or the migration) do not lose each other's change.
* A bad file raises ``StateError`` naming the file, the line and the key.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import yaml

from ..configuration.yamlmarks import load_marked, syntax_error

# Odoo's rule for a database name (odoo.service.db), within PostgreSQL's 63 bytes.
DB_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_DURATION: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_KEYS: Final = ("since", "until", "by")
HEADER: Final = (
    "# Tenants in maintenance (odoo-router maintenance on|off|list): their hosts answer 503.\n"
    "# Written atomically by that command; edit with care (odoo-router reads it within 1 s).\n"
)


class StateError(Exception):
    """A maintenance file that cannot be read, or a time that cannot be understood."""


@dataclass(frozen=True)
class Entry:
    since: datetime
    until: datetime | None = None
    by: str | None = None

    def on_at(self, now: datetime) -> bool:
        return self.until is None or self.until > now


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_time(text: str, now: datetime) -> datetime:
    """``--until``: ISO 8601 with an offset (``2026-12-06T15:00:00+09:00``, ``...Z``) or a
    duration from now (``30m``, ``2h``, ``1h30m``, ``1d``, ``90s``)."""
    text = text.strip()
    m = _DURATION.fullmatch(text)
    if text and m is not None:
        d, h, mi, s = (int(g or 0) for g in m.groups())
        return now + timedelta(days=d, hours=h, minutes=mi, seconds=s)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise StateError(
            f"{text!r} is neither an ISO 8601 time (2026-12-06T15:00:00+09:00) "
            "nor a duration (30m, 2h, 1h30m, 1d)"
        ) from None
    if when.tzinfo is None:
        raise StateError(f"{text!r} has no offset: add Z or +HH:MM, the router cannot guess it")
    return when


def _time(value: object, where: str) -> datetime:
    if isinstance(value, datetime):  # YAML's own timestamps (unquoted)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # YAML reads an offset-less timestamp as UTC
        return value
    if not isinstance(value, str):
        raise StateError(f"{where}: expected an ISO 8601 time, got {type(value).__name__}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise StateError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise StateError(f"{where}: {value!r} has no offset (Z or +HH:MM)")
    return when


def parse_state(text: str, name: str) -> dict[str, Entry]:
    try:
        marked = load_marked(text, name)
    except yaml.YAMLError as exc:
        raise StateError(syntax_error(exc, name)) from None

    def where(path: str) -> str:
        line = marked.lines.get(path)
        shown = path or "<top>"
        return f"{name}:{line}: {shown}" if line else f"{name}: {shown}"

    for path, _ in marked.duplicate_keys:
        raise StateError(f"{where(path)}: duplicate key")
    data: Any = marked.data
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StateError(f"{where('')}: expected a mapping of database -> entry")
    out: dict[str, Entry] = {}
    for db, value in data.items():
        if not isinstance(db, str) or DB_NAME.fullmatch(db) is None:
            raise StateError(f"{where(str(db))}: not a database name")
        if not isinstance(value, dict):
            raise StateError(f"{where(db)}: expected a mapping with since, until, by")
        unknown = [k for k in value if k not in _KEYS]
        if unknown:
            raise StateError(f"{where(f'{db}.{unknown[0]}')}: unknown key (since, until, by)")
        if "since" not in value:
            raise StateError(f"{where(db)}: missing since")
        until = value.get("until")
        by = value.get("by")
        if by is not None and not isinstance(by, str):
            raise StateError(f"{where(f'{db}.by')}: expected text")
        out[db] = Entry(
            _time(value["since"], where(f"{db}.since")),
            None if until is None else _time(until, where(f"{db}.until")),
            by,
        )
    return out


def render_state(entries: dict[str, Entry]) -> str:
    lines = [HEADER.rstrip("\n")] if entries else [HEADER.rstrip("\n"), "{}"]
    for db in sorted(entries):
        e = entries[db]
        lines.append(f"{db}:")
        lines.append(f'  since: "{e.since.isoformat()}"')
        if e.until is not None:
            lines.append(f'  until: "{e.until.isoformat()}"')
        if e.by is not None:
            lines.append(f"  by: {yaml.safe_dump(e.by, default_style=chr(34)).strip()}")
    return "\n".join(lines) + "\n"


def read_state(path: str) -> dict[str, Entry]:
    """The file's entries; a missing file has none."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    return parse_state(text, path)


def active(entries: dict[str, Entry], now: datetime) -> dict[str, float]:
    """The tenants in maintenance at ``now``: database -> its ``until`` as a Unix time, 0.0
    when open-ended (what the data path reads: WorkerState.maintenance)."""
    return {
        db: e.until.timestamp() if e.until is not None else 0.0
        for db, e in entries.items()
        if e.on_at(now)
    }


def write_state(path: str, entries: dict[str, Entry]) -> None:
    """Atomically replace ``path`` (see the module's rules); an OSError changes nothing."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".maintenance-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_state(entries))
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)  # the router may run as another user: it reads
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Writers one at a time: an exclusive flock on ``<file>.lock`` beside the file."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def switch_on(
    path: str, dbs: list[str], until: datetime | None, by: str | None, now: datetime
) -> dict[str, Entry]:
    """Put ``dbs`` in maintenance (an entry already on keeps its ``since``); entries whose
    time is over are dropped. Returns what was written."""
    with locked(path):
        entries = {db: e for db, e in read_state(path).items() if e.on_at(now)}
        for db in dbs:
            old = entries.get(db)
            entries[db] = Entry(old.since if old is not None else now, until, by)
        write_state(path, entries)
    return entries


def switch_off(
    path: str, dbs: list[str] | None, now: datetime
) -> tuple[dict[str, Entry], list[str]]:
    """Take ``dbs`` (None: every tenant) out of maintenance. Returns what was written and
    the names that were not in maintenance."""
    with locked(path):
        entries = {db: e for db, e in read_state(path).items() if e.on_at(now)}
        names = list(entries) if dbs is None else dbs
        missing = [db for db in names if db not in entries]
        for db in names:
            entries.pop(db, None)
        write_state(path, entries)
    return entries, missing
