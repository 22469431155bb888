"""``Expect: 100-continue`` on a request the router answers itself (a redirect, a 403, a
421, a health answer): the answer comes at once, without ``100 Continue``, with
``Connection: close``; whatever the client still sends (the body it may send anyway,
requests pipelined behind it) is read and dropped until it closes, never parsed as a
request (docs/deviations.md#expect-continue-local-answer)."""

from __future__ import annotations

import asyncio

import pytest

from .client import build, connect, new_tag
from .router import RouterProcess
from .upstreams import Journal

# (profile, host, path, status): local answers of both profiles
LOCAL = [
    ("compat", "acme.erp.seisei.tokyo", "/web/login", 302),
    ("compat", "acme.erp.seisei.tokyo", "/web/database/manager", 403),
    ("compat", "testodoo.seisei.tokyo", "/nginx-health", 200),
    ("prod", "acme.erp.seisei.tokyo", "/web/login", 302),
    ("prod", "acme.erp.seisei.tokyo", "/en/web/database/manager", 403),
    ("prod", "nobody.example", "/jsonrpc", 421),
]


@pytest.mark.parametrize(("profile", "host", "path", "status"), LOCAL)
async def test_local_answer_to_expect_continue(
    request: pytest.FixtureRequest,
    journal: Journal,
    profile: str,
    host: str,
    path: str,
    status: int,
) -> None:
    router: RouterProcess = request.getfixturevalue(profile)
    tag = new_tag()
    conn = await connect(router.port)
    try:
        head = [("Host", host), ("Content-Length", "10"), ("Expect", "100-continue")]
        await conn.send(build("POST", path, head, length=False))
        resp = await conn.response(timeout=2)  # at once: the client is waiting
        assert resp.status == status, "a final answer, not 100 Continue"
        assert resp.header("Connection") == "close"
        # A client that sends the body anyway, and a request behind it: dropped unanswered.
        after = [("Host", "testodoo.seisei.tokyo"), ("X-Test-Tag", tag)]
        await conn.send(b"0123456789" + build("GET", "/web/after", after))
        assert await conn.at_eof(timeout=3)
    finally:
        await conn.close()
    await asyncio.sleep(0.2)
    assert journal.by_tag(tag) == [], "nothing after a local answer to Expect is a request"


async def test_local_answer_to_expect_without_the_body(compat: RouterProcess) -> None:
    """The client that takes the answer and sends no body: the router ends the connection
    (lingering close), nobody waits for client_body_timeout."""
    conn = await connect(compat.port)
    try:
        head = [("Host", "acme.erp.seisei.tokyo"), ("Content-Length", "1000000")]
        await conn.send(build("POST", "/web/login", [*head, ("Expect", "100-continue")]))
        resp = await conn.response(timeout=2)
        assert (resp.status, resp.header("Connection")) == (302, "close")
        assert await conn.at_eof(timeout=8)  # LINGERING_TIMEOUT 5 s without a byte
    finally:
        await conn.close()
