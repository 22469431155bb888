"""Response spooling: when a slow client falls more than the read-ahead buffer behind, the
rest of the response goes to a temporary file and is fed to the client as it drains, so the
upstream (an Odoo worker) is released as soon as it has sent everything (nginx's
proxy_buffering with proxy_temp_path).
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .proxy import ClientConnection

_CHUNK = 256 * 1024
MAX_SPOOL = 1 << 30  # as nginx's proxy_max_temp_file_size: beyond it the upstream waits


class Spool:
    def __init__(self, client: ClientConnection, temp_dir: str | None) -> None:
        self.client = client
        self.file = tempfile.TemporaryFile(dir=temp_dir)  # noqa: SIM115 - closed in _close
        self.read_pos = 0
        self.write_pos = 0
        self.finished = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def full(self) -> bool:
        return self.write_pos - self.read_pos >= MAX_SPOOL

    def add(self, data: bytes) -> None:
        self.file.seek(self.write_pos)
        self.file.write(data)
        self.write_pos += len(data)

    def finish(self) -> None:
        self.finished = True
        self.pump()

    def pump(self) -> None:
        """Write to the client until its buffer is full again (called on resume_writing)."""
        client = self.client
        while not client.closed and not client.paused_writing and self.read_pos < self.write_pos:
            self.file.seek(self.read_pos)
            chunk = self.file.read(min(_CHUNK, self.write_pos - self.read_pos))
            self.read_pos += len(chunk)
            client.write_raw(chunk)
        if client.closed or (self.finished and self.read_pos >= self.write_pos):
            self._close()

    def abort(self) -> None:
        self._close()

    def _close(self) -> None:
        if not self.done.done():
            self.file.close()
            self.done.set_result(None)
