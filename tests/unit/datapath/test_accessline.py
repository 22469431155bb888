"""The compiled access-line formatter against a reference built with ``json.dumps``.

``AccessLine.observe`` writes the line straight from the request, escaping only where a
value needs it; the reference is the line as the access log has always been defined
(README, "Access log"): every string through ``json.dumps`` (ASCII, so every quote,
backslash, control character, DEL and non-ASCII character escaped), bytes that were not
UTF-8 as ``\\xNN`` text, times in seconds to the millisecond. Both must agree byte for byte
on every value a client or an upstream can choose.
"""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any

from odoo_router.datapath import accessline
from odoo_router.datapath.accessline import MEMO_LEN, MEMO_SIZE, AccessLine, json_bytes, rfc3339
from odoo_router.datapath.request import Request
from odoo_router.ops.accesslog import format_access
from odoo_router.routing.table import Decision


class Conn:
    def __init__(self, peer: str = "192.0.2.9") -> None:
        self.peer = peer


def _clean(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def _s(value: str | None) -> str:
    return "null" if value is None else json.dumps(_clean(value))


def _b(value: bytes) -> str:
    return _s(value.decode("utf-8", "surrogateescape"))


def _secs(value: float | None) -> str:
    return "null" if value is None else f"{value:.3f}"


def reference(req: Request, conn: Conn, stamp: str, total: str) -> bytes:
    """The line for ``req`` as the reference defines it; ``stamp`` and ``total`` (the time
    and total_time, which depend on the clock when the line is made) from the line itself."""
    d = req.decision
    fields = [
        ("time", json.dumps(stamp)),
        ("client_ip", _s(req.client_ip or conn.peer)),
        ("host", _s(req.host)),
        ("method", _s(req.method)),
        ("path", _b(req.target or req.url)),
        ("status", str(req.status or 499)),
        ("bytes_in", str(req.body_size)),
        ("bytes_out", str(req.bytes_out)),
        ("upstream_addr", _s(req.upstream_addr or None)),
        ("upstream_status", str(req.upstream_status) if req.upstream_status else "null"),
        ("upstream_time", _secs(req.upstream_time)),
        ("total_time", total),
        ("host_rule", _s(d.host_rule if d else "-")),
        ("route", _s(d.route if d else "-")),
        ("dbfilter", _s(d.dbfilter if d else None)),
        ("error", _s(req.error)),
        ("request_id", _b(req.request_id) if req.request_id else '"-"'),
    ]
    return ("{" + ",".join(f'"{k}":{v}' for k, v in fields) + "}\n").encode("ascii")


def observed(req: Request, conn: Conn | None = None) -> bytes:
    line = AccessLine(1 << 20, lambda: None)
    line.observe(conn or Conn(), req)
    (text,) = line.lines
    raw = text.encode("ascii")  # ASCII by construction, else this raises
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    return raw


def check(req: Request, conn: Conn | None = None) -> dict[str, Any]:
    conn = conn or Conn()
    raw = observed(req, conn)
    parsed: dict[str, Any] = json.loads(raw)
    total = re.search(rb'"total_time":([0-9.]+),', raw)
    assert total is not None
    assert raw == reference(req, conn, parsed["time"], total.group(1).decode())
    return parsed


def request(**fields: Any) -> Request:
    req = Request(time.monotonic() - 0.0123)
    req.method = "GET"
    req.host = "testodoo.seisei.tokyo"
    req.url = b"/web/login?redirect=%2Fodoo"
    req.client_ip = "203.0.113.7"
    req.status = 200
    req.body_size = 512
    req.bytes_out = 20480
    req.request_id = b"0123456789abcdef0123456789abcdef"
    req.upstream_addr = "172.18.0.5:8069"
    req.upstream_status = 200
    req.upstream_time = 0.0421
    req.decision = Decision("named_tenant", "login", None, "ten_testodoo", "^ten_testodoo$")
    for name, value in fields.items():
        setattr(req, name, value)
    return req


def test_an_ordinary_request() -> None:
    d = check(request())
    assert d["path"] == "/web/login?redirect=%2Fodoo"
    assert (d["status"], d["upstream_time"], d["dbfilter"]) == (200, 0.042, "^ten_testodoo$")
    assert 0.012 <= d["total_time"] < 5


def test_what_a_request_refused_early_leaves() -> None:
    """No decision, no upstream, no id yet: the defaults, and the connection's address."""
    req = Request(time.monotonic())
    d = check(req, Conn("198.51.100.4"))
    assert d["client_ip"] == "198.51.100.4"
    assert (d["host"], d["method"], d["path"]) == ("-", "GET", "")
    assert (d["status"], d["host_rule"], d["route"], d["request_id"]) == (499, "-", "-", "-")
    assert d["upstream_addr"] is None and d["upstream_time"] is None and d["dbfilter"] is None


HOSTILE = [
    '/a"b',
    "/a\\b",
    '/x","status":200,"y":"',
    "/line\nbreak",
    "/cr\rlf\r\n",
    "/ctl\x00\x01\x07\x1b[31m\x7f",
    "/tab\there",
    "/unicode/é/日本/\u2028\u2029",
    "/bad-utf8/" + b"\xff\xfe\xc3".decode("utf-8", "surrogateescape"),
    b"/\xe6\x97".decode("utf-8", "surrogateescape"),
    "",
]


def test_every_client_and_upstream_string_is_escaped() -> None:
    """Target, request id (a trusted proxy's X-Request-ID), host, method, client address,
    the error text (it quotes upstream bytes) and the names from the config."""
    for text in HOSTILE:
        raw = text.encode("utf-8", "surrogateescape")
        # The dbfilter comes from the config or a host that matched its pattern: latin-1.
        decision = Decision(text or "r", text, None, None, text if text.isascii() else "^x$")
        req = request(
            url=raw,
            target=raw,
            request_id=raw,
            host=text,
            method=text or "GET",
            client_ip=text,
            error=text,
            upstream_addr=text,
            decision=decision,
        )
        d = check(req)
        assert d["path"] == _clean(text)
        assert d["error"] == _clean(text)


def test_every_byte_of_a_target() -> None:
    for byte in range(256):
        target = b"/p" + bytes([byte]) + b"q"
        d = check(request(target=target, request_id=bytes([byte]) * 3))
        assert d["path"] == _clean(target.decode("utf-8", "surrogateescape"))


def test_random_values_agree_with_the_reference() -> None:
    rng = random.Random(15)
    alphabet = [*range(0, 0x80), 0xA0, 0xE9, 0xFF, 0x2028, 0x10FFFF, 0xDCFF, 0xDC80]
    byte_pool = [*range(0x20, 0x7F)] * 4 + [*range(0, 0x20), 0x7F, 0x80, 0xC3, 0xE6, 0xFF]

    def text() -> str:
        return "".join(chr(rng.choice(alphabet)) for _ in range(rng.randrange(0, 12)))

    def raw() -> bytes:
        return bytes(rng.choice(byte_pool) for _ in range(rng.randrange(0, 40)))

    for _ in range(3000):
        upstream = rng.random() < 0.7
        req = request(
            url=raw(),
            target=raw() if rng.random() < 0.5 else b"",
            request_id=raw() if rng.random() < 0.3 else b"%032x" % rng.getrandbits(128),
            host=text(),
            method=text() or "GET",
            client_ip=text(),
            error=text() if rng.random() < 0.3 else None,
            status=rng.choice([0, 200, 304, 499, 502, 1000, 65536]),
            body_size=rng.choice([0, 999, 1000, 10**9]),
            bytes_out=rng.randrange(0, 10**7),
            upstream_addr=text() if upstream else "",
            upstream_status=rng.choice([0, 200, 502]) if upstream else 0,
            upstream_time=rng.random() * rng.choice([0.01, 1, 2000]) if upstream else None,
            decision=(
                Decision(text() or "r", text(), None, None, rng.choice([None, "^ten_a$", ""]))
                if rng.random() < 0.8
                else None
            ),
        )
        check(req)


def test_format_access_is_the_same_formatter() -> None:
    req = request(error='bad_answer: "x"\r\n')
    d = json.loads(observed(req))
    line = format_access(
        client_ip=d["client_ip"],
        host=d["host"],
        method=d["method"],
        path=d["path"],
        status=d["status"],
        bytes_in=d["bytes_in"],
        bytes_out=d["bytes_out"],
        total_time=d["total_time"],
        request_id=d["request_id"],
        upstream_addr=d["upstream_addr"],
        upstream_status=d["upstream_status"],
        upstream_time=d["upstream_time"],
        host_rule=d["host_rule"],
        route=d["route"],
        dbfilter=d["dbfilter"],
        error=d["error"],
        time=time.time(),
    )
    assert json.loads(line) == d | {"time": json.loads(line)["time"]}


def test_the_stamp_follows_the_wall_clock() -> None:
    """The date is formatted once per second; the offset between the clocks is read again
    then, so a wall clock that was stepped shows within a second."""
    line = AccessLine(1 << 20, lambda: None)
    for step in (0.0, 3600.0, -86400.0):
        line.wall_offset += step  # as if the wall clock had been stepped since the last read
        req = request()
        req.start = time.monotonic()
        line.observe(Conn(), req)
        stamp = json.loads(line.lines[-1])["time"]
        assert abs(time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) -
                   time.mktime(time.gmtime())) < 3  # fmt: skip


