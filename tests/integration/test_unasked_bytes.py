"""Bytes an upstream sends that no request asked for are never anyone's answer.

An upstream that sends more than its response declared (a second response after a
Content-Length or chunked body, bytes after the head of a HEAD, 204 or 304 answer) leaves
its keep-alive connection in doubt: read as the answer to the next request sent on it, they
would hand one client's (or tenant's) bytes to another (response queue poisoning). The
router closes such a connection, whether the bytes come with the response or later, while
the connection waits in the idle list, and logs the pool and the byte count.

Every pool of both shipped profiles (config/nginx-compat.yaml, config/router.yaml: tenant,
tenant_lp, admin, admin_lp), every framing, the extra bytes with the response and later.
"""

from __future__ import annotations

import asyncio

import pytest

from .client import Conn, Response, build, connect, new_tag
from .router import RouterProcess
from .upstreams import Journal

NAMED = "testodoo.seisei.tokyo"
ADMIN = "admin.erp.seisei.tokyo"
# pool -> (host, path) that reaches it in both profiles (plain requests, no upgrade)
ROUTES = {
    "tenant": (NAMED, "/web/x"),
    "tenant_lp": (NAMED, "/longpolling/poll"),
    "admin": (ADMIN, "/web/x"),
    "admin_lp": (ADMIN, "/longpolling/poll"),
}
FIRST = {
    "cl": (200, b"hello"),
    "chunked": (200, b"hello"),
    "head": (200, b""),
    "204": (204, b""),
    "304": (304, b""),
}


def _own_answer(resp: Response, pool: str, tag: str) -> None:
    assert resp.upstream() == pool, f"another request's bytes were served: {resp}"
    assert resp.seen("X-Test-Tag") == [tag]


async def _next_requests_get_their_own_answers(
    router: RouterProcess, first: Conn, pool: str
) -> None:
    """The client that got the first answer, then fresh clients: each gets its own."""
    host, path = ROUTES[pool]
    for i in range(3):
        conn = first if i == 0 else await connect(router.port)
        try:
            tag = new_tag()
            await conn.send(build("GET", f"{path}/next{i}", [("Host", host), ("X-Test-Tag", tag)]))
            _own_answer(await conn.response(), pool, tag)
        finally:
            if i:
                await conn.close()


def _closed_lines(router: RouterProcess, pool: str) -> list[str]:
    return [ln for ln in router.log().splitlines() if f"upstream pool {pool} " in ln]


@pytest.mark.parametrize("when", ["with", "later"])
@pytest.mark.parametrize("framing", ["cl", "chunked", "head", "204", "304"])
@pytest.mark.parametrize("pool", list(ROUTES))
@pytest.mark.parametrize("profile", ["compat", "prod"])
async def test_unasked_bytes_end_the_upstream_connection(
    request: pytest.FixtureRequest,
    journal: Journal,
    profile: str,
    pool: str,
    framing: str,
    when: str,
) -> None:
    router: RouterProcess = request.getfixturevalue(profile)
    host, path = ROUTES[pool]
    method = "HEAD" if framing == "head" else "GET"
    tag = new_tag()
    logged = len(_closed_lines(router, pool))
    conn = await connect(router.port)
    try:
        head = [("Host", host), ("X-Test-Behave", f"unasked:{framing}:{when}"), ("X-Test-Tag", tag)]
        await conn.send(build(method, path, head))
        first = await conn.response(method)
        assert (first.status, first.body) == FIRST[framing]
        assert first.upstream() == "first"
        if when == "later":
            await asyncio.sleep(0.4)  # the forged answer reaches the idle connection
        await _next_requests_get_their_own_answers(router, conn, pool)
    finally:
        await conn.close()
    conn_id = journal.heads[tag]
    assert await journal.wait_for(lambda: journal.is_closed(conn_id), 3), (
        "a connection that sent unasked bytes is closed, never reused"
    )
    if framing != "head":  # a HEAD answer's connection is never reused anyway
        assert await journal.wait_for(lambda: len(_closed_lines(router, pool)) > logged, 3)
        line = _closed_lines(router, pool)[logged]
        assert " bytes " in line and "closed" in line, line


@pytest.mark.parametrize("pool", list(ROUTES))
async def test_an_idle_connection_closed_by_the_upstream_is_never_reused(
    compat: RouterProcess, journal: Journal, pool: str
) -> None:
    """EOF on an idle connection (Odoo's keep-alive timeout): the next request gets a new
    connection and its own answer at once, no stale-retry needed."""
    host, path = ROUTES[pool]
    tag = new_tag()
    conn = await connect(compat.port)
    try:
        head = [("Host", host), ("X-Test-Behave", "unasked:cl:eof-later"), ("X-Test-Tag", tag)]
        await conn.send(build("GET", path, head))
        assert (await conn.response()).body == b"hello"
        await asyncio.sleep(0.4)
        await _next_requests_get_their_own_answers(compat, conn, pool)
    finally:
        await conn.close()
