"""The two head parsers side by side (odoo_router.datapath.headparse): the same bytes, cut into the
same reads, must give the same events from each, feed by feed; and generators of request
streams for the differential fuzz (random heads from the pieces that matter to framing and
to smuggling, and byte-level mutations of good ones)."""

from __future__ import annotations

import itertools
import random

from odoo_router.datapath.headparse import COMPILED, IN_HEAD, Event, LlhttpParser, new_parser

Feeds = list[list[Event]]


def run(compiled: bool, raw: bytes, cuts: list[int], limit: int, max_headers: int) -> Feeds:
    """The events of each feed, ``raw`` cut at ``cuts``, until a refusal or an upgrade."""
    parser = new_parser(limit, max_headers, compiled=compiled)
    assert isinstance(parser, LlhttpParser) != (compiled and COMPILED)
    out: Feeds = []
    points = [0, *sorted(set(cuts)), len(raw)]
    try:
        for start, end in itertools.pairwise(points):
            if start == end:
                continue
            events = parser.feed(raw[start:end])
            if events and isinstance(events[-1], int) and events[-1] != IN_HEAD:
                out.append([*events, parser.upgrade_at if events[-1] == 101 else -1])
                break
            out.append(events)
    finally:
        parser.close()
    return out


def differ(raw: bytes, cuts: list[int], limit: int = 8192, max_headers: int = 1000) -> str:
    """'' when both parsers agree on every feed, else what differs (for the assertion)."""
    current = run(False, raw, cuts, limit, max_headers)
    compiled = run(True, raw, cuts, limit, max_headers)
    if current == compiled:
        return ""
    for n, (a, b) in enumerate(zip(current, compiled, strict=False)):
        if a != b:
            return f"feed {n}: current {a!r}\n  compiled {b!r}\n  raw {raw[:400]!r} cuts {cuts}"
    return f"feeds: current {len(current)}, compiled {len(compiled)}; raw {raw[:400]!r}"


def random_cuts(rng: random.Random, size: int) -> list[int]:
    if size < 2 or rng.random() < 0.3:
        return []
    return [rng.randrange(1, size) for _ in range(rng.randrange(1, 5))]


# -- generated request streams ---------------------------------------------------------

# Each list starts with the well-formed choices (the first CLEAN[...] of them), then the odd
# ones; a message is clean or odd as a whole, and an odd one takes an odd choice now and then.
METHODS = (
    "GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "MKCOL",
    "CONNECT", "TRACE", "QUERY", "get", "FOO", "", "G ET", "GET\t", "SOURCE", "PRI",
)  # fmt: skip
TARGETS = (
    "/", "/web/login?x=1", "/jsonrpc", "http://a.example/x", "/%2e%2e/x", "//x", "/x?y#z",
    "/" + "p" * 300, "*", "HTTP://A:80", "a", "", "/a b", "/a\tb", "/\x7f", "/\x00",
    "/caf\xc3\xa9", "/#frag", "/?q=\x80", "admin.example:443", "/\r",
)  # fmt: skip
VERSIONS = (
    "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/0.9", "HTTP/2.0", "HTTP/3.0",
    "HTTP/1.10", "HTTP/11.1", "http/1.1", "HTTP/1", "HTTP/1.", "", "HTTP/1.1 ", "RTSP/1.0",
    "ICE/1.0", "HTTP /1.1", "HTTP/1.1\t", "HTTP/1.9",
)  # fmt: skip
NAMES = (
    "Host", "Host", "host", "User-Agent", "Accept", "Cookie", "X-Forwarded-For",
    "Content-Length", "content-length", "Transfer-Encoding", "transfer-encoding",
    "Connection", "Connection", "Upgrade", "Expect", "X_Under_Score", "X-Custom",
    "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "X-Odoo-Dbfilter", "X Space",
    "X-Colon:", "", " Host", "Host ", "X-\x80", "Content-Length ",
)  # fmt: skip
VALUES = (
    "a", "testodoo.example", "0", "3", "10", "chunked", "close", "keep-alive", "upgrade",
    "websocket", "100-continue", "", " ", "trailing \t ", "a\tb", "a\x80b", "v" * 120,
    "-1", "+3", "0x3", "3 ", " 3", "3,3", "03", "99999999999999999999", "Chunked",
    "chunked ", "gzip", "gzip, chunked", "chunked, gzip", "chunked,chunked", "identity",
    " chunked", "Upgrade", "keep-alive, upgrade", "close, upgrade", "a\x01b", "a\x7fb",
    "a\x00b", "\t", "a\rb", "a\nb",
)  # fmt: skip
ENDS = ("\r\n", "\n", "\r", "\r\r\n", " \r\n")
CLEAN = {"methods": 10, "targets": 8, "versions": 4, "names": 22, "values": 17, "ends": 1}


