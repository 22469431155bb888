"""The per-name verdicts the header rules remember (by the name as sent) are the rules'
verdicts: for every case and underscore spelling, with either underscores setting, before
and after the tables fill up."""

from __future__ import annotations

import itertools

import pytest

from odoo_router.http import headers as hdr
from odoo_router.http.response_headers import response_head

OURS = [
    b"Host",
    b"X-Odoo-dbfilter",
    b"X-Forwarded-For",
    b"X-Real-IP",
    b"X-Request-ID",
    b"Connection",
    b"Transfer-Encoding",
    b"Authorization",
]
OTHERS = [b"Cookie", b"User-Agent", b"X-Custom", b"Accept-Language", b"Sec-Fetch-Mode"]


def _spellings(name: bytes) -> list[bytes]:
    return [
        name,
        name.lower(),
        name.upper(),
        name.replace(b"-", b"_"),
        name.lower().replace(b"-", b"_"),
    ]


def _expected(name: bytes, underscores: bool) -> int:
    low = name.lower()
    kind = hdr.REQUEST_HEADER_KIND.get(low)
    if kind is not None:
        return kind
    if b"_" in low and (not underscores or low.replace(b"_", b"-") in hdr.REQUEST_HEADER_KIND):
        return hdr.DROP
    return hdr.FORWARD


@pytest.mark.parametrize("underscores", [False, True])
def test_request_kinds_match_the_rules_cold_and_remembered(underscores: bool) -> None:
    names = [s for n in OURS + OTHERS for s in _spellings(n)]
    for name in names:
        assert hdr.request_header_kind(name, underscores) == _expected(name, underscores), name
        assert hdr.REQUEST_KINDS[underscores][name] == _expected(name, underscores), name


def test_x_odoo_dbfilter_with_underscores_is_never_forwarded() -> None:
    for spelling, underscores in itertools.product(_spellings(b"X-Odoo-dbfilter"), [False, True]):
        assert hdr.request_header_kind(spelling, underscores) == hdr.DROP


def test_a_full_table_still_classifies() -> None:
    for i in range(2_000):  # more names than the table keeps
        hdr.request_header_kind(b"X-Filler-%d" % i, False)
    assert len(hdr.REQUEST_KINDS[False]) <= 1024
    assert hdr.request_header_kind(b"X_ODOO_DBFILTER", True) == hdr.DROP
    assert hdr.request_header_kind(b"X-Another-New-One", False) == hdr.FORWARD


def _relayed(
    headers: list[tuple[bytes, bytes]], keep_upgrade: bool = False
) -> tuple[list[bytes], int]:
    out: list[bytes] = []
    flat = [part for header in headers for part in header]
    framing = response_head(flat, True, b"Lax", keep_upgrade, out)
    return [out[i] for i in range(0, len(out), 4)], framing


def test_response_names_in_any_case_get_the_same_verdict() -> None:
    for spell in (bytes.lower, bytes.upper, lambda b: b):
        names, framing = _relayed(
            [
                (spell(b"Content-Length"), b"5"),
                (spell(b"Server"), b"x"),
                (spell(b"X-Accel-Redirect"), b"/x"),
                (spell(b"Keep-Alive"), b"timeout=5"),
                (spell(b"Upgrade"), b"websocket"),
                (spell(b"Set-Cookie"), b"a=b"),
                (spell(b"X-Custom"), b"1"),
            ]
        )
        assert [n.lower() for n in names] == [b"content-length", b"set-cookie", b"x-custom"]
        assert framing == 5
    names, _ = _relayed([(b"Upgrade", b"websocket")], keep_upgrade=True)
    assert names == [b"Upgrade"]
