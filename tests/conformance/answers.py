"""Answers the echo upstreams give on request (`?echo=NAME` in the target), to compare what
each proxy does with an upstream's response: cookies, bodiless statuses, chunked and large
bodies, hop-by-hop response headers, nginx's X-Accel-* control headers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

Answer = Callable[[web.Request, str], Awaitable[web.StreamResponse]]

ODD_COOKIES = (
    "a=1; Path=/secure",
    "b=secure",
    "c=1; SECURE",
    "d=1;secure",
    "e=1; HttpOnly;Secure",
    "f=",
    "g=1; Domain=.seisei.tokyo; Max-Age=0; SameSite=None",
    "session_id=abc; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Path=/",
)


def _text(pool: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=f"upstream={pool}\n", content_type="text/plain")


async def _cookies(request: web.Request, pool: str) -> web.StreamResponse:
    response = _text(pool)
    for cookie in ODD_COOKIES:
        response.headers.add("Set-Cookie", cookie)
    return response


async def _no_content(request: web.Request, pool: str) -> web.StreamResponse:
    return web.Response(status=204, headers={"Set-Cookie": "n=1; Path=/"})


async def _not_modified(request: web.Request, pool: str) -> web.StreamResponse:
    return web.Response(status=304, headers={"ETag": '"v1"', "Cache-Control": "max-age=60"})


async def _server_error(request: web.Request, pool: str) -> web.StreamResponse:
    return _text(pool, 500)


async def _redirect(request: web.Request, pool: str) -> web.StreamResponse:
    return web.Response(status=303, headers={"Location": "https://example.com/odoo?from=up"})


async def _chunked(request: web.Request, pool: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if request.version >= (1, 1):
        response.enable_chunked_encoding()  # HTTP/1.0 (nginx's default): close-delimited
    await response.prepare(request)
    for part in (b'{"pool": "', pool.encode(), b'", "parts": 3}'):
        await response.write(part)
    await response.write_eof()
    return response


async def _big(request: web.Request, pool: str) -> web.StreamResponse:
    body = (f"{pool} " * 200_000).encode()[: 1 << 20]
    return web.Response(body=body, content_type="application/octet-stream")


async def _hop_by_hop(request: web.Request, pool: str) -> web.StreamResponse:
    response = _text(pool)
    response.headers["Connection"] = "X-Secret"
    response.headers["X-Secret"] = "upstream-only"
    response.headers["Keep-Alive"] = "timeout=5"
    response.headers["Proxy-Connection"] = "keep-alive"
    return response


async def _accel(request: web.Request, pool: str) -> web.StreamResponse:
    response = _text(pool)
    response.headers["X-Accel-Buffering"] = "no"
    response.headers["X-Accel-Expires"] = "0"
    response.headers["X-Pad"] = "avoid browser bug"
    return response


async def _slow(request: web.Request, pool: str) -> web.StreamResponse:
    await asyncio.sleep(1.0)  # a client that half-closes meanwhile (test_half_close.py)
    return _text(pool)


ANSWERS: dict[str, Answer] = {
    "cookies": _cookies,
    "no-content": _no_content,
    "not-modified": _not_modified,
    "server-error": _server_error,
    "redirect": _redirect,
    "chunked": _chunked,
    "big": _big,
    "hop-by-hop": _hop_by_hop,
    "accel": _accel,
    "slow": _slow,
}


def requested(raw_target: str) -> Answer | None:
    """The answer a target asks for with `echo=NAME`, if any (no query parsing: odd targets)."""
    if "echo=" not in raw_target:
        return None
    name = raw_target.split("echo=", 1)[1].split("&", 1)[0]
    return ANSWERS.get(name)
