"""Access log: one parseable JSON line per request, whatever the client sent."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from odoo_router.ops.accesslog import AccessLog, format_access, new_request_id, rfc3339
from runtime.support import mounted_tmpfs

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


# -- the writer: whole lines, whatever happens to a write ----------------------------------

WRITER = """
import sys
from odoo_router.ops.accesslog import AccessLog, format_access
log = AccessLog("-")
for n in range({count}):
    log.write(format_access(client_ip="::1", host="h", method="GET", path="/" + "x" * 300,
                            status=200, bytes_in=0, bytes_out=0, total_time=0.001,
                            request_id="{name}", route="{name}-%d" % n))
log.close()
"""


def test_workers_sharing_a_pipe_never_split_a_line(tmp_path: Path) -> None:
    """stdout under Docker is one pipe for every worker; a write() to a pipe is only kept
    whole up to PIPE_BUF, so the writer cuts its batches at line ends below that. Two
    writers, a reader slower than both (the pipe stays full, where longer writes
    interleave): every line arrives whole, each writer's in order."""
    import subprocess
    import sys

    count = 1500
    read_end, write_end = os.pipe()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER.format(count=count, name=name)], stdout=write_end
        )
        for name in ("a", "b")
    ]
    os.close(write_end)
    data = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = os.read(read_end, 3000)
        if not chunk:
            break
        data += chunk
        time.sleep(0.0005)
    os.close(read_end)
    for proc in procs:
        assert proc.wait(10) == 0
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for raw in bytes(data).splitlines(keepends=True):
        d = parse(raw)
        name, n = d["route"].split("-")
        seen[name].append(int(n))
    assert seen == {"a": list(range(count)), "b": list(range(count))}


def test_pipe_writes_are_whole_lines_within_pipe_buf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from select import PIPE_BUF

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    log = AccessLog(str(fifo))
    writes: list[bytes] = []
    real_write = os.write

    def recording(fd: int, data: Any) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording)
    long_line = line(path="/" + "y" * (PIPE_BUF + 100))
    for n in range(40):
        log.write(line(route=f"r{n}"))
        if n == 20:
            log.write(long_line)
    log.close()  # flushes: every write recorded, then the fifo's writer closed (EOF)
    monkeypatch.undo()
    received = b""
    while chunk := os.read(reader, 1 << 20):
        received += chunk
    os.close(reader)
    assert len(writes) > 1 and b"".join(writes) == received
    for chunk in writes:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= PIPE_BUF or chunk == long_line  # a longer line goes alone
    assert [parse(r)["route"] for r in received.splitlines(True) if b'"r' in r][-1] == "r39"


def test_a_write_cut_short_keeps_the_next_lines_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk filling up: the kernel stores part of a write, then refuses the rest. The lines
    not stored are dropped and counted; the fragment gets a newline before the next lines,
    so that only it is broken."""
    import errno

    path = tmp_path / "access.log"
    log = AccessLog(str(path))
    real_write = os.write
    calls = 0

    def filling_up(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data)[: len(one) + 100])  # a line and a bit
        raise OSError(errno.ENOSPC, "No space left on device")

    one = line(route="first")
    for n in range(5):
        log.write(line(route=f"lost{n}") if n else one)
    monkeypatch.setattr(os, "write", filling_up)
    log.flush()
    monkeypatch.undo()
    assert log.dropped_lines == 4 and isinstance(log.last_error, OSError)
    log.write(line(route="after"))
    log.close()
    first, fragment, after = path.read_bytes().splitlines(keepends=True)
    assert parse(first)["route"] == "first"
    assert len(fragment) == 101 and fragment.startswith(b'{"time"')
    assert parse(after)["route"] == "after"


def test_a_full_disk_drops_lines_and_then_recovers(tmp_path: Path) -> None:
    """A real full file system (a 64 KiB tmpfs, root only): flushes fail and count, the
    writer goes on, and once there is room again every line after the fragment is whole."""
    with mounted_tmpfs(tmp_path / "small", "size=64k") as mount:
        filler = mount / "filler"
        filler.write_bytes(b"f" * 30_000)
        log = AccessLog(str(mount / "access.log"), flush_bytes=1 << 20)
        for n in range(200):  # about 80 KB: more than is left
            log.write(line(route=f"before{n}"))
        log.flush()
        assert log.dropped_lines > 0 and log.last_error is not None
        filler.unlink()
        for n in range(20):
            log.write(line(route=f"after{n}"))
        log.close()
        lines = (mount / "access.log").read_bytes().splitlines(keepends=True)
        broken = [raw for raw in lines if not raw.endswith(b"}\n")]
        assert len(broken) <= 1
        routes = [parse(raw)["route"] for raw in lines if raw not in broken]
        assert routes[-20:] == [f"after{n}" for n in range(20)]
        assert routes[:-20] == [f"before{n}" for n in range(len(routes) - 20)]
