"""respparse: the events each upstream answer gives, from both parsers (the compiled one and
the fallback through httptools), for what the exchange needs: whole heads, interim answers
dropped, the answer to a HEAD ended at its head, bytes after the end reported as unasked,
upgrades, llhttp's reason for a bad answer. The differential fuzz (test_respparse_fuzz.py)
holds the two to each other; this holds them to what the router needs."""

from __future__ import annotations

import os

import pytest

from odoo_router.datapath import headparse, respparse
from odoo_router.datapath.respparse import UNASKED, UPGRADE, ResponseEvent, ResponseParser

SWITCHED_OFF = os.environ.get(headparse.SWITCH, "") == "httptools"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


@pytest.fixture(params=["httptools", "compiled"])
def parser(request: pytest.FixtureRequest) -> ResponseParser:
    compiled = request.param == "compiled"
    if compiled and respparse.CompiledResponseParser is None:
        pytest.skip("the compiled head parser is not built (pure build), or switched off")
    made = respparse.new_response_parser(compiled=compiled)
    assert isinstance(made, respparse.LlhttpResponseParser) != compiled
    made.begin(False, False)
    return made


def feed_all(parser: ResponseParser, *reads: bytes, head_only: bool = False) -> list[ResponseEvent]:
    """The events of ``reads`` as the answer to a fresh request (llhttp starts over: an
    earlier answer may have left it stopped)."""
    parser.begin(head_only, True)
    events: list[ResponseEvent] = []
    for data in reads:
        events += parser.feed(data)
    return events


def test_the_compiled_parser_runs_where_the_request_side_does() -> None:
    assert (respparse.CompiledResponseParser is not None) == headparse.COMPILED
    if SWITCHED_OFF:
        assert respparse.CompiledResponseParser is None


def test_a_head_is_handed_over_whole_with_its_body_and_end(parser: ResponseParser) -> None:
    raw = b"HTTP/1.1 404 Not Here\r\nContent-Type: text/plain\r\nX-Pad:  a \t\r\nE:\r\n"
    raw += b"Content-Length: 5\r\n\r\nhello"
    assert feed_all(parser, raw) == [
        (
            404,
            b"Not Here",
            [b"Content-Type", b"text/plain", b"X-Pad", b"a \t", b"E", b"", b"Content-Length", b"5"],
            True,
        ),
        b"hello",
        None,
    ]


def test_a_head_across_reads_and_a_reason_cut_in_two(parser: ResponseParser) -> None:
    reads = (b"HTTP/1.1 200 Al", b"l Good\r\nX-A", b"b: c", b"d\r\nContent-Length: 2\r\n\r")
    reads += (b"\nok",)
    assert feed_all(parser, *reads) == [
        (200, b"All Good", [b"X-Ab", b"cd", b"Content-Length", b"2"], True),
        b"ok",
        None,
    ]


def test_keep_alive_as_llhttp_reads_the_head(parser: ResponseParser) -> None:
    closing = feed_all(parser, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert closing[0] == (200, b"OK", [b"Connection", b"close", b"Content-Length", b"0"], False)
    old = feed_all(parser, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert old[0] == (200, b"OK", [b"Content-Length", b"0"], False)


def test_interim_answers_are_dropped(parser: ResponseParser) -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK
    assert feed_all(parser, raw) == [(200, b"OK", [b"Content-Length", b"5"], True), b"hello", None]


def test_a_chunked_body_unframed_and_its_trailers_dropped(parser: ResponseParser) -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"5;name=value\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n"
    assert feed_all(parser, raw) == [
        (200, b"OK", [b"Transfer-Encoding", b"chunked"], True),
        b"hello",
        b"!",
        None,
    ]


def test_a_close_delimited_body_has_no_end_until_the_connection_closes(
    parser: ResponseParser,
) -> None:
    events = feed_all(parser, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome", b" more")
    assert events == [(200, b"OK", [b"Connection", b"close"], False), b"some", b" more"]


@pytest.mark.parametrize(
    "after",
    [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged", b"x", b"\r\nHTTP/1.1 200 OK\r\n"],
)
def test_bytes_after_the_end_are_unasked(parser: ResponseParser, after: bytes) -> None:
    assert feed_all(parser, OK + after)[-2:] == [None, UNASKED]


def test_a_blank_line_after_the_end_is_skipped_as_llhttp_skips_it(parser: ResponseParser) -> None:
    assert feed_all(parser, OK + b"\r\n")[-1] is None


def test_bytes_after_a_closing_answer_are_unasked(parser: ResponseParser) -> None:
    raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokmore"
    assert feed_all(parser, raw)[-2:] == [None, UNASKED]


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_a_204_or_304_ends_with_its_head(parser: ResponseParser, status: bytes) -> None:
    raw = b"HTTP/1.1 " + status + b"\r\nContent-Length: 5\r\n\r\n"
    assert feed_all(parser, raw)[1:] == [None]
    assert feed_all(parser, raw + b"hello")[1:] == [None, UNASKED]


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_the_answer_to_a_head_ends_with_its_head(parser: ResponseParser, head: bytes) -> None:
    events = feed_all(parser, head, head_only=True)
    assert events[1:] == [None]
    body = b"5\r\nhello\r\n0\r\n\r\n"
    assert feed_all(parser, head + body, head_only=True)[1:] == [None, UNASKED]
    assert feed_all(parser, head, b"x", head_only=True)[1:] == [None, UNASKED]


def test_an_upgrade_says_where_the_tunnel_begins(parser: ResponseParser) -> None:
    head = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
    events = feed_all(parser, head + b"\x81\x05hello")
    assert events == [
        (101, b"Switching Protocols", [b"Connection", b"upgrade", b"Upgrade", b"websocket"], True),
        None,
        UPGRADE,
    ]
    assert parser.upgrade_at == len(head)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Duplicate"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Invalid character in Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "Invalid character"),
        (b"HTTP/1.1 200 OK\nX: 1\n\n", "Missing expected CR"),
        (b"HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n", ""),
        (b"SMTP/1.1 200 OK\r\n\r\n", "Expected HTTP/"),
    ],
)
def test_a_bad_answer_ends_with_llhttps_reason(
    parser: ResponseParser, raw: bytes, reason: str
) -> None:
    last = feed_all(parser, raw)[-1]
    assert isinstance(last, str) and reason in last, last


def test_begin_starts_over_after_an_answer_read_around_the_parser(parser: ResponseParser) -> None:
    parser.begin(False, False)
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")[1:] == [b"abc"]
    parser.begin(False, True)  # the rest of that body bypassed the parser
    assert parser.feed(OK) == [(200, b"OK", [b"Content-Length", b"5"], True), b"hello", None]


def test_the_compiled_parser_makes_common_names_once() -> None:
    if respparse.CompiledResponseParser is None:
        pytest.skip("the compiled head parser is not built")
    one, two = (respparse.new_response_parser() for _ in range(2))
    heads = []
    for p in (one, two):
        p.begin(False, False)
        head = p.feed(b"HTTP/1.1 200 OK\r\nContent-Type: a\r\nX-Rare: b\r\n\r\n")[0]
        assert isinstance(head, tuple)
        heads.append(head[2])
    assert heads[0][0] is heads[1][0]  # Content-Type: made once
    assert heads[0][2] == heads[1][2] and heads[0][2] is not heads[1][2]
