"""A fake Odoo for the README demo, tests and benchmarks (aiohttp).

Every HTTP request is answered with JSON describing what the upstream received: which
pool it is, the method, the raw target, and the headers in order (duplicates kept). It
sets a ``session_id`` cookie the way Odoo does (no Secure, no SameSite) so the router's
cookie rules show, and ``/websocket`` echoes websocket messages. The JSON-RPC call
``db.db_exist`` (the router's master asks it before a tenant takes a metrics label) is
answered as Odoo would for a database it has: every database exists here.

    python -m odoo_router.ops.demo --listen 127.0.0.1:18069=tenant \
        --listen 127.0.0.1:18072=tenant_lp ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json

from aiohttp import WSMsgType, web


def _raw_headers(request: web.Request) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]


def _asks_db_exist(body: bytes) -> bool:
    try:
        params = json.loads(body)["params"]
        return bool(params["service"] == "db" and params["method"] == "db_exist")
    except (ValueError, LookupError, TypeError):
        return False


def make_app(name: str) -> web.Application:
    async def websocket(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await describe(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(f"{name}:{msg.data}")
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def describe(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST" and request.path == "/jsonrpc" and _asks_db_exist(body):
            return web.json_response({"jsonrpc": "2.0", "id": 1, "result": True})
        info = {
            "upstream": name,
            "method": request.method,
            "target": request.raw_path,
            "version": f"{request.version.major}.{request.version.minor}",
            "headers": [[k, v] for k, v in _raw_headers(request)],
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        resp = web.Response(text=json.dumps(info, indent=1) + "\n", content_type="application/json")
        resp.headers["Set-Cookie"] = "session_id=demo-session; Path=/; HttpOnly"
        return resp

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("GET", "/websocket", websocket)
    app.router.add_route("*", "/{tail:.*}", describe)
    return app


async def serve(listens: list[tuple[str, int, str]]) -> None:
    runners = []
    for host, port, name in listens:
        runner = web.AppRunner(make_app(name), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        runners.append(runner)
        print(f"fake odoo '{name}' on http://{host}:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="odoo-router-demo", description=__doc__.splitlines()[0])
    p.add_argument("--listen", action="append", required=True, metavar="HOST:PORT=NAME")
    args = p.parse_args(argv)
    listens = []
    for item in args.listen:
        addr, _, name = item.partition("=")
        host, _, port = addr.rpartition(":")
        listens.append((host, int(port), name or addr))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(listens))


if __name__ == "__main__":
    main()
