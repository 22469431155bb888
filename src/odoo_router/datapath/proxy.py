"""The client side's protocol object: one per accepted connection, and nothing but the
transport's events handed to the connection's driver (driver.py), which moves its requests
through their states. docs/architecture.md shows the whole data path.
"""

from __future__ import annotations

import asyncio

from .driver import Driver
from .state import WorkerState


class ClientConnection(asyncio.Protocol):
    __slots__ = ("driver",)

    def __init__(self, state: WorkerState) -> None:
        self.driver = Driver(state)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Head and body may leave in two writes: Nagle must never hold the second one. Both
        # uvloop and asyncio set TCP_NODELAY on every TCP transport
        # (tests/unit/datapath/test_nodelay.py).
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            address = str(peer[0])
        elif peer:
            address = "unix"
        else:
            address = "127.0.0.1"
        driver = self.driver
        transport.set_write_buffer_limits(high=driver.state.settings.response_buffer)  # type: ignore[attr-defined]
        driver.connection_made(transport, address)  # type: ignore[arg-type]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.driver.received(data)

    def eof_received(self) -> bool:
        return self.driver.eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.driver.lost()

    @property
    def closed(self) -> bool:
        return self.driver.closed

    def pause_writing(self) -> None:
        self.driver.out.writing_paused()

    def resume_writing(self) -> None:
        self.driver.drained()
