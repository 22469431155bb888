"""Access log: one JSON object per request, one line each, written in batches.

Theory of operation
-------------------
The line is formatted by ``accessline`` (compiled: the escaping rules are there) straight
into this writer's buffer, a ``bytearray`` that only ever holds whole lines. The worker
calls ``flush()`` every 100 ms, and the buffer flushes itself once it holds
``flush_bytes`` (64 KiB), so at any rate the event loop makes one write() of up to 64 KiB
at a time instead of one per request (nginx's ``buffer=64k flush=...``), and a line is at
most about 100 ms late.

What can be lost, and what cannot happen:
* A crash or SIGKILL loses what the buffer held (at most 64 KiB, at most the last 100 ms).
  Since the buffer holds whole lines, every write() carries whole lines: the file never
  gets half a line from us, though Linux ends a write() to a file that a fatal signal
  interrupts at a page boundary (a window of the write's few microseconds).
* A file target is opened with O_APPEND, so the workers' writes, each a run of whole
  lines, never land inside one another. A pipe (stdout under Docker) only keeps a write
  whole up to PIPE_BUF (4 KiB) when several workers share it: there each write() is cut
  at a line end under PIPE_BUF (a single longer line goes in a write of its own).
* A failed write (full disk, closed pipe) drops what the buffer held and counts the lines
  (``dropped_lines``), with an error line (``on_error``) at most every 10 s per kind of
  error saying how many: logging never stops serving. If the failing write had stored part
  of a line, the next write that succeeds begins with a newline, so that fragment stays a
  line of its own and the lines after it are whole.
* ``reopen()`` reopens a file target after logrotate moved it (SIGUSR1, as nginx).
stdout is usually a pipe to Docker's log driver: if that reader stalls for longer than the
pipe buffer lasts, write() waits, as nginx's does.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable
from select import PIPE_BUF
from time import monotonic
from typing import BinaryIO

from ..datapath.accessline import AccessLine, rfc3339
from ..datapath.accessline import format_line as _format_line
from ..datapath.errorlog import RateLimitedLog

FLUSH_BYTES = 64 * 1024


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
    """One access-log line, newline included, from named values (the same formatter as the
    data path's: ``accessline``).

    ``time`` is when the request started (epoch seconds; default: now); times are in
    seconds with millisecond precision; absent upstream facts are JSON null. ``path`` is the
    request target as the client sent it (the query string included), ``host`` the
    normalised host. ``error`` says why the request failed, null when it did not: for an
    upstream failure ``<cause>: <detail>; server <host:port>`` with cause resolve, connect,
    timeout, reset or bad_answer."""
    from time import time as now

    line = _format_line(
        rfc3339(now() if time is None else time),
        client_ip,
        host,
        method,
        path,
        status,
        bytes_in,
        bytes_out,
        upstream_addr,
        upstream_status,
        upstream_time,
        total_time,
        host_rule,
        route,
        dbfilter,
        error,
        request_id,
    )
    return line.encode("ascii")


class AccessLog:
    """Buffered access-log writer for one worker process.

    ``target``: "-" for stdout, a file path (opened in append mode, created if missing), or
    None to discard. Create it after forking: each worker has its own buffer and file.
    ``line.observe`` (compiled) is the logging phase's observer: it formats a request's
    line into this writer's buffer."""

    def __init__(
        self,
        target: str | None,
        *,
        flush_bytes: int = FLUSH_BYTES,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target
        self.flush_bytes = flush_bytes
        self.dropped_lines = 0
        self.last_error: OSError | None = None
        # Failed writes reported as nginx's "[alert] write() to ... failed": one line per
        # kind of error per interval, with the count of the others.
        self._errors = RateLimitedLog(on_error) if on_error is not None else None
        self.line = AccessLine(flush_bytes, self.flush)
        self._file: BinaryIO | None = None
        self._fd: int | None = None
        self._pipe = False  # writes cut at line ends under PIPE_BUF
        self._mid_line = False  # a failed write stored part of a line
        self._open()

    def _open(self) -> None:
        if self.target is None:
            self._fd = None
        elif self.target == "-":
            self._fd = sys.stdout.fileno()
        else:
            self._file = open(self.target, "ab", buffering=0)  # noqa: SIM115
            self._fd = self._file.fileno()
        if self._fd is not None:
            self._pipe = not stat.S_ISREG(os.fstat(self._fd).st_mode)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def write(self, line: bytes) -> None:
        """A whole line of ASCII, newline included."""
        if self._fd is not None:
            self.line.add(line.decode("ascii"))

    def log(self, **fields: object) -> None:
        """``write(format_access(**fields))``, skipping the formatting when disabled."""
        if self._fd is not None:
            self.write(format_access(**fields))  # type: ignore[arg-type]

    def flush(self) -> None:
        fd = self._fd
        if fd is None or not self.line.lines:
            return
        data = "".join(self.line.take()).encode("ascii")
        view = memoryview(data)
        pos = 0  # what is written of data
        try:
            if self._mid_line:
                os.write(fd, b"\n")
                self._mid_line = False
            while pos < len(data):
                end = _chunk_end(data, pos) if self._pipe else len(data)
                written = os.write(fd, view[pos:end])
                if not written:  # never for a file or a pipe; no endless loop if it did
                    raise OSError(errno.EIO, "write() wrote nothing")
                pos += written
        except OSError as exc:
            self.last_error = exc
            dropped = data.count(b"\n", pos)
            self.dropped_lines += dropped
            # A write cut short (a disk filling up) stored the start of a line.
            self._mid_line = self._mid_line or (pos > 0 and data[pos - 1] != 0x0A)
            if self._errors is not None:
                where = "stdout" if self.target == "-" else self.target or "?"
                message = f"access log {where}: {exc.strerror or exc}; {dropped} line(s) dropped"
                self._errors.log("access_log", str(exc.errno), message, monotonic())
        if self._errors is not None:
            self._errors.flush(monotonic())

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


def _chunk_end(data: bytes, pos: int) -> int:
    """Where the next write to a pipe ends: after the last newline within PIPE_BUF bytes
    of ``pos``, or after the first line when that one alone is longer."""
    if len(data) - pos <= PIPE_BUF:
        return len(data)
    cut = data.rfind(b"\n", pos, pos + PIPE_BUF)
    if cut < 0:
        cut = data.find(b"\n", pos)
    return cut + 1 if cut >= 0 else len(data)
