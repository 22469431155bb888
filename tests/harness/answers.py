"""The two response parsers side by side (odoo_router.datapath.respparse): the same upstream
bytes, cut into the same reads, to the same request (HEAD or not), must give the same events
from each, feed by feed; and generators of odd upstream answers for the differential fuzz
(random answers from the pieces that matter to framing, and byte-level mutations of good
ones). One walker (exchange.Exchange) turns the events into the client's bytes and the
exchange's outcome, so the same events are the same bytes to the client and the same
outcome."""

from __future__ import annotations

import itertools
import random

from harness.heads import mutate
from odoo_router.datapath.respparse import (
    CompiledResponseParser,
    LlhttpResponseParser,
    ResponseEvent,
    new_response_parser,
)

Feeds = list[list[ResponseEvent]]


def run(compiled: bool, raw: bytes, cuts: list[int], head_only: bool = False) -> Feeds:
    """The events of each feed, ``raw`` cut at ``cuts``, until parsing stopped (an unasked
    byte, an upgrade, an error); an upgrade's last feed ends with ``upgrade_at``."""
    parser = new_response_parser(compiled=compiled)
    assert isinstance(parser, LlhttpResponseParser) != (compiled and bool(CompiledResponseParser))
    parser.begin(head_only, False)
    out: Feeds = []
    points = [0, *sorted(set(cuts)), len(raw)]
    try:
        for start, end in itertools.pairwise(points):
            if start == end:
                continue
            events = parser.feed(raw[start:end])
            if events and isinstance(events[-1], int | str):
                out.append([*events, parser.upgrade_at if events[-1] == 101 else -1])
                break
            out.append(events)
    finally:
        parser.close()
    return out


def differ(raw: bytes, cuts: list[int], head_only: bool = False) -> str:
    """'' when both parsers agree on every feed, else what differs (for the assertion)."""
    current = run(False, raw, cuts, head_only)
    compiled = run(True, raw, cuts, head_only)
    if current == compiled:
        return ""
    for n, (a, b) in enumerate(zip(current, compiled, strict=False)):
        if a != b:
            return (
                f"feed {n}: httptools {a!r}\n  compiled {b!r}\n  raw {raw[:400]!r} cuts {cuts}"
                f" head_only {head_only}"
            )
    return f"feeds: httptools {len(current)}, compiled {len(compiled)}; raw {raw[:400]!r}"


def every_cut(raw: bytes) -> list[list[int]]:
    """Cut once at every byte, and into single bytes."""
    return [[n] for n in range(1, len(raw))] + [list(range(1, len(raw)))]


# -- generated upstream answers ----------------------------------------------------------

# Each list starts with the well-formed choices (the first CLEAN[...] of them), then the odd
# ones; an answer is clean or odd as a whole, and an odd one takes an odd choice now and then.
STATUS = (
    "200 OK", "200 OK", "404 Not Found", "302 Found", "204 No Content", "304 Not Modified",
    "500 Internal Server Error", "101 Switching Protocols", "200 ", "200", "999 Odd",
    "099 Low", "20 Short", "2000 Long", "200 \x80reason", "200 OK\t", "abc OK", "",
)  # fmt: skip
INTERIM = ("100 Continue", "103 Early Hints", "102 Processing")
VERSIONS = (
    "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/0.9", "HTTP/2.0", "http/1.1",
    "HTTP/1", "ICE/1.0", "RTSP/1.0", "HTTP /1.1", "",
)  # fmt: skip
NAMES = (
    "Content-Type", "Content-Length", "Set-Cookie", "Cache-Control", "Date", "Server",
    "Connection", "Transfer-Encoding", "Location", "X-Custom", "content-length",
    "transfer-encoding", "Upgrade", "Keep-Alive", "Trailer", "X Space", "", " Lead",
    "Trail ", "X-\x80", "Content-Length ", "X-Colon:",
)  # fmt: skip
VALUES = (
    "text/plain", "0", "5", "12", "chunked", "close", "keep-alive", "upgrade", "websocket",
    "a=b; Path=/", "", " ", "trailing \t ", "a\tb", "a\x80b", "v" * 80, "-1", "+5", "0x5",
    "5 ", " 5", "5,5", "05", "99999999999999999999", "Chunked", "gzip", "gzip, chunked",
    "chunked, gzip", "identity", "a\x01b", "a\x7fb", "a\x00b", "a\rb", "a\nb",
)  # fmt: skip
ENDS = ("\r\n", "\n", "\r", " \r\n")
CLEAN = {"status": 8, "versions": 3, "names": 10, "values": 10, "ends": 1}


