"""``Expect: 100-continue`` on a request that nginx and the router answer themselves (a 302,
a 403, the health answer): what each sends, and what becomes of the body the client then
sends and of a request pipelined behind it (docs/deviations.md#expect-continue-local-answer).

nginx sends ``100 Continue`` and its answer, reads and drops the body and keeps the
connection; the router answers at once with ``Connection: close`` and no ``100``, and drops
whatever follows. Both are checked here against the running reference; this class counts
in no ``agree N/N`` (the difference is the point).
"""

from __future__ import annotations

import socket

import pytest

from .targets import Target

PLACES = [
    ("acme.erp.seisei.tokyo", "/web/login", b"302"),
    ("acme.erp.seisei.tokyo", "/web/database/manager", b"403"),
    ("testodoo.seisei.tokyo", "/nginx-health", b"200"),
]


def _read(sock: socket.socket, until: float) -> bytes:
    sock.settimeout(until)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        pass
    return out


def _talk(port: int, host: str, path: str) -> tuple[bytes, bytes]:
    """(what came after the head, what came after the body and a pipelined GET)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    after = b"0123456789GET /nginx-health HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        first = _read(sock, 0.5)
        try:
            sock.sendall(after)
        except OSError:
            return first, b""
        return first, _read(sock, 0.5)


@pytest.mark.nginx
@pytest.mark.parametrize(("host", "path", "status"), PLACES)
def test_expect_continue_on_a_local_answer(
    reference: Target, candidate: Target, host: str, path: str, status: bytes
) -> None:
    first, second = _talk(reference.port, host, path)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 " + status), first[:80]
    assert second.startswith(b"HTTP/1.1 200 OK"), "nginx drops the body, answers the GET"
    if not candidate.deviates:
        return
    first, second = _talk(candidate.port, host, path)
    assert first.startswith(b"HTTP/1.1 " + status), first[:80]
    assert b"100 Continue" not in first
    assert b"\r\nConnection: close\r\n" in first.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert second == b"", "after the answer nothing more is parsed or answered"
