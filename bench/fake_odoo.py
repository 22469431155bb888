"""A fake Odoo for the static-cache row: 5 ms per module static file, as Odoo headers it.

``/<module>/static/...`` answers after ``--delay`` with ``Cache-Control: public,
max-age=604800``, an ETag and Last-Modified, like Odoo 18 serving a file from the addons
path; anything else answers 200 at once. Run as a module: ``python -m bench.fake_odoo PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import re

from aiohttp import web

BODY = b"/* bench asset */\n" + b"x" * 1006
HEADERS = {
    "Content-Type": "text/javascript; charset=utf-8",
    "Cache-Control": "public, max-age=604800",
    "ETag": '"bench-asset-1"',
    "Last-Modified": "Tue, 14 Nov 2023 22:00:00 GMT",
}
_STATIC = re.compile(r"^/[a-z0-9_]+/static/")


def make_app(delay: float) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        if _STATIC.match(request.path):
            await asyncio.sleep(delay)
            return web.Response(body=BODY, headers=HEADERS)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--delay", type=float, default=0.005)
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    web.run_app(make_app(args.delay), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
