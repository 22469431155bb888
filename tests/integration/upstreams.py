"""Recording and misbehaving upstreams for the integration suite (raw asyncio + httptools).

One ``Farm`` runs a server per pool name on loopback ports of its own, in a daemon thread
with its own event loop, so session-scoped routers and function-scoped test loops never
share a loop. Each server parses requests with httptools and records, per request, exactly
what arrived: the raw target, the version, every header in order with duplicates, the body
length and sha256, the connection it came on and its index on that connection. Connection
closes are recorded too, so a test can see that the router dropped an upstream connection.

Each ``X-Test-Set-Cookie`` request header becomes a ``Set-Cookie`` of the answer (in place
of the two default cookies); each ``X-Test-Header: Name: value`` becomes a response header.
A request chooses how the upstream behaves with the ``X-Test-Behave`` header (the router
forwards unknown headers untouched); the default answers 200 with a JSON description of
what was received, two cookies (one already Secure) and hop-by-hop headers to be removed:

* ``never``             -- read the request, never answer (504 tests);
* ``delay:<seconds>``   -- answer normally after a pause;
* ``abort-after-head``  -- send a head announcing 100000 bytes, 10 bytes, then reset;
* ``slow-body``         -- a Content-Length body in five parts, 0.2 s apart;
* ``chunked``           -- a chunked body in three chunks (``chunked:<n>``: n bytes);
* ``close-delimited``   -- no Content-Length, no chunking, ``Connection: close``;
* ``status:<code>``     -- answer that status (204/304 get no body);
* ``size:<n>``          -- a body of n bytes of ``x``;
* ``interim``           -- a ``100 Continue`` before the answer;
* ``garbage``           -- a response that is not HTTP, then close;
* ``close``             -- close the connection without a byte;
* ``head:<n>``          -- a ``Set-Cookie`` of n bytes, the head in two writes 0.1 s apart;
* ``cl-and-te``         -- a response with both Content-Length and chunked coding;
* ``refuse-upgrade``    -- answer a websocket handshake 400 instead of 101;
* ``early-answer``      -- answer 200 ``early`` as soon as the head is in, before the body;
* ``stall``             -- stop reading after the head and never answer;
* ``status-cl:<code>``  -- that status with ``Content-Length: 100`` and no body (204, 304);
* ``overflow``          -- a 5-byte answer followed at once by a forged second answer;
* ``unasked:<framing>:<when>`` -- an answer framed by ``cl`` (Content-Length), ``chunked``,
  ``head`` (the head of a HEAD answer), ``204`` or ``304``, then a forged complete answer
  nobody asked for, in the same write (``with``) or 0.15 s later, on the idle connection
  (``later``); ``eof-later`` closes the idle connection instead (no bytes).

A JSON-RPC ``db.db_exist`` call on ``/jsonrpc`` (the router's master asks it before a
tenant takes a metrics label slot) is answered as ``Farm.databases`` says for that name:
``true`` or ``false`` (Odoo's ``result``), ``slow:<seconds>`` (true, that late), ``error``
(a JSON-RPC error, HTTP 200, as Odoo answers a failed call), ``status:<code>`` or ``close``
(no answer at all). The record's ``rpc`` names the call (``db_exist:<name>``).

A request with ``Upgrade: websocket`` gets a 101 and a minimal websocket echo: text
``hello`` comes back as ``<pool>:hello``, binary comes back unchanged, a ping gets a pong,
a client close is answered with the same code, text ``close:<code>`` makes the upstream
close with that code, and text ``stall`` makes it stop reading.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httptools

POOLS = ("tenant", "tenant_lp", "admin", "admin_lp")
RPC_BODY_MAX = 4096
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A complete answer no request asked for: whoever receives it was served another's bytes.
FORGED = b"HTTP/1.1 200 OK\r\nX-Upstream: forged\r\nContent-Length: 6\r\n\r\nforged"
UPSTREAM_COOKIES = (
    b"session_id=s3cr3t; Path=/; HttpOnly",
    b"tz=Asia/Tokyo; Path=/; Secure",
)


@dataclass
class Record:
    pool: str
    conn_id: int
    seq: int
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body_length: int
    body_sha256: str
    websocket: bool = False
    rpc: str | None = None  # "db_exist:<name>" for a JSON-RPC db.db_exist call

    def values(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    def names(self) -> list[str]:
        return [k for k, _ in self.headers]

    def tag(self) -> str | None:
        found = self.values("x-test-tag")
        return found[0] if found else None

    def as_json(self) -> dict[str, Any]:
        return {
            "upstream": self.pool,
            "conn_id": self.conn_id,
            "seq": self.seq,
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": [[k, v] for k, v in self.headers],
            "body_length": self.body_length,
            "body_sha256": self.body_sha256,
        }


@dataclass
class Databases:
    """How ``db.db_exist`` is answered: by database name, else ``default`` (see the module)."""

    default: str = "true"
    names: dict[str, str] = field(default_factory=dict)

    def answer(self, name: str) -> str:
        return self.names.get(name, self.default)


def db_exist_name(target: str, method: str, body: bytes) -> str | None:
    """The database a JSON-RPC ``db.db_exist`` call asks about, else None."""
    if target != "/jsonrpc" or method != "POST":
        return None
    try:
        params = json.loads(body).get("params", {})
        if params.get("service") == "db" and params.get("method") == "db_exist":
            return str(params["args"][0])
    except (ValueError, AttributeError, LookupError, TypeError):
        pass
    return None


@dataclass
class Journal:
    """Everything the upstreams saw; written by the farm thread, read by the tests."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[Record] = field(default_factory=list)
    closed: dict[int, float] = field(default_factory=dict)  # conn_id -> monotonic close time
    opened: dict[int, str] = field(default_factory=dict)  # conn_id -> pool
    peers: dict[int, int] = field(default_factory=dict)  # conn_id -> the router's port
    heads: dict[str, int] = field(default_factory=dict)  # X-Test-Tag -> conn_id, at the head
    errors: list[str] = field(default_factory=list)

    def by_tag(self, tag: str) -> list[Record]:
        with self.lock:
            return [r for r in self.records if r.tag() == tag]

    def db_exist_calls(self) -> list[str]:
        """The databases asked about with db.db_exist, in the order asked."""
        with self.lock:
            return [r.rpc[9:] for r in self.records if r.rpc and r.rpc.startswith("db_exist:")]

    def is_closed(self, conn_id: int) -> bool:
        with self.lock:
            return conn_id in self.closed

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(step)
        return predicate()

    async def record(self, tag: str, timeout: float = 5.0) -> Record:
        await self.wait_for(lambda: bool(self.by_tag(tag)), timeout)
        found = self.by_tag(tag)
        assert found, f"no upstream received the request tagged {tag!r}"
        return found[-1]


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class _Conn(asyncio.Protocol):
    """One upstream-side connection: HTTP/1.1 requests, then perhaps a websocket."""

    def __init__(self, server: UpstreamServer) -> None:
        self.server = server
        self.journal = server.journal
        self.conn_id = server.next_conn_id()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.seq = 0
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.digest = hashlib.sha256()
        self.length = 0
        self.body = b""  # the first RPC_BODY_MAX bytes: enough to see a db.db_exist call
        self.ws = False
        self.ws_buf = b""
        self.pending_ws: Record | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.at_start = True  # the next byte begins a request
        self.stalled = False  # websocket: told to read nothing more
        self.raw_target: str | None = None

    # -- transport --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.conns.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        with self.journal.lock:
            self.journal.opened[self.conn_id] = self.server.name
            if isinstance(peer, tuple):
                self.journal.peers[self.conn_id] = peer[1]

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.conns.discard(self)
        with self.journal.lock:
            self.journal.closed[self.conn_id] = time.monotonic()
        for task in self.tasks:
            task.cancel()

    def data_received(self, data: bytes) -> None:
        if self.ws:
            self.ws_buf += data
            self._ws_process()
            return
        if self.at_start:
            # Bytes >= 0x80 in the target reach us raw (nginx and the router allow them);
            # llhttp refuses them: it sees them %-escaped, the record keeps them raw.
            end = data.find(b"\n")
            line = data[:end] if end >= 0 else b""
            if line and not line.isascii():
                parts = line.rstrip(b"\r").split(b" ")
                self.raw_target = b" ".join(parts[1:-1]).decode("latin-1")
                data = (
                    b"".join(b"%%%02X" % c if c >= 0x80 else bytes((c,)) for c in line) + data[end:]
                )
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            rest = data[exc.args[0] :]
            if self.pending_ws is not None:
                self._accept_websocket(self.pending_ws)
                self.ws_buf = rest
                self._ws_process()
            else:  # a refused upgrade: the connection cannot carry another request
                self.parser = httptools.HttpRequestParser(self)
        except httptools.HttpParserError as exc:
            with self.journal.lock:
                self.journal.errors.append(f"{self.server.name}: {exc}")
            self._write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self._close()

    # -- parser callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        self.at_start = False
        self.url = b""
        self.headers = []
        self.digest = hashlib.sha256()
        self.length = 0
        self.body = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        tags = [v for k, v in self.headers if k.lower() == "x-test-tag"]
        if tags:
            with self.journal.lock:
                self.journal.heads[tags[0]] = self.conn_id
        behave = [v for k, v in self.headers if k.lower() == "x-test-behave"]
        if behave == ["early-answer"]:  # answer before the body has come (Odoo may do so)
            self._write(
                b"HTTP/1.1 200 OK\r\nX-Upstream: %b\r\nContent-Length: 5\r\n\r\nearly"
                % self.server.name.encode()
            )
            # Stop reading for a while, so a sender of a large body is still sending when
            # the answer reaches it.
            if self.transport is not None:
                self.transport.pause_reading()
                asyncio.get_running_loop().call_later(1.0, self._resume)

        if behave == ["stall"] and self.transport is not None:  # read no more, never answer
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def on_body(self, body: bytes) -> None:
        self.digest.update(body)
        self.length += len(body)
        if len(self.body) < RPC_BODY_MAX:
            self.body += body[: RPC_BODY_MAX - len(self.body)]

    def on_message_complete(self) -> None:
        self.seq += 1
        self.at_start = True
        target, self.raw_target = self.raw_target or self.url.decode("latin-1"), None
        rec = Record(
            pool=self.server.name,
            conn_id=self.conn_id,
            seq=self.seq,
            method=self.parser.get_method().decode("ascii"),
            target=target,
            version=self.parser.get_http_version(),
            headers=list(self.headers),
            body_length=self.length,
            body_sha256=self.digest.hexdigest(),
        )
        upgrade = [v.lower() for k, v in rec.headers if k.lower() == "upgrade"]
        rec.websocket = upgrade == ["websocket"]
        asked = db_exist_name(target, rec.method, self.body)
        if asked is not None:
            rec.rpc = f"db_exist:{asked}"
        with self.journal.lock:
            self.journal.records.append(rec)
        if asked is not None:
            self._spawn(self._db_exist(asked, rec))
            return
        behave = rec.values("x-test-behave")
        if rec.websocket and behave != ["refuse-upgrade"]:
            self.pending_ws = rec  # the handshake answer follows HttpParserUpgrade
            return
        self._spawn(self._respond(rec, behave[0] if behave else ""))

    # -- HTTP answers --------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def _respond(self, rec: Record, behave: str) -> None:
        kind, _, arg = behave.partition(":")
        head_only = rec.method == "HEAD"
        if kind in ("never", "early-answer"):
            return
        if kind == "delay":
            await asyncio.sleep(float(arg))
        body = (json.dumps(rec.as_json(), indent=1) + "\n").encode()
        if kind == "size":
            body = b"x" * int(arg)
        if kind == "abort-after-head":
            self._write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
                + b"0123456789"
            )
            await asyncio.sleep(0.1)
            if self.transport is not None:
                self.transport.abort()
            return
        if kind == "close":
            self._close()
            return
        if kind == "head":
            cookie = b"big=" + b"c" * int(arg)
            head = b"HTTP/1.1 200 OK\r\nSet-Cookie: %b\r\nContent-Length: 2\r\n\r\nok" % cookie
            self._write(head[: len(head) // 2])
            await asyncio.sleep(0.1)
            self._write(head[len(head) // 2 :])
            return
        if kind == "garbage":
            self._write(b"this is not HTTP\r\n\r\n")
            self._close()
            return
        if kind == "cl-and-te":
            self._write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\n\r\n"
            )
            return
        if kind == "interim":
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await asyncio.sleep(0.05)
        if kind == "refuse-upgrade":
            self._write(b"HTTP/1.1 400 No\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
            self._close()
            return
        if kind == "status-cl":  # a no-body status that still names a length
            self._write(b"HTTP/1.1 %d Status\r\nContent-Length: 100\r\n\r\n" % int(arg))
            return
        if kind == "overflow":  # more bytes than the Content-Length: a second, forged answer
            forged = b"HTTP/1.1 200 OK\r\nX-Upstream: forged\r\nContent-Length: 6\r\n\r\nforged"
            self._write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + forged)
            return
        if kind == "unasked":
            await self._unasked(*arg.split(":"))
            return
        if kind == "status":
            code = int(arg)
            extra = b'ETag: "v1"\r\n' if code == 304 else b""
            if code in (204, 304):
                self._write(b"HTTP/1.1 %d Status\r\n%bX-Status: %d\r\n\r\n" % (code, extra, code))
                return
            self._write(b"HTTP/1.1 %d Status\r\nContent-Length: %d\r\n\r\n" % (code, len(body)))
            if not head_only:
                self._write(body)
            return
        base = [
            b"HTTP/1.1 200 OK",
            b"Content-Type: application/json",
            b"X-Upstream: " + self.server.name.encode(),
            b"Server: fake-odoo/18.0",
            b"Date: Thu, 01 Jan 1970 00:00:00 GMT",
        ]
        cookies = [v.encode("latin-1") for v in rec.values("x-test-set-cookie")]
        base += [b"Set-Cookie: " + c for c in cookies or UPSTREAM_COOKIES]
        base += [v.encode("latin-1") for v in rec.values("x-test-header")]
        if kind == "chunked":
            head = b"\r\n".join([*base, b"Transfer-Encoding: chunked", b"", b""])
            self._write(head)
            if head_only:
                return
            if arg:  # chunked:<n>: n bytes in 64 KiB chunks, as fast as they go
                block = b"y" * 65536
                left = int(arg)
                while left > 0:
                    part = block[: min(left, len(block))]
                    self._write(b"%x\r\n%b\r\n" % (len(part), part))
                    left -= len(part)
                    await asyncio.sleep(0)
                self._write(b"0\r\n\r\n")
                return
            thirds = [body[: len(body) // 3], body[len(body) // 3 : 2 * len(body) // 3]]
            thirds.append(body[2 * len(body) // 3 :])
            for part in thirds:
                self._write(b"%x\r\n%b\r\n" % (len(part), part))
                await asyncio.sleep(0.02)
            self._write(b"0\r\n\r\n")
            return
        if kind == "close-delimited":
            self._write(b"\r\n".join([*base, b"Connection: close", b"", b""]))
            if not head_only:
                self._write(body)
            self._close()
            return
        hop = [
            b"Connection: keep-alive, X-Hop-Named",
            b"Keep-Alive: timeout=30",
            b"X-Hop-Named: must-not-reach-the-client",
            b"Content-Length: %d" % len(body),
        ]
        self._write(b"\r\n".join([*base, *hop, b"", b""]))
        if head_only:
            return
        if kind == "slow-body":
            step = max(1, len(body) // 5)
            for i in range(0, len(body), step):
                self._write(body[i : i + step])
                await asyncio.sleep(0.2)
            return
        self._write(body)

    async def _db_exist(self, name: str, rec: Record) -> None:
        kind, _, arg = self.server.databases.answer(name).partition(":")
        if kind == "close":
            self._close()
            return
        if kind == "status":
            self._write(b"HTTP/1.1 %d Status\r\nContent-Length: 0\r\n\r\n" % int(arg))
            return
        if kind == "slow":
            await asyncio.sleep(float(arg))
        if kind == "error":  # Odoo's shape for a failed call, still HTTP 200
            doc: dict[str, Any] = {"code": 200, "message": "Odoo Server Error", "data": {}}
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "error": doc}
        else:
            answer = {"jsonrpc": "2.0", "id": 1, "result": kind in ("true", "slow")}
        body = json.dumps(answer).encode()
        self._write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(body)
            + body
        )
        if rec.version == "1.0" or "close" in (v.lower() for v in rec.values("connection")):
            self._close()  # as Odoo's server does

    async def _unasked(self, framing: str, when: str) -> None:
        first = {
            "cl": b"HTTP/1.1 200 OK\r\nX-Upstream: first\r\nContent-Length: 5\r\n\r\nhello",
            "chunked": b"HTTP/1.1 200 OK\r\nX-Upstream: first\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            "head": b"HTTP/1.1 200 OK\r\nX-Upstream: first\r\nContent-Length: 5\r\n\r\n",
            "204": b"HTTP/1.1 204 No Content\r\nX-Upstream: first\r\n\r\n",
            "304": b'HTTP/1.1 304 Not Modified\r\nX-Upstream: first\r\nETag: "v1"\r\n\r\n',
        }[framing]
        if when == "with":
            self._write(first + FORGED)
            return
        self._write(first)
        await asyncio.sleep(0.15)
        if when == "eof-later":
            self._close()
        else:
            self._write(FORGED)

    # -- websocket -----------------------------------------------------------------------

    def _accept_websocket(self, rec: Record) -> None:
        key = rec.values("sec-websocket-key")
        accept = base64.b64encode(hashlib.sha1(key[0].encode() + WS_GUID).digest()) if key else b""
        self._write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n"
            b"X-Upstream: " + rec.pool.encode() + b"\r\n\r\n"
        )
        self.ws = True

    def _ws_process(self) -> None:
        while not self.stalled:
            buf = self.ws_buf
            if len(buf) < 2:
                return
            opcode = buf[0] & 0x0F
            masked = buf[1] & 0x80
            n = buf[1] & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack("!H", buf[2:4])[0]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack("!Q", buf[2:10])[0]
                pos = 10
            mask = b""
            if masked:
                mask = buf[pos : pos + 4]
                pos += 4
            if len(buf) < pos + n:
                return
            payload = buf[pos : pos + n]
            self.ws_buf = buf[pos + n :]
            if masked:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self._ws_message(opcode, payload)

    def _ws_message(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x1:
            text = payload.decode("utf-8", "replace")
            if text == "stall":  # read nothing more from this connection
                self.stalled = True
                if self.transport is not None:
                    self.transport.pause_reading()
                return
            if text.startswith("close:"):
                code = int(text[6:])
                self._write(_ws_frame(0x8, struct.pack("!H", code) + b"bye"))
                return
            self._write(_ws_frame(0x1, f"{self.server.name}:{text}".encode()))
        elif opcode == 0x2:
            self._write(_ws_frame(0x2, payload))
        elif opcode == 0x9:
            self._write(_ws_frame(0xA, payload))
        elif opcode == 0x8:
            self._write(_ws_frame(0x8, payload[:2]))
            self._close()


class UpstreamServer:
    def __init__(
        self, name: str, journal: Journal, counter: list[int], databases: Databases
    ) -> None:
        self.name = name
        self.journal = journal
        self.databases = databases
        self._counter = counter
        self.port = 0
        self.server: asyncio.AbstractServer | None = None
        self.conns: set[_Conn] = set()

    def next_conn_id(self) -> int:
        self._counter[0] += 1
        return self._counter[0]

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Conn(self), sock=sock)


class Farm:
    """The upstream servers, one per pool name, served from one daemon thread."""

    def __init__(self, names: tuple[str, ...] = POOLS) -> None:
        self.journal = Journal()
        self.databases = Databases()  # how db.db_exist is answered, by every server
        self._counter = [0]
        self.servers = {
            n: UpstreamServer(n, self.journal, self._counter, self.databases) for n in names
        }
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="upstream-farm", daemon=True)

    @property
    def ports(self) -> dict[str, int]:
        return {n: s.port for n, s in self.servers.items()}

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            for server in self.servers.values():
                self._loop.run_until_complete(server.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        for server in self.servers.values():
            if server.server is not None:
                server.server.close()
            for conn in list(server.conns):
                if conn.transport is not None:
                    conn.transport.abort()
        self._loop.run_until_complete(asyncio.sleep(0))
        with contextlib.suppress(Exception):
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=20):
            raise TimeoutError("upstream farm did not start")
        if self._error is not None:
            raise RuntimeError("upstream farm failed to start") from self._error

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=20)
