"""The access-log line of one request, formatted straight into the writer's buffer.

Compiled (``native.NATIVE``): the logging phase runs for every request, and formatting the
line was most of what the access log cost (about 6 us a request in Python: the line built
by ``json`` escapes and f-strings, the float and time formatting, a keyword call per line).

Rules
-----
* One JSON object per request and line, its fields in a fixed order (README, "Access log").
* Every string is written as a JSON string of pure ASCII: quotes, backslashes, control
  characters and DEL escaped, other characters as ``\\uXXXX`` (the stdlib's C encoder,
  ``encode_basestring_ascii``), so no client- or upstream-sent value can split or corrupt
  a line. Bytes that were not UTF-8 (carried as surrogateescape'd ``str``) are written as
  the text ``\\xff`` rather than as lone-surrogate escapes, which strict readers refuse.
* Fast path: a value of printable ASCII without ``"`` or ``\\`` needs no escaping and is
  copied as it is (for bytes one ``bytes.translate`` pass, in C, tells). Values that repeat
  (the client address, host and method; the rule, route, upstream and dbfilter names from
  the config) are escaped once and kept in a table of at most 1,024 values of at most 128
  characters, cleared when full: a client sending new or long hosts costs time (about
  0.1 us a value), never memory.
* Time: the date and second are formatted once per second (when the wall clock's offset to
  the monotonic clock is read again, so a stepped clock is followed within a second), the
  milliseconds come from a table; durations are whole milliseconds from integers.
* The line is built in one piece (one f-string: a single allocation and copy) and kept
  whole until the writer takes it: the writer only ever holds, and so only ever writes,
  whole lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Final, Protocol

from .clock import monotonic

if TYPE_CHECKING:
    from .request import Request

MEMO_SIZE: Final = 1024  # escaped values kept before the table is cleared
MEMO_LEN: Final = 128  # longer values (a client's 8 KiB Host) are escaped every time
_DIGITS3: Final = tuple(f"{i:03d}" for i in range(1000))
_DOT3: Final = tuple(f".{i:03d}" for i in range(1000))
_SMALL: Final = tuple(str(i) for i in range(1000))  # status codes, small sizes
# bytes.translate table: plain bytes (printable ASCII but '"' and '\\') stay, others change.
_PLAIN: Final = bytes(
    c if 0x20 <= c < 0x7F and c not in (0x22, 0x5C) else (1 if c == 0 else 0) for c in range(256)
)


class Peer(Protocol):
    """The client connection as the logging phase sees it (its address)."""

    @property
    def peer(self) -> str: ...


def _escape(value: str) -> str:
    """``value`` as a JSON string literal of pure ASCII, quotes included (the slow path)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: undecodable bytes, as \xNN text
            raw = value.encode("utf-8", "surrogateescape")
            value = raw.decode("utf-8", "backslashreplace")
    escaped: str = encode_basestring_ascii(value)
    return escaped


def json_str(value: str | None) -> str:
    """A JSON value for ``value``: ``null`` or an ASCII string literal."""
    if value is None:
        return "null"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'
    return _escape(value)


def json_bytes(value: bytes) -> str:
    """The inside of a JSON string literal (no quotes) for bytes as received: a request
    target, a request id."""
    if value.translate(_PLAIN) == value:  # one C pass; the same object when all plain
        return value.decode("ascii")
    return _escape(value.decode("utf-8", "surrogateescape"))[1:-1]


def _int(value: int) -> str:
    return _SMALL[value] if 0 <= value < 1000 else str(value)


def _number(value: int | None) -> str:
    return "null" if value is None else _int(value)


