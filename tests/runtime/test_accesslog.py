"""Access log: one parseable JSON line per request, whatever the client sent."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from odoo_router.accesslog import AccessLog, format_access, new_request_id, rfc3339

FIELDS = [
    "time", "client_ip", "host", "method", "path", "status", "bytes_in", "bytes_out",
    "upstream_addr", "upstream_status", "upstream_time", "total_time", "host_rule", "route",
    "dbfilter", "error", "request_id",
]  # fmt: skip


def line(**over: Any) -> bytes:
    fields: dict[str, Any] = {
        "time": 1795751416.1234,
        "client_ip": "203.0.113.7",
        "host": "testodoo.seisei.tokyo",
        "method": "GET",
        "path": "/web/login?redirect=%2Fodoo",
        "status": 200,
        "bytes_in": 512,
        "bytes_out": 20480,
        "upstream_addr": "172.18.0.5:8069",
        "upstream_status": 200,
        "upstream_time": 0.0421,
        "total_time": 0.0437,
        "host_rule": "named_tenant",
        "route": "login",
        "dbfilter": "^ten_testodoo$",
        "request_id": "0123456789abcdef0123456789abcdef",
    }
    fields.update(over)
    return format_access(**fields)


def parse(raw: bytes) -> dict[str, Any]:
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1, raw
    assert raw.isascii()
    data = json.loads(raw)
    assert isinstance(data, dict)
    assert list(data) == FIELDS
    return data


def test_fields_and_types() -> None:
    d = parse(line())
    assert d["time"] == "2026-11-27T03:50:16.123Z"
    assert d["client_ip"] == "203.0.113.7"
    assert d["host"] == "testodoo.seisei.tokyo"
    assert d["path"] == "/web/login?redirect=%2Fodoo"
    assert (d["status"], d["bytes_in"], d["bytes_out"]) == (200, 512, 20480)
    assert d["upstream_addr"] == "172.18.0.5:8069"
    assert d["upstream_status"] == 200
    assert d["upstream_time"] == 0.042
    assert d["total_time"] == 0.044
    assert (d["host_rule"], d["route"], d["dbfilter"]) == (
        "named_tenant",
        "login",
        "^ten_testodoo$",
    )
    assert d["request_id"] == "0123456789abcdef0123456789abcdef"


def test_local_answer_has_nulls() -> None:
    d = parse(line(upstream_addr=None, upstream_status=None, upstream_time=None, dbfilter=None))
    assert d["upstream_addr"] is None
    assert d["upstream_status"] is None
    assert d["upstream_time"] is None
    assert d["dbfilter"] is None


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
    b"/\xe6\x97".decode("utf-8", "surrogateescape"),  # truncated UTF-8 sequence
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_cannot_break_the_line(hostile: str) -> None:
    raw = line(host=hostile, path=hostile, method=hostile, client_ip=hostile)
    d = parse(raw)
    for key in ("host", "path", "method", "client_ip"):
        got = d[key]
        assert isinstance(got, str)
        try:
            hostile.encode("utf-8")
        except UnicodeEncodeError:
            # Undecodable bytes are written as \xNN text, never as lone surrogates.
            expect = hostile.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            assert got == expect
            assert "\\x" in got
            got.encode("utf-8")  # valid Unicode
        else:
            assert got == hostile
    assert d["status"] == 200


def test_bad_utf8_output_is_valid_utf8_json() -> None:
    raw = line(path="/" + b"\xff".decode("utf-8", "surrogateescape"))
    assert b"\\ud" not in raw.lower()  # no surrogate escapes: strict parsers accept it
    assert parse(raw)["path"] == "/\\xff"


def test_time_is_rfc3339_utc_with_ms() -> None:
    pattern = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for t in (0.0, 1795751416.0, 1795751416.999, 1795751417.0005):
        assert pattern.match(rfc3339(t)), rfc3339(t)
    assert rfc3339(1795751416.999) == "2026-11-27T03:50:16.999Z"
    assert rfc3339(1795751417.0005) == "2026-11-27T03:50:17.000Z"
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000Z"
    now = parse(line(time=None))["time"]
    assert now[:4] == time.strftime("%Y", time.gmtime())


def test_request_ids_are_hex_and_unique() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_format_is_fast() -> None:
    n = 5_000
    t0 = time.perf_counter()
    for _ in range(n):
        line()
    per_line = (time.perf_counter() - t0) / n
    assert per_line < 50e-6  # a few microseconds on an idle core


def test_writer_buffers_and_flushes(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    log = AccessLog(str(path), flush_bytes=10_000)
    one = line()
    log.write(one)
    log.write(one)
    assert path.read_bytes() == b""  # buffered until flush()
    log.flush()
    assert path.read_bytes() == one * 2
    # Past the threshold write() flushes by itself.
    for _ in range(10_000 // len(one) + 1):
        log.write(one)
    assert len(path.read_bytes()) > 2 * len(one)
    log.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert all(parse(raw)["request_id"] for raw in lines)
    assert log.dropped_lines == 0


def test_log_shortcut_and_disabled_target(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    log = AccessLog(str(path))
    log.log(client_ip="::1", host="h", method="GET", path="/", status=204, bytes_in=0,
            bytes_out=0, total_time=0.001, request_id=new_request_id())  # fmt: skip
    log.close()
    assert parse(path.read_bytes())["status"] == 204
    off = AccessLog(None)
    assert not off.enabled
    off.write(b"x\n")
    off.log(status=1)  # not even formatted
    off.flush()
    off.close()


def test_reopen_after_logrotate(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    log = AccessLog(str(path))
    log.write(line(route="before"))
    log.flush()
    os.rename(path, tmp_path / "access.log.1")  # what logrotate does
    log.write(line(route="during"))  # still goes to the renamed file, like nginx
    log.reopen()
    log.write(line(route="after"))
    log.close()
    assert [
        parse(r)["route"] for r in (tmp_path / "access.log.1").read_bytes().splitlines(True)
    ] == [
        "before",
        "during",
    ]
    assert parse(path.read_bytes())["route"] == "after"


def test_stdout_target(capfd: pytest.CaptureFixture[str]) -> None:
    log = AccessLog("-")
    log.write(line(route="to-stdout"))
    log.close()
    out, _ = capfd.readouterr()
    assert json.loads(out)["route"] == "to-stdout"


def test_write_failure_drops_and_counts(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.close(r)  # nobody reads: EPIPE (SIGPIPE is ignored by Python)
    log = AccessLog(None)
    log._fd = w  # a pipe whose reader is gone
    log.write(line())
    log.write(line())
    log.flush()
    assert log.dropped_lines == 2
    assert isinstance(log.last_error, BrokenPipeError)
    os.close(w)


def test_error_field_is_escaped() -> None:
    """The error text carries upstream-sent bytes (a parse error names them): never a way
    to split or corrupt a line."""
    hostile = 'bad_answer: got "x"\r\n{"status":200}\x00\udcff; server odoo:8069'
    d = parse(line(error=hostile))
    assert d["error"] == hostile.replace("\udcff", "\\xff")
    assert parse(line())["error"] is None