def test_rfc3339_milliseconds() -> None:
    assert rfc3339(1795751416.999) == "2026-11-27T03:50:16.999Z"
    assert rfc3339(1795751417.0005) == "2026-11-27T03:50:17.000Z"
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000Z"


def test_durations_to_the_millisecond() -> None:
    cases = [(0.0, "0.000"), (0.0004, "0.000"), (0.0421, "0.042"), (0.0437, "0.044"),
             (1.9996, "2.000"), (999.9994, "999.999"), (1234.5, "1234.500")]  # fmt: skip
    for value, text in cases:
        whole, frac = accessline.seconds(value)
        assert whole + frac == text == f"{value:.3f}"
    assert accessline.seconds(None) == ("null", "")


def test_repeated_values_are_remembered_within_a_bound() -> None:
    """A client choosing the Host (up to 8 KiB) cannot grow the table: it is cleared when
    full, and long values are not kept."""
    line = AccessLine(1 << 30, lambda: None)
    for n in range(MEMO_SIZE * 2 + 10):
        line.observe(Conn(), request(host=f"h{n}.example"))
    assert 0 < len(line.memo) <= MEMO_SIZE
    assert len(line.lines) == MEMO_SIZE * 2 + 10
    line.memo.clear()
    long_host = "h" * (MEMO_LEN + 1)
    line.observe(Conn(), request(host=long_host))
    assert long_host not in line.memo and "h" * MEMO_LEN not in line.memo
    assert json.loads(line.lines[-1])["host"] == long_host
    line.observe(Conn(), request(host="h" * MEMO_LEN))
    assert "h" * MEMO_LEN in line.memo


def test_the_writer_is_told_when_the_lines_fill_the_buffer() -> None:
    sizes: list[int] = []

    def full() -> None:
        sizes.append(line.size)
        lines.extend(line.take())

    lines: list[str] = []
    line = AccessLine(4000, full)
    for _ in range(25):
        line.observe(Conn(), request())
    assert sizes and len(lines) + len(line.lines) == 25
    assert all(4000 <= size < 4000 + len(lines[0]) for size in sizes)  # once full, not before


def test_plain_bytes_pass_through_unescaped() -> None:
    assert json_bytes(b"/web/x?a=1&b=%20") == "/web/x?a=1&b=%20"
    assert json_bytes(b"/a\x7f") == "/a\\u007f"
    assert json_bytes(b'/"') == '/\\"'
