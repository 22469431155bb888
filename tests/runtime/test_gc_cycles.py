"""A finished connection is freed by reference counting alone.

Each connection's parser holds the protocol's bound methods (a cycle), and so does each
upstream connection's Exchange. Left to the cyclic GC, every closed connection and the
requests hanging off it pile up until a collection pauses the worker for milliseconds (seen
as p99 spikes in the new-connection bench row). The router breaks those cycles when a
connection is lost; this test serves real requests of every kind over loopback, in process,
and finds no router object in what the cyclic GC would have to collect.
"""

from __future__ import annotations

import asyncio
import gc

import uvloop
import yaml

from harness.processes import free_port
from integration.router import compat_config
from integration.upstreams import Farm
from odoo_router.configuration.validate import build_config
from odoo_router.datapath.exchange import Exchange
from odoo_router.datapath.proxy import ClientConnection
from odoo_router.datapath.request import Request
from odoo_router.datapath.state import WorkerState

TENANT = b"testodoo.seisei.tokyo"
REQUESTS = [
    b"GET /web/x HTTP/1.1\r\nHost: %s\r\n\r\n" % TENANT,  # proxied, kept alive
    b"GET /web/y HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % TENANT,
    b"POST /jsonrpc HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n\r\n{}" % TENANT,
    b"GET /web/database/manager HTTP/1.1\r\nHost: %s\r\n\r\n" % TENANT,  # local 403
    b"GET /web/login HTTP/1.1\r\nHost: acme.erp.seisei.tokyo\r\n\r\n",  # redirect
    b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",  # 400
    b"GET /x HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: gzip\r\n\r\n" % TENANT,  # 501
]
CUT = b"POST /web/x HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n\r\nab" % TENANT


async def _serve_and_close(state: WorkerState) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ClientConnection(state), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for raw in REQUESTS:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        await asyncio.wait_for(reader.read(65536), 10)
        writer.close()
        await writer.wait_closed()
    # A client that goes away in the middle of its body (the router waits for the rest).
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(CUT)
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)  # let every connection_lost run
    state.pools.close_idle()
    await asyncio.sleep(0.2)
    server.close()
    await server.wait_closed()


def _router_objects_in_cycles() -> list[str]:
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        kinds = (ClientConnection, Request, Exchange)
        found = (o for o in gc.garbage if isinstance(o, kinds))
        return [f"{type(o).__name__} {getattr(o, 'url', b'')!r}" for o in found]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_connections_leave_no_cyclic_garbage(farm: Farm) -> None:
    data = compat_config(free_port(), farm.ports)
    state = WorkerState(build_config(yaml.safe_dump(data)))
    gc.collect()
    gc.disable()  # what piles up between collections is what this test looks for
    try:
        uvloop.run(_serve_and_close(state))
        assert _router_objects_in_cycles() == []
    finally:
        gc.enable()
