"""headparse: the events each request stream gives, from both parsers (the compiled one and
the current one), with the router's limits at their boundaries. The differential fuzz
(test_headparse_fuzz.py) holds the two to each other; this holds them to what the router
needs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from harness.heads import differ
from odoo_router.datapath import headparse
from odoo_router.datapath.headparse import IN_HEAD, UPGRADE, Event, HeadParser, new_parser

PURE = os.environ.get("ODOO_ROUTER_PURE", "") not in ("", "0")
SWITCHED_OFF = os.environ.get(headparse.SWITCH, "") == "httptools"
H = b"Host: a\r\n"
Make = Callable[[int, int], HeadParser]


@pytest.fixture(params=["current", "compiled"])
def make(request: pytest.FixtureRequest) -> Make:
    compiled = request.param == "compiled"
    if compiled and not headparse.COMPILED:
        pytest.skip("the compiled head parser is not built (pure build)")

    def new(limit: int, max_headers: int) -> HeadParser:
        parser = new_parser(limit, max_headers, compiled=compiled)
        assert isinstance(parser, headparse.LlhttpParser) != compiled
        return parser

    return new


def feed(make: Make, data: bytes, limit: int = 8192, max_headers: int = 1000) -> list[Event]:
    parser = make(limit, max_headers)
    events = parser.feed(data)
    parser.close()
    return events


@pytest.mark.skipif(PURE, reason="ODOO_ROUTER_PURE=1: a pure-Python build was asked for")
@pytest.mark.skipif(SWITCHED_OFF, reason=f"{headparse.SWITCH}=httptools: the fallback is asked")
def test_the_compiled_build_has_the_compiled_parser() -> None:
    assert headparse.COMPILED, headparse.describe()
    assert "compiled" in headparse.describe()


def _imported(value: str) -> subprocess.CompletedProcess[str]:
    code = "from odoo_router.datapath import headparse as h; print(h.COMPILED, h.describe())"
    env = {**os.environ, headparse.SWITCH: value}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_environment_switch_forces_the_fallback() -> None:
    done = _imported("httptools")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("False head parser: llhttp through httptools")
    assert f"({headparse.SWITCH}=httptools)" in done.stdout
    if headparse.COMPILED or SWITCHED_OFF:
        done = _imported("compiled")
        assert done.returncode == 0 and done.stdout.startswith(f"{not PURE} head parser")


def test_an_unknown_switch_value_is_a_clear_error() -> None:
    done = _imported("fast")
    assert done.returncode != 0
    assert f"ValueError: {headparse.SWITCH} must be 'compiled' or 'httptools', not 'fast'" in (
        done.stderr
    )


def test_a_keep_alive_get_is_one_head_and_its_end(make: Make) -> None:
    data = b"GET /web/x?a=1 HTTP/1.1\r\nHost: t.example\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
    headers = [b"Host", b"t.example", b"User-Agent", b"wrk", b"Accept", b"*/*"]
    assert feed(make, data) == [("GET", b"/web/x?a=1", 11, headers, True, False), None]


def test_pipelined_messages_and_bodies_in_order(make: Make) -> None:
    data = (
        b"POST /jsonrpc HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\n{}"
        b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n1\r\nd\r\n0\r\nX-Trailer: 1\r\n\r\n"
        b"HEAD / HTTP/1.0\r\n\r\n"
    )
    assert feed(make, data) == [
        ("POST", b"/jsonrpc", 11, [b"Host", b"a", b"Content-Length", b"2"], True, False),
        b"{}",
        None,
        ("POST", b"/c", 11, [b"Host", b"a", b"Transfer-Encoding", b"chunked"], True, False),
        b"abc",
        b"d",
        None,  # the trailer is dropped
        ("HEAD", b"/", 10, [], False, False),
        None,
    ]


def test_a_body_across_reads(make: Make) -> None:
    parser = make(8192, 1000)
    first = parser.feed(b"PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab")
    assert first == [("PUT", b"/x", 11, [b"Content-Length", b"5"], True, False), b"ab"]
    assert parser.feed(b"cde") == [b"cde", None]
    assert parser.feed(b"GET / HTTP/1.1\r") == [IN_HEAD]
    assert parser.feed(b"\n\r\n") == [("GET", b"/", 11, [], True, False), None]


def test_a_feed_that_ends_inside_a_head_says_so(make: Make) -> None:
    """IN_HEAD ends every feed that stops inside a head (the caller dates the head from the
    first), whether it began in that feed or before, and no other."""
    parser = make(8192, 1000)
    assert parser.feed(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HT") == [
        ("GET", b"/a", 11, [b"Host", b"a"], True, False),
        None,
        IN_HEAD,
    ]
    assert parser.feed(b"TP/1.1\r\nX: 1") == [IN_HEAD]
    assert parser.feed(b"\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\na") == [
        ("GET", b"/b", 11, [b"X", b"1"], True, False),
        None,
        ("POST", b"/c", 11, [b"Content-Length", b"2"], True, False),
        b"a",
    ]
    assert parser.feed(b"b") == [b"b", None]


@pytest.mark.parametrize(
    "line",
    [
        b"GET /jsonrpc\r\n",  # HTTP/0.9: llhttp would wait for a header line
        b"GET /jsonrpc\n",
        b"GET / RTSP/1.0\r\n\r\n",  # llhttp would take it as HTTP/1.0
        b"DESCRIBE / RTSP/1.0\r\n\r\n",
        b"SOURCE / ICE/1.0\r\n\r\n",
        b"GET /xHTTP/1.1\r\n\r\n",
        b"\r\nGET /jsonrpc\r\n",  # after blank lines, still HTTP/0.9
        b"\n\r\rGET /jsonrpc\n",
    ],
)
def test_a_feed_starting_with_no_http_version_is_refused(make: Make, line: bytes) -> None:
    parser = make(8192, 1000)
    assert parser.feed(line) == [400]
    assert not parser.in_head  # nothing was parsed


GET_A = ("GET", b"/a", 11, [b"Host", b"a"], True, False)
BLANKS = [b"\r\n", b"\n", b"\r", b"\r\r\n\n\r", b"\r\n" * 5000]


@pytest.mark.parametrize("blank", BLANKS, ids=lambda b: repr(b[:8]))
def test_blank_lines_before_a_request_line_are_skipped(make: Make, blank: bytes) -> None:
    """As nginx (ngx_http_parse_request_line's start state): CR and LF bytes before a
    request line, any number in any order, on a new connection and between two requests,
    in the same read or alone in one; they count against no limit."""
    get = b"GET /a HTTP/1.1\r\n" + H + b"\r\n"
    assert feed(make, blank + get, limit=64) == [GET_A, None]
    assert feed(make, get + blank + get, limit=64) == [GET_A, None, GET_A, None]
    parser = make(64, 1000)
    assert parser.feed(get) == [GET_A, None]
    assert parser.feed(blank) == []  # no message began: nothing to time or log
    assert not parser.in_head
    assert parser.feed(blank + get) == [GET_A, None]
    assert parser.feed(blank + b"GET /a") == [IN_HEAD]
    assert parser.feed(b" HTTP/1.1\r\n" + H + b"\r\n") == [GET_A, None]


@pytest.mark.parametrize("lead", [b" ", b"\t", b"\x0b", b"\x0c", b"\x00", b"\r\n "])
def test_other_whitespace_before_a_request_line_is_refused(make: Make, lead: bytes) -> None:
    """nginx takes only CR and LF there; anything else is no method (400)."""
    assert feed(make, lead + b"GET / HTTP/1.1\r\n" + H + b"\r\n") == [400]


def test_a_blank_line_after_a_body_is_skipped(make: Make) -> None:
    """Old clients end a POST body with an extra CRLF: the next request still parses."""
    post = b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\n{}"
    parser = make(8192, 1000)
    assert parser.feed(post)[1:] == [b"{}", None]
    assert parser.feed(b"\r\nGET /a HTTP/1.1\r\n" + H + b"\r\n") == [GET_A, None]


def test_the_version_check_is_on_a_feed_that_starts_a_message(make: Make) -> None:
    """As framing checked each read: the first line of a feed outside a message, when its
    end is there; llhttp decides the rest (here, a 0.9 line inside a feed waits)."""
    parser = make(8192, 1000)
    assert parser.feed(b"GET /a") == [IN_HEAD]  # no line end yet: llhttp reads on
    assert parser.feed(b" HTTP/1.1\r\n\r\nGET /b\r\n") == [
        ("GET", b"/a", 11, [], True, False),
        None,
        IN_HEAD,
    ]


def test_after_a_refusal_in_a_head_its_target_is_known(make: Make) -> None:
    parser = make(100, 1000)
    events = parser.feed(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /form?x HTTP/1.1\r\nX: ")
    assert events[-1] == IN_HEAD
    assert parser.feed(b"v" * 100 + b"\r\n\r\n") == [494]  # checked once the line is whole
    assert parser.in_head and parser.target == b"/form?x"
    parser = make(8192, 1000)
    assert parser.feed(b"GET / HTTP/1.1\r\n\r\n")[-1] is None
    assert not parser.in_head


def test_values_lose_trailing_blanks_and_keep_the_rest(make: Make) -> None:
    data = b"GET / HTTP/1.1\r\nX-A:\r\nX-B:  \t \r\nX-C: a b\t \r\nX-D:\t\x80\xff \r\n\r\n"
    head = feed(make, data)[0]
    assert isinstance(head, tuple)
    assert head[3] == [b"X-A", b"", b"X-B", b"", b"X-C", b"a b", b"X-D", b"\x80\xff"]


@pytest.mark.parametrize(
    ("version", "code", "keep_alive"),
    [(b"1.1", 11, True), (b"1.0", 10, False), (b"1.2", 12, True), (b"1.9", 19, True)],
)
def test_http_1_minor_versions(make: Make, version: bytes, code: int, keep_alive: bool) -> None:
    assert feed(make, b"GET / HTTP/" + version + b"\r\n\r\n") == [
        ("GET", b"/", code, [], keep_alive, False),
        None,
    ]


@pytest.mark.parametrize(
    ("version", "status"), [(b"0.9", 400), (b"0.1", 400), (b"2.0", 505), (b"3.1", 505)]
)
def test_other_versions_are_refused(make: Make, version: bytes, status: int) -> None:
    assert feed(make, b"GET / HTTP/" + version + b"\r\n" + H + b"\r\n") == [status]


def test_the_target_limit_is_inclusive(make: Make) -> None:
    target = b"/" + b"t" * 99
    assert feed(make, b"GET " + target + b" HTTP/1.1\r\n\r\n", limit=100)[0] == (
        "GET", target, 11, [], True, False,
    )  # fmt: skip
    assert feed(make, b"GET " + target + b"t HTTP/1.1\r\n\r\n", limit=100) == [414]


def test_a_header_line_over_the_limit_is_494(make: Make) -> None:
    # name + value + 4 (": " and CRLF, as nginx counts) against the limit
    fits = b"X: " + b"v" * 95 + b"\r\n"
    assert len(feed(make, b"GET / HTTP/1.1\r\n" + fits + b"\r\n", limit=100)) == 2
    over = b"X: " + b"v" * 96 + b"\r\n"
    assert feed(make, b"GET / HTTP/1.1\r\n" + over + b"\r\n", limit=100) == [494]


def test_all_headers_over_four_times_the_limit_is_494(make: Make) -> None:
    line = b"X: " + b"v" * 95 + b"\r\n"  # 100 bytes each, as counted
    assert len(feed(make, b"GET / HTTP/1.1\r\n" + line * 4 + b"\r\n", limit=100)) == 2
    assert feed(make, b"GET / HTTP/1.1\r\n" + line * 4 + b"X: y\r\n\r\n", limit=100) == [494]


def test_the_header_count_limit(make: Make) -> None:
    three = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
    assert len(feed(make, three, max_headers=3)) == 2
    assert feed(make, three, max_headers=2) == [494]


def test_trailers_count_against_the_limits(make: Make) -> None:
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    ok = feed(make, head + b"0\r\nT: " + b"v" * 80 + b"\r\n\r\n", limit=100)
    assert ok[-1] is None and len(ok) == 2
    big = feed(make, head + b"0\r\nT: " + b"v" * 96 + b"\r\n\r\n", limit=100)
    assert big[-1] == 494


def test_an_upgrade_ends_the_feed_where_the_tunnel_starts(make: Make) -> None:
    parser = make(8192, 1000)
    head = b"GET /websocket HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    events = parser.feed(head + b"\x81\x85frame")
    assert events[-2:] == [None, UPGRADE]
    first = events[0]
    assert isinstance(first, tuple) and first[5] is True
    assert parser.upgrade_at == len(head)


def test_an_upgrade_with_a_body_leaves_the_body_to_the_tunnel(make: Make) -> None:
    """As httptools: an upgrade's head ends the message, whatever length it declares."""
    parser = make(8192, 1000)
    head = b"POST /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 4\r\n\r\n"
    assert parser.feed(head + b"body")[-2:] == [None, UPGRADE]
    assert parser.upgrade_at == len(head)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),  # bare LF (docs/deviations.md#strict-request-head)
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
        (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"FOO / HTTP/1.1\r\n\r\n", 400),
        (b"get / HTTP/1.1\r\n\r\n", 400),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400),  # framing.py escapes raw bytes first
        (b"GET / HTTP/1.10\r\n\r\n", 400),
    ],
)
def test_smuggling_shapes_are_refused(make: Make, data: bytes, status: int) -> None:
    assert feed(make, data)[-1] == status


