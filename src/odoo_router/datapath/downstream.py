"""The client connection's output side: its transport, flow control, and the answers the
router writes itself (local answers, errors, 100 Continue).

The exchange, the spool and the tunnel write to the client through this object; the driver
owns it. Nothing here decides what to answer: the phases do (driver.py, forward.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from ..http.pages import error_page
from ..routing.table import LocalAnswer
from .clock import monotonic
from .request import Request
from .state import WorkerState

CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_KEEP_ALIVE: Final = b"Connection: keep-alive\r\n"
_CLOSE: Final = b"Connection: close\r\n"
_HTML: Final = (("Content-Type", "text/html"),)
_ERRORS: Final[dict[int, LocalAnswer]] = {}  # the error answers, by status (a few dozen)


class Downstream:
    def __init__(self, state: WorkerState, transport: asyncio.Transport | None) -> None:
        self.state = state
        self.transport = transport
        # transport.write, bound once: the compiled build calls a bound method directly and
        # looks a method up by name on every call (about 90 instructions more).
        self.send: Callable[[bytes], None] | None = (
            transport.write if transport is not None else None
        )
        self.closed = False
        self.paused_writing = False
        self.write_progress = 0.0  # while paused: when the client last took a byte
        self.write_backlog = 0  # while paused: the write buffer's size then
        self.paused_reading = False

    def made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.send = transport.write

    # -- bytes out ------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        send = self.send
        if not self.closed and send is not None:
            send(data)

    def connection_line(self, req: Request) -> bytes:
        """The response's Connection header; a draining worker ends every connection."""
        if self.state.draining:
            req.keep_alive = False
        return _KEEP_ALIVE if req.keep_alive else _CLOSE

    def answer(self, req: Request, answer: LocalAnswer) -> None:
        """Write a response the router makes itself (the local answer phase)."""
        req.status = answer.status
        body = b"" if req.method == "HEAD" else answer.body
        req.bytes_out = len(body)
        connection = self.connection_line(req)
        server_date = self.state.server_date
        self.write(
            b"".join(
                (
                    answer.status_line,
                    server_date,
                    answer.first_lines,
                    connection,
                    answer.last_lines,
                    body,
                )
            )
        )

    def error(self, req: Request, status: int) -> None:
        """An error page; a 408 (a client timeout) closes with no answer, as nginx does."""
        if status == 408:
            req.status = 408
            req.keep_alive = False
            self.close()
            return
        if status in (400, 413, 414, 494, 501) or not req.complete:
            req.keep_alive = False  # framing is in doubt, or the body was never read
        answer = _ERRORS.get(status)
        if answer is None:
            answer = _ERRORS[status] = LocalAnswer(status, _HTML, error_page(status))
        self.answer(req, answer)

    def send_continue(self, req: Request) -> None:
        """``100 Continue`` for a request that asked and whose body is awaited, once."""
        if req.expect_continue and not req.complete and not req.continue_sent:
            req.continue_sent = True
            self.write(CONTINUE)

    def origin(self, host: str) -> bytes:
        """``http://host[:port]`` for an absolute redirect, as nginx writes it: the request's
        host and the port it came in on, none for 80 (the router serves plain HTTP)."""
        port = 80
        transport = self.transport
        if transport is not None:
            sock = transport.get_extra_info("sockname")
            if isinstance(sock, tuple):
                port = int(sock[1])
        return (f"http://{host}" if port == 80 else f"http://{host}:{port}").encode("latin-1")

    # -- flow control ---------------------------------------------------------------

    def pause_reading(self) -> None:
        if not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.paused_reading and self.transport is not None and not self.closed:
            self.paused_reading = False
            self.transport.resume_reading()

    def writing_paused(self) -> None:
        self.paused_writing = True
        self.write_progress = monotonic()
        self.write_backlog = self.transport.get_write_buffer_size() if self.transport else 0

    def writing_resumed(self) -> None:
        self.paused_writing = False

    def send_stalled(self, now: float, limit: float) -> bool:
        """nginx's send_timeout, while the client's buffer is full: True, and the connection
        aborted, once the client has taken no byte for ``limit`` seconds (closing would wait
        for a buffer it never reads)."""
        transport = self.transport
        if transport is None or self.closed:
            return False
        backlog = transport.get_write_buffer_size()
        if backlog < self.write_backlog:  # it took some: the timer starts again
            self.write_backlog = backlog
            self.write_progress = now
            return False
        if now - self.write_progress <= limit:
            return False
        self.abort()
        return True

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    # -- ends -----------------------------------------------------------------------

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        """Cut the connection: what was not sent is dropped (never a second response)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def shut_write(self) -> bool:
        """Our side is done (lingering close); False when the connection is gone already."""
        if self.transport is None or self.closed:
            return False
        self.transport.write_eof()
        return True

    def lost(self) -> None:
        self.closed = True
