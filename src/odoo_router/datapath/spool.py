"""Temporary files of the data path, and what happens when the disk says no.

* Request bodies past ``request_buffer_memory`` spill to a file in ``temp_dir``
  (``spill``), as nginx's client_body_temp_path. A spill that fails (the directory full,
  read-only, missing or not ours) is the router's fault, not the client's: the request is
  answered 500, as nginx does, with one error line naming the directory and the errno and
  a ``request_spill`` fault counted; the rest of the body is read and dropped (lingering
  close) and the worker keeps serving.
* Responses: when a slow client falls more than the read-ahead buffer behind, the rest of
  the response goes to a temporary file (``Spool``) and is fed to the client as it drains,
  so the upstream (an Odoo worker) is released as soon as it has sent everything (nginx's
  proxy_buffering with proxy_temp_path). The head has gone out by then, so a spool that
  fails cuts the client connection (never a second response), logged the same way and
  counted as ``response_spool``.
"""

from __future__ import annotations

import errno
import tempfile
from typing import IO

from ..http.errors import LOCAL, RequestError
from .downstream import Downstream
from .events import Events
from .request import NO_LINES, Request
from .state import WorkerState

_CHUNK = 256 * 1024
MAX_SPOOL = 1 << 30  # as nginx's proxy_max_temp_file_size: beyond it the upstream waits


def describe_os_error(exc: OSError) -> str:
    """``No space left on device (ENOSPC)``: the text and the errno's name."""
    code = exc.errno
    name = errno.errorcode.get(code, str(code)) if code is not None else "?"
    return f"{exc.strerror or exc} ({name})"


def temp_dir_name(temp_dir: str | None) -> str:
    return temp_dir if temp_dir is not None else tempfile.gettempdir()


def _write_all(file: IO[bytes], data: bytes) -> None:
    """An unbuffered write, whole: a full disk fails here, not at a later flush or read."""
    view = memoryview(data)
    while view:
        n = file.write(view)
        if not n:  # a regular file writes something or raises; never loop on nothing
            raise OSError(errno.ENOSPC, "No space left on device")
        view = view[n:]


def spill(state: WorkerState, req: Request, data: bytes) -> None:
    """Append ``data`` to the request's body file, made on the first call from what was
    held in memory. A failure closes the file and raises a RequestError (500, the router's
    own), so that the parser's error path answers it and lingers over the rest of the body."""
    temp_dir = state.settings.temp_dir
    file = req.body_file
    try:
        if file is None:
            file = tempfile.TemporaryFile(dir=temp_dir, buffering=0)  # noqa: SIM115 - closed by the driver's logging phase
            req.body_file = file
            for part in req.body:
                _write_all(file, part)
            req.body = NO_LINES
        _write_all(file, data)
        return
    except OSError as exc:
        why = describe_os_error(exc)
    # Raised out here, with no context: the parser keeps the exception it reports, and the
    # OSError's traceback would hold this request.
    if file is not None:
        file.close()
    req.body_file = None
    req.body = NO_LINES
    reason = f"request body spill to {temp_dir_name(temp_dir)} failed: {why}"
    req.error = reason
    state.fault("request_spill", f"{reason}; answered 500 to {req.method} {req.host}")
    raise RequestError(reason, 500, LOCAL)


class Spool:
    """The rest of one response, through a temporary file to a slow client; tells its
    driver (``Events.spool_done``) once the client has it all, or the spool failed."""

    def __init__(
        self, client: Downstream, req: Request, owner: Events, temp_dir: str | None
    ) -> None:
        self.client = client
        self.req = req
        self.owner = owner
        self.temp_dir = temp_dir
        self.read_pos = 0
        self.write_pos = 0
        self.finished = False  # the upstream sent it all
        self.failed = False
        self.done = False  # the client has it all, or it failed: owner told
        self.told = False  # the owner wants to hear of the end (``finish`` was called)
        self.file: IO[bytes] | None = None
        try:
            self.file = tempfile.TemporaryFile(dir=temp_dir)  # noqa: SIM115 - closed in _close
        except OSError as exc:
            self._fail(exc)

    @property
    def full(self) -> bool:
        """True past MAX_SPOOL, and once failed: the upstream is paused either way."""
        return self.failed or self.write_pos - self.read_pos >= MAX_SPOOL

    def add(self, data: bytes) -> None:
        file = self.file
        if file is None:
            return
        try:
            file.seek(self.write_pos)
            file.write(data)
            file.flush()  # a full disk fails here, not at a later read
        except OSError as exc:
            self._fail(exc)
            return
        self.write_pos += len(data)

    def finish(self) -> bool:
        """The upstream sent everything: True when the client has it all already, else the
        driver hears of the end later (``Events.spool_done``)."""
        self.finished = True
        self.pump()
        if self.done:
            return True
        self.told = True
        return False

    def pump(self) -> None:
        """Write to the client until its buffer is full again (called on resume_writing)."""
        client = self.client
        file = self.file
        while (
            file is not None
            and not client.closed
            and not client.paused_writing
            and self.read_pos < self.write_pos
        ):
            try:
                file.seek(self.read_pos)
                chunk = file.read(min(_CHUNK, self.write_pos - self.read_pos))
            except OSError as exc:
                self._fail(exc)
                return
            self.read_pos += len(chunk)
            client.write(chunk)
        if file is None or client.closed or (self.finished and self.read_pos >= self.write_pos):
            self._close()

    def abort(self) -> None:
        """Stop; the driver ends the request itself (no spool_done)."""
        self.told = False
        self._close()

    def _fail(self, exc: OSError) -> None:
        """The head went out already: the client connection is cut, never answered twice."""
        if self.failed:
            return
        self.failed = True
        client = self.client
        where = temp_dir_name(self.temp_dir)
        reason = f"response spool in {where} failed: {describe_os_error(exc)}"
        req = self.req
        req.error = reason
        client.state.fault(
            "response_spool", f"{reason}; client connection of {req.method} {req.host} cut"
        )
        self._close()
        if not client.closed:
            client.abort()

    def _close(self) -> None:
        if not self.done:
            self.done = True
            if self.file is not None:
                self.file.close()
                self.file = None
            if self.told:
                self.owner.spool_done()
