"""The router relies on its event loop for TCP_NODELAY (a response head and body may leave in
two writes; Nagle must never hold the second): both connections it makes, accepted from the
master's pre-bound socket and opened to an upstream, must have it set."""

from __future__ import annotations

import asyncio
import socket

import uvloop


async def _nodelay_both_ways() -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[int] = loop.create_future()

    class Server(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)  # as app.py hands the master's socket to create_server
    server = await loop.create_server(Server, sock=listener)
    port = listener.getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    outgoing = transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    try:
        return await asyncio.wait_for(accepted, 5), outgoing
    finally:
        transport.close()
        server.close()


def test_uvloop_sets_tcp_nodelay_on_accepted_and_upstream_connections() -> None:
    accepted, outgoing = uvloop.run(_nodelay_both_ways())
    assert accepted and outgoing
