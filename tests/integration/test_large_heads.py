"""Upstream response heads up to ``server.proxy_header_max`` (64 KiB in production, 128k in
the compat profile) are relayed, larger ones get 502 and an error line naming the pool and
the size (nginx: 502 above proxy_buffer_size, docs/deviations.md#upstream-header-max)."""

from __future__ import annotations

import pytest

from .client import get
from .router import RouterProcess

NAMED = "testodoo.seisei.tokyo"


def _lines(router: RouterProcess) -> list[str]:
    return [ln for ln in router.log().splitlines() if "server.proxy_header_max" in ln]


@pytest.mark.parametrize(
    ("profile", "size", "status"),
    [
        ("prod", 6_000, 200),  # nginx's 4k proxy_buffer_size would refuse it
        ("prod", 60_000, 200),
        ("prod", 70_000, 502),  # the head is whole in the second read
        ("prod", 300_000, 502),  # the first half alone is over the limit
        ("compat", 100_000, 200),  # location / of the reference: proxy_buffer_size 128k
        ("compat", 140_000, 502),
    ],
)
async def test_response_head_sizes(
    request: pytest.FixtureRequest, profile: str, size: int, status: int
) -> None:
    router: RouterProcess = request.getfixturevalue(profile)
    before = len(_lines(router))
    resp = await get(router.port, NAMED, "/web/x", [("X-Test-Behave", f"head:{size}")])
    assert resp.status == status
    if status == 200:
        assert resp.body == b"ok" and len(resp.header("Set-Cookie") or "") > size
        assert len(_lines(router)) == before
        return
    assert b"502 Bad Gateway" in resp.body
    line = _lines(router)[before]
    limit = 65536 if profile == "prod" else 131072
    assert line.startswith("odoo-router: upstream pool tenant (127.0.0.1:"), line
    assert f"over server.proxy_header_max ({limit}): 502" in line
    if size < 2 * limit:
        assert f"a response head of {size + 56} bytes," in line  # the exact head size
    else:
        assert " or more bytes, " in line