def seconds(value: float | None) -> tuple[str, str]:
    """Seconds with millisecond precision in two pieces, ``("0", ".042")``, or ``("null",
    "")``: the line is built in one piece, without joining these first."""
    if value is None:
        return "null", ""
    ms = int(value * 1000.0 + 0.5)
    return _int(ms // 1000), _DOT3[ms % 1000]


def rfc3339(t: float) -> str:
    """``2026-11-27T03:50:16.123Z`` for epoch seconds (milliseconds truncated)."""
    sec = int(t)
    day_time = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
    return day_time + _DIGITS3[int((t - sec) * 1000.0)] + "Z"


class AccessLine:
    """Formats each request's line and keeps it, whole, in ``lines`` until the writer takes
    them (``take``); calls ``full`` once they hold ``flush_bytes`` or more. ``observe`` is
    the logging phase's observer (``WorkerState.observers``)."""

    def __init__(self, flush_bytes: int, full: Callable[[], None]) -> None:
        self.lines: list[str] = []
        self.size = 0  # characters (ASCII: bytes) in lines
        self.flush_bytes = flush_bytes
        self.full = full
        self.memo: dict[str, str] = {}
        self.wall_offset = time.time() - monotonic()
        self.second = -1
        self.prefix = ""  # '"2026-11-27T03:50:16.' for self.second

    def take(self) -> list[str]:
        """The lines so far, in order; the buffer starts again empty."""
        lines = self.lines
        self.lines = []
        self.size = 0
        return lines

    def add(self, line: str) -> None:
        """A whole line of ASCII, newline included."""
        self.lines.append(line)
        self.size += len(line)
        if self.size >= self.flush_bytes:
            self.full()

    def _memo(self, value: str) -> str:
        found = self.memo.get(value)
        if found is None:
            found = json_str(value)
            if len(value) <= MEMO_LEN:
                if len(self.memo) >= MEMO_SIZE:
                    self.memo.clear()
                self.memo[value] = found
        return found

    def _date(self, sec: int) -> str:
        """The quoted stamp up to the milliseconds' dot, formatted once per second (the wall
        clock's offset to the monotonic one read again then, to follow a stepped clock)."""
        if sec != self.second:
            self.second = sec
            self.prefix = '"' + time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        return self.prefix

    def observe(self, conn: Peer, req: Request) -> None:
        """The logging phase: one line for a request that has ended, whatever happened."""
        start = req.start
        wall = start + self.wall_offset
        if int(wall) != self.second:
            self.wall_offset = time.time() - monotonic()
            wall = start + self.wall_offset
        sec = int(wall)
        date = self._date(sec)
        ms = _DIGITS3[int((wall - sec) * 1000.0)]
        d = req.decision
        if d is not None:
            host_rule, route = self._memo(d.host_rule), self._memo(d.route)
            dbfilter = "null" if d.dbfilter is None else self._memo(d.dbfilter)
        else:
            host_rule = route = '"-"'
            dbfilter = "null"
        up_s, up_ms = seconds(req.upstream_time)
        total_s, total_ms = seconds(monotonic() - start)
        rid = req.request_id
        self.add(
            f'{{"time":{date}{ms}Z","client_ip":{self._memo(req.client_ip or conn.peer)},'
            f'"host":{self._memo(req.host)},"method":{self._memo(req.method)},'
            f'"path":"{json_bytes(req.target or req.url)}","status":{_int(req.status or 499)},'
            f'"bytes_in":{_int(req.body_size)},"bytes_out":{_int(req.bytes_out)},'
            f'"upstream_addr":{self._memo(req.upstream_addr) if req.upstream_addr else "null"},'
            f'"upstream_status":{_int(req.upstream_status) if req.upstream_status else "null"},'
            f'"upstream_time":{up_s}{up_ms},"total_time":{total_s}{total_ms},'
            f'"host_rule":{host_rule},"route":{route},"dbfilter":{dbfilter},'
            f'"error":{json_str(req.error)},"request_id":"{json_bytes(rid) if rid else "-"}"}}\n'
        )


def format_line(
    stamp: str,
    client_ip: str | None,
    host: str | None,
    method: str | None,
    path: str | None,
    status: int,
    bytes_in: int,
    bytes_out: int,
    upstream_addr: str | None,
    upstream_status: int | None,
    upstream_time: float | None,
    total_time: float | None,
    host_rule: str | None,
    route: str | None,
    dbfilter: str | None,
    error: str | None,
    request_id: str | None,
) -> str:
    """The same line as ``AccessLine.observe`` from plain values (``stamp`` from
    ``rfc3339``), for ``accesslog.format_access``: slower, the same rules."""
    up_s, up_ms = seconds(upstream_time)
    total_s, total_ms = seconds(total_time)
    return (
        f'{{"time":"{stamp}","client_ip":{json_str(client_ip)},"host":{json_str(host)},'
        f'"method":{json_str(method)},"path":{json_str(path)},"status":{_int(status)},'
        f'"bytes_in":{_int(bytes_in)},"bytes_out":{_int(bytes_out)},'
        f'"upstream_addr":{json_str(upstream_addr)},'
        f'"upstream_status":{_number(upstream_status)},'
        f'"upstream_time":{up_s}{up_ms},"total_time":{total_s}{total_ms},'
        f'"host_rule":{json_str(host_rule)},"route":{json_str(route)},'
        f'"dbfilter":{json_str(dbfilter)},"error":{json_str(error)},'
        f'"request_id":{json_str(request_id)}}}\n'
    )