class _Picker:
    def __init__(self, rng: random.Random, odd: bool) -> None:
        self.rng = rng
        self.odd = odd

    def __call__(self, options: tuple[str, ...], kind: str) -> str:
        if self.odd and self.rng.random() < 0.2:
            return self.rng.choice(options)
        return self.rng.choice(options[: CLEAN[kind]])


def random_body(pick: _Picker, head: list[str]) -> str:
    """A body framed by the head's framing headers, or deliberately not."""
    rng = pick.rng
    names = [line.split(":", 1)[0].strip().lower() for line in head]
    if "transfer-encoding" in names:
        chunks = []
        for _ in range(rng.randrange(0, 4)):
            data = "d" * rng.randrange(0, 20)
            size = (
                f"{len(data):x}"
                if not pick.odd or rng.random() < 0.8
                else rng.choice(("zz", "-1", "", " 1", "1 ", "0x1"))
            )
            ext = rng.choice(("", "", ";a=b", ';a="q"', "; x", ";\x01"))
            chunks.append(f"{size}{ext}{pick(ENDS, 'ends')}{data}{pick(ENDS, 'ends')}")
        trailer = rng.choice(("", "", "X-T: 1\r\n", "Host: evil\r\n", "X-Big: " + "t" * 200))
        tail = rng.choice(("0\r\n", "0\r\n", "0;e=1\r\n", "00\r\n"))
        return "".join(chunks) + tail + trailer + pick(ENDS, "ends")
    if "content-length" in names or (pick.odd and rng.random() < 0.2):
        return "b" * rng.randrange(0, 12)
    return ""


def random_message(rng: random.Random) -> str:
    pick = _Picker(rng, odd=rng.random() < 0.5)
    sep = " " if not pick.odd or rng.random() < 0.9 else rng.choice(("  ", "\t", ""))
    line = pick(METHODS, "methods") + sep + pick(TARGETS, "targets") + " "
    line += pick(VERSIONS, "versions")
    head = []
    for _ in range(rng.randrange(0, 7)):
        colon = rng.choice((": ", ": ", ":", ":  ", ":\t"))
        if pick.odd and rng.random() < 0.1:
            colon = rng.choice((" : ", " ", "::"))
        head.append(f"{pick(NAMES, 'names')}{colon}{pick(VALUES, 'values')}")
    if pick.odd and rng.random() < 0.05:
        head.insert(rng.randrange(0, len(head) + 1), rng.choice((" folded", "\tfolded", "")))
    text = line + pick(ENDS, "ends") + "".join(h + pick(ENDS, "ends") for h in head)
    return text + pick(ENDS, "ends") + random_body(pick, head)


# Before a request line: blank lines nginx skips (CR, LF, any number), and whitespace it
# refuses.
LEADING = ("\r\n", "\n", "\r", "\r\n\r\n", "\n\r\r", "\r\n" * 40, " ", "\t")


def random_stream(rng: random.Random) -> bytes:
    """One to three messages, as one client would send them in a row, some after blank
    lines."""
    parts = [
        (rng.choice(LEADING) if rng.random() < 0.15 else "") + random_message(rng)
        for _ in range(rng.choice((1, 1, 1, 2, 3)))
    ]
    return "".join(parts).encode("latin-1")


INTERESTING = b" \t\r\n:;,/\x00\x7f\x80\xff0aAzZ-_"


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """One to three byte edits: replace, insert, delete, or repeat a stretch."""
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 4)):
        if not data:
            data.extend(rng.choice((b"G", b"\r\n")))
            continue
        at = rng.randrange(len(data))
        op = rng.randrange(4)
        byte = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.randrange(256)
        if op == 0:
            data[at] = byte
        elif op == 1:
            data.insert(at, byte)
        elif op == 2:
            del data[at : at + rng.randrange(1, 4)]
        else:
            end = min(len(data), at + rng.randrange(1, 24))
            data[at:at] = data[at:end]
    return bytes(data)


GOOD = (
    b"GET /web/x HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
    b"POST /jsonrpc HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    b"GET /websocket HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x85",
    b"POST /websocket HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 4\r\n"
    b"\r\nbodyGET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.1\r\nConnection: close"
    b"\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
)