class _Picker:
    def __init__(self, rng: random.Random, odd: bool) -> None:
        self.rng = rng
        self.odd = odd

    def __call__(self, options: tuple[str, ...], kind: str) -> str:
        if self.odd and self.rng.random() < 0.2:
            return self.rng.choice(options)
        return self.rng.choice(options[: CLEAN[kind]])


def _body(pick: _Picker, head: list[tuple[str, str]]) -> str:
    """A body framed by the head's framing headers, or deliberately not."""
    rng = pick.rng
    te = [v for n, v in head if n.strip().lower() == "transfer-encoding"]
    if te and rng.random() < 0.9:
        chunks = []
        for _ in range(rng.randrange(0, 4)):
            data = "d" * rng.randrange(0, 20)
            size = f"{len(data):x}"
            if pick.odd and rng.random() < 0.2:
                size = rng.choice(("zz", "-1", "", " 1", "1 ", "0x1", "fffffffffffffffff"))
            ext = rng.choice(("", "", ";a=b", ';a="q"', "; x", ";\x01", ";a=b;c"))
            chunks.append(f"{size}{ext}{pick(ENDS, 'ends')}{data}{pick(ENDS, 'ends')}")
        trailer = rng.choice(("", "", "X-T: 1\r\n", "Set-Cookie: t=1\r\n", "X-Big: " + "t" * 90))
        tail = rng.choice(("0\r\n", "0\r\n", "0;e=1\r\n", "00\r\n"))
        return "".join(chunks) + tail + trailer + pick(ENDS, "ends")
    lengths = [v for n, v in head if n.strip().lower() == "content-length"]
    if lengths and lengths[0].strip().isdigit() and int(lengths[0]) < 100 and rng.random() < 0.8:
        return "b" * int(lengths[0])
    if rng.random() < 0.3:  # close-delimited, or bytes the head did not declare
        return "c" * rng.randrange(1, 30)
    return ""


def random_answer(rng: random.Random) -> str:
    pick = _Picker(rng, odd=rng.random() < 0.5)
    version = pick(VERSIONS, "versions")
    status = pick(STATUS, "status")
    head: list[tuple[str, str]] = []
    if status.startswith("101"):
        head += [("Connection", "upgrade"), ("Upgrade", "websocket")]
    for _ in range(rng.randrange(0, 6)):
        head.append((pick(NAMES, "names"), pick(VALUES, "values")))
    lines = []
    for name, value in head:
        colon = rng.choice((": ", ": ", ":", ":  ", ":\t"))
        if pick.odd and rng.random() < 0.1:
            colon = rng.choice((" : ", " ", "::"))
        lines.append(f"{name}{colon}{value}")
    if pick.odd and rng.random() < 0.1:  # obs-fold, or an empty line inside the head
        lines.insert(rng.randrange(0, len(lines) + 1), rng.choice((" folded", "\tfolded", "")))
    text = f"{version} {status}" + pick(ENDS, "ends")
    text += "".join(line + pick(ENDS, "ends") for line in lines)
    return text + pick(ENDS, "ends") + _body(pick, head)


def random_stream(rng: random.Random) -> bytes:
    """An answer, perhaps after interim ones, perhaps followed by bytes no request asked
    for (another answer, a blank line, garbage)."""
    parts = []
    for _ in range(rng.choice((0, 0, 0, 1, 2))):
        parts.append(f"HTTP/1.1 {rng.choice(INTERIM)}\r\n" + rng.choice(("", "Link: </a>\r\n")))
        parts.append("\r\n")
    parts.append(random_answer(rng))
    after = rng.random()
    if after < 0.15:
        parts.append(random_answer(rng))
    elif after < 0.25:
        parts.append(rng.choice(("\r\n", "\n", "x", "HTTP/1.1 200 OK\r\n", "\r\n\r\nforged")))
    return "".join(parts).encode("latin-1")


GOOD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nSet-Cookie: "
    b"session_id=x; Path=/\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n"
    b"0\r\nX-Trailer: 1\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    b"\x81\x05hello",
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhelloextra",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
    b"\r\nforged",
)


def mutated(rng: random.Random) -> bytes:
    base = rng.choice(GOOD) if rng.random() < 0.5 else random_stream(rng)
    return mutate(rng, base)
