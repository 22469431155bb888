"""A raw-socket HTTP/1.x client: sends exactly the bytes a case holds, reads one answer.

Raw sockets let a case send what no client library would (duplicate Host, absolute-form
targets, underscores, a huge declared Content-Length without the body). The reader frames
the answer itself (Content-Length, chunked, or until close; none for HEAD, 1xx, 204, 304),
skips interim 100 Continue answers, and after a 101 runs one websocket echo round trip.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, replace

WS_MESSAGE = "ping from the conformance suite"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (closed or timed out before a status line)
    version: str
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    ws_echo: str | None
    error: str | None

    def values(self, name: str) -> tuple[str, ...]:
        lname = name.lower()
        return tuple(v for k, v in self.headers if k.lower() == lname)


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def until(self, marker: bytes, limit: int = 1 << 20) -> bytes | None:
        while marker not in self.buf:
            if len(self.buf) > limit or not self._fill():
                return None
        head, self.buf = self.buf.split(marker, 1)
        return head

    def exactly(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not self._fill():
                return None
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self) -> bytes:
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data


def _parse_head(head: bytes) -> tuple[str, int, str, tuple[tuple[str, str], ...]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return version, int(code), reason, tuple(headers)


def _chunked(reader: _Reader) -> bytes | None:
    body = b""
    for _ in range(100_000):
        size_line = reader.until(b"\r\n")
        if size_line is None:
            return None
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            for _ in range(100):  # trailers, up to the empty line
                line = reader.until(b"\r\n")
                if not line:
                    return body
            return None
        data = reader.exactly(size + 2)
        if data is None:
            return None
        body += data[:-2]
    return None


def _ws_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


def _ws_close_frame() -> bytes:
    mask = os.urandom(4)
    payload = struct.pack("!H", 1000)
    return b"\x88\x82" + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _ws_echo(sock: socket.socket, reader: _Reader) -> str | None:
    sock.sendall(_ws_frame(WS_MESSAGE))
    first = reader.exactly(2)
    if first is None:
        return None
    length = first[1] & 0x7F
    if length == 126:
        ext = reader.exactly(2)
        length = struct.unpack("!H", ext)[0] if ext else 0
    payload = reader.exactly(length)
    sock.sendall(_ws_close_frame())
    if payload is None or first[0] & 0x0F != 1:
        return None
    return payload.decode(errors="replace")


def _read_answer(sock: socket.socket, reader: _Reader, head: bool) -> Answer:
    for _ in range(10):  # interim 1xx answers (100 Continue) before the final one
        raw_head = reader.until(b"\r\n\r\n")
        if raw_head is None:
            error = "closed before a status" if reader.eof else "no status line"
            rest, reader.buf = reader.buf, b""
            return Answer(None, "", "", (), rest, None, error)
        version, status, reason, headers = _parse_head(raw_head)
        if status == 101 or not 100 <= status < 200:
            break
    answer = Answer(status, version, reason, headers, b"", None, None)
    if status == 101:
        return replace(answer, ws_echo=_ws_echo(sock, reader))
    if head or status in (204, 304):
        return answer
    if "chunked" in ",".join(answer.values("Transfer-Encoding")).lower():
        chunked = _chunked(reader)
        if chunked is None:
            return replace(answer, error="bad chunked framing")
        return replace(answer, body=chunked)
    lengths = answer.values("Content-Length")
    if lengths:
        sized = reader.exactly(int(lengths[0]))
        if sized is None:
            return replace(answer, body=reader.buf, error="body cut short")
        return replace(answer, body=sized)
    return replace(answer, body=reader.rest())


def _failed(error: str) -> Answer:
    return Answer(None, "", "", (), b"", None, error)


def exchange(port: int, request: bytes, *, head: bool, timeout: float = 10.0) -> Answer:
    """Send `request` as is to 127.0.0.1:port and read one final answer."""
    return exchange_pipeline(port, request, heads=(head,), timeout=timeout)[0]


def exchange_pipeline(
    port: int, requests: bytes, *, heads: tuple[bool, ...], timeout: float = 10.0
) -> list[Answer]:
    """Send pipelined requests in one write; read one answer per request, in order.

    After an answer with no status (the server closed, or stayed silent) nothing more is read.
    """
    answers: list[Answer] = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(requests)
            reader = _Reader(sock)
            for head in heads:
                answers.append(_read_answer(sock, reader, head))
                if answers[-1].status is None:
                    break
    except TimeoutError:
        answers.append(_failed("timeout"))
    except OSError as exc:
        answers.append(_failed(f"socket error {exc.__class__.__name__}"))
    return answers
