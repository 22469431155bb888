"""Access log: one JSON object per request, one line each.

Theory of operation
-------------------
``format_access`` builds the line by hand instead of ``json.dumps(dict)`` (about 5 us instead of 7
on one core): every string goes through the stdlib's C escaper ``encode_basestring_ascii``, so
quotes, backslashes, newlines and control characters in client-controlled values (Host,
path, method) come out escaped and the output is pure ASCII: a hostile request can never
split or corrupt a line. Bytes that were not UTF-8 (carried as surrogateescape'd ``str``)
are written as the literal text ``\\xff`` rather than as lone-surrogate escapes, which
strict JSON readers reject.

``AccessLog`` buffers lines in memory; the server calls ``flush()`` about every 100 ms, and
``write`` flushes by itself past 64 KiB, so the event loop does one write() of a few KiB
at a time. ``reopen()`` reopens a file target after logrotate moved it (SIGUSR1, as nginx).
A failed write (full disk, closed pipe) drops the buffered lines and counts them: logging
never fails a request. stdout is usually a pipe to Docker's log driver: if that reader
stalls for longer than the pipe buffer lasts, write() waits, as nginx's does.
"""

from __future__ import annotations

import os
import sys
from json.encoder import encode_basestring_ascii as _json_str
from time import gmtime, strftime
from time import time as _now
from typing import BinaryIO

FLUSH_BYTES = 64 * 1024

_last_second = -1
_last_prefix = ""


def rfc3339(t: float) -> str:
    """``2026-11-27T03:50:16.123Z``; the seconds part is formatted once per second."""
    global _last_second, _last_prefix
    sec = int(t)
    if sec != _last_second:
        _last_prefix = strftime("%Y-%m-%dT%H:%M:%S", gmtime(sec))
        _last_second = sec
    ms = int((t - sec) * 1000)
    return f"{_last_prefix}.{ms:03d}Z"


def _clean(value: str) -> str:
    """Non-ASCII text stays; undecodable bytes (lone surrogates) become ``\\xNN`` text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def _s(value: str | None) -> str:
    if value is None:
        return "null"
    if not value.isascii():
        value = _clean(value)
    return _json_str(value)


def _n(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _secs(value: float | None) -> str:
    return "null" if value is None else f"{value:.3f}"


def new_request_id() -> str:
    """32 hex characters (128 random bits), like nginx's $request_id."""
    return os.urandom(16).hex()


def format_access(
    *,
    client_ip: str,
    host: str,
    method: str,
    path: str,
    status: int,
    bytes_in: int,
    bytes_out: int,
    total_time: float,
    request_id: str,
    upstream_addr: str | None = None,
    upstream_status: int | None = None,
    upstream_time: float | None = None,
    host_rule: str | None = None,
    route: str | None = None,
    dbfilter: str | None = None,
    error: str | None = None,
    time: float | None = None,
) -> bytes:
    """One access-log line, newline included.

    ``time`` is when the request started (epoch seconds; default: now); times are in
    seconds with millisecond precision; absent upstream facts are JSON null. ``path`` is the
    request target as the client sent it (the query string included), ``host`` the
    normalised host. ``error`` says why the request failed, null when it did not: for an
    upstream failure ``<cause>: <detail>; server <host:port>`` with cause resolve, connect,
    timeout, reset or bad_answer."""
    t = _now() if time is None else time
    line = (
        f'{{"time":"{rfc3339(t)}","client_ip":{_s(client_ip)},"host":{_s(host)},'
        f'"method":{_s(method)},"path":{_s(path)},"status":{_n(status)},'
        f'"bytes_in":{_n(bytes_in)},"bytes_out":{_n(bytes_out)},'
        f'"upstream_addr":{_s(upstream_addr)},"upstream_status":{_n(upstream_status)},'
        f'"upstream_time":{_secs(upstream_time)},"total_time":{_secs(total_time)},'
        f'"host_rule":{_s(host_rule)},"route":{_s(route)},"dbfilter":{_s(dbfilter)},'
        f'"error":{_s(error)},"request_id":{_s(request_id)}}}\n'
    )
    return line.encode("ascii")


class AccessLog:
    """Buffered access-log writer for one worker process.

    ``target``: "-" for stdout, a file path (opened in append mode, created if missing), or
    None to discard. Create it after forking: each worker has its own buffer and file."""

    def __init__(self, target: str | None, *, flush_bytes: int = FLUSH_BYTES) -> None:
        self.target = target
        self.flush_bytes = flush_bytes
        self.dropped_lines = 0
        self.last_error: OSError | None = None
        self._buf: list[bytes] = []
        self._size = 0
        self._file: BinaryIO | None = None
        self._fd: int | None = None
        self._open()

    def _open(self) -> None:
        if self.target is None:
            self._fd = None
        elif self.target == "-":
            self._fd = sys.stdout.fileno()
        else:
            self._file = open(self.target, "ab", buffering=0)  # noqa: SIM115
            self._fd = self._file.fileno()

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def write(self, line: bytes) -> None:
        if self._fd is None:
            return
        self._buf.append(line)
        self._size += len(line)
        if self._size >= self.flush_bytes:
            self.flush()

    def log(self, **fields: object) -> None:
        """``write(format_access(**fields))``, skipping the formatting when disabled."""
        if self._fd is not None:
            self.write(format_access(**fields))  # type: ignore[arg-type]

    def flush(self) -> None:
        if not self._buf or self._fd is None:
            return
        data = b"".join(self._buf)
        lines = len(self._buf)
        self._buf.clear()
        self._size = 0
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            self.last_error = exc
            # Lines already fully written are not counted as dropped.
            self.dropped_lines += lines - data[: len(data) - len(view)].count(b"\n")

    def reopen(self) -> None:
        """Flush, then reopen a file target (after logrotate renamed it)."""
        self.flush()
        if self._file is None or self.target in (None, "-"):
            return
        old = self._file
        self._file = None
        try:
            self._open()
        except OSError as exc:
            # Keep writing to the old (renamed) file rather than losing lines.
            self.last_error = exc
            self._file = old
            self._fd = old.fileno()
            return
        old.close()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._fd = None