def test_an_unknown_transfer_coding_is_501_after_its_head(make: Make) -> None:
    events = feed(make, b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
    assert events[-1] == 501 and isinstance(events[0], tuple)


def test_nothing_is_parsed_after_connection_close(make: Make) -> None:
    data = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    events = feed(make, data)
    assert events[:2] == [("GET", b"/", 11, [b"Connection", b"close"], False, False), None]
    assert events[2:] == [400]


def test_limits_are_checked_on_construction(make: Make) -> None:
    with pytest.raises(ValueError):
        make(0, 10)


def test_every_cut_of_a_stream_agrees() -> None:
    """Each single cut point, and each pair in a short stream, gives the same events."""
    stream = (
        b"POST /jsonrpc HTTP/1.1\r\nHost: a\r\nX-Long: " + b"v" * 40 + b"\r\n"
        b"Content-Length: 3\r\n\r\nabc"
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n"
        b"GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\nrest"
    )
    for cut in range(1, len(stream)):
        assert not differ(stream, [cut], limit=60), cut
    short = b"GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"
    for a in range(1, len(short)):
        for b in range(a + 1, len(short)):
            assert not differ(short, [a, b]), (a, b)


@pytest.mark.skipif(not headparse.COMPILED, reason="the compiled head parser is not built")
def test_the_compiled_parser_hands_common_names_made_once() -> None:
    """Names as clients send them most come as one object each (no allocation, the hash
    kept); any other name, in any other case, is its own object, equal to what was sent."""
    parser = new_parser(8192, 10)
    data = b"GET / HTTP/1.1\r\nHost: a\r\nX-Odd: 1\r\nHOST: b\r\n\r\n"
    first, second = parser.feed(data)[0], parser.feed(data)[0]
    assert isinstance(first, tuple) and isinstance(second, tuple)
    assert first[3] == second[3] == [b"Host", b"a", b"X-Odd", b"1", b"HOST", b"b"]
    assert first[3][0] is second[3][0]
    assert first[3][2] is not second[3][2] and first[3][4] is not second[3][4]


@pytest.mark.skipif(not headparse.COMPILED, reason="the compiled head parser is not built")
def test_the_compiled_parser_refuses_misuse() -> None:
    parser = new_parser(8192, 10)
    with pytest.raises(TypeError):
        parser.feed(bytearray(b"GET / HTTP/1.1\r\n\r\n"))  # type: ignore[arg-type]
    raw = type(parser).__new__(type(parser))  # type: ignore[call-overload]
    with pytest.raises(ValueError):
        raw.feed(b"GET / HTTP/1.1\r\n\r\n")
