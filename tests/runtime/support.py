"""Small helpers the runtime tests share: a blocking request reader for hand-made upstreams
and the worker processes of a router master."""

from __future__ import annotations

import contextlib
import socket


def read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """One request from a blocking socket: (head, body by Content-Length); None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (a router master's workers)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]
    return []
