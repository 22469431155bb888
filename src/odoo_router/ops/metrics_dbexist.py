"""Odoo's own word on whether a database exists: the JSON-RPC call ``db.db_exist``.

Facts (Odoo 18: odoo/service/db.py, the base module's ``/jsonrpc`` route): ``/jsonrpc`` is
``auth="none"`` and works without a database; the ``db`` service's ``db_exist`` needs no
master password and, unlike ``list``, is not behind ``list_db``, so the tenant Odoo
(``list_db`` off) answers it as well as the admin one. It answers ``true`` when Odoo can
open a cursor on the database, ``false`` otherwise (its own logging of the failed
connection is muted), always with HTTP 200; a failure of the call itself is a JSON-RPC
``error`` member.

Rules:
* The master asks the Odoo that answered the tenant's request (a server of its pool),
  directly, not through the router: no dbfilter header, so Odoo needs no registry for it.
* HTTP/1.0 with ``Connection: close``, one request per connection: the answer ends at its
  ``Content-Length`` or with the connection (no chunked coding in HTTP/1.0). It is read up
  to ``MAX_ANSWER`` bytes.
* Only a 200 whose JSON ``result`` is exactly ``true`` or ``false`` is an answer; anything
  else (no connection, a timeout, another status, an ``error`` member, not JSON) raises
  ``NoAnswer``, which the caller treats as "not yet", never as a yes.
* ``deadline`` bounds the connect, the send and every read (name resolution excepted: it
  has no timeout of its own; the caller's bounded threads absorb a slow one). A server that
  refuses the connection or cannot be reached is skipped for the pool's next server.
"""

from __future__ import annotations

import json
import socket
import time

from .. import __version__

MAX_ANSWER = 65536
USER_AGENT = f"odoo-router/{__version__} (tenant label check: db.db_exist)"

Servers = tuple[tuple[str, int], ...]


class NoAnswer(Exception):
    """Odoo gave no usable answer: the message says what happened, and with which server."""


def request_bytes(host: str, port: int, name: str) -> bytes:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": "db", "method": "db_exist", "args": [name]},
            "id": 1,
        },
        separators=(",", ":"),
    ).encode()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = (
        f"POST /jsonrpc HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole answer by its Content-Length (else: until the end)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return value.strip().isdigit() and len(body) >= int(value)
    return False


def parse_answer(data: bytes) -> bool:
    """Odoo's ``result`` from a whole HTTP answer; raises NoAnswer for anything else."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise NoAnswer("an incomplete HTTP answer")
    status = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(status) < 2 or not status[0].startswith(b"HTTP/"):
        raise NoAnswer("not an HTTP answer")
    if status[1] != b"200":
        raise NoAnswer(f"HTTP {status[1].decode('latin-1')[:3]}")
    try:
        doc = json.loads(body)
    except ValueError:
        raise NoAnswer("an answer that is not JSON") from None
    if not isinstance(doc, dict):
        raise NoAnswer("a JSON answer that is not a JSON-RPC object")
    error = doc.get("error")
    if error is not None:
        message = error.get("message") if isinstance(error, dict) else None
        raise NoAnswer(f"a JSON-RPC error ({str(message or error)[:80]})")
    result = doc.get("result")
    if result is True or result is False:
        return result
    raise NoAnswer(f"a result that is neither true nor false ({str(result)[:40]})")


class _Unreachable(Exception):
    """No connection could be made: the next server of the pool may take the question."""


def _exchange(host: str, port: int, name: str, deadline: float) -> bool:
    left = deadline - time.monotonic()
    if left <= 0:
        raise NoAnswer("timed out")
    try:
        sock = socket.create_connection((host, port), timeout=left)
    except TimeoutError:
        raise NoAnswer("connect: timed out") from None
    except socket.gaierror as exc:
        raise _Unreachable(f"resolve: {exc.strerror or exc}") from None
    except OSError as exc:
        raise _Unreachable(f"connect: {exc.strerror or exc}") from None
    except UnicodeError:
        raise _Unreachable("not a valid host name") from None
    with sock:
        try:
            sock.sendall(request_bytes(host, port, name))
            data = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(16384)
                if not chunk:
                    return parse_answer(data)
                data += chunk
                if len(data) > MAX_ANSWER:
                    raise NoAnswer(f"an answer over {MAX_ANSWER} bytes")
                if complete(data):  # a server that keeps the connection open anyway
                    return parse_answer(data)
        except TimeoutError:
            raise NoAnswer("timed out waiting for the answer") from None
        except OSError as exc:
            raise NoAnswer(f"{exc.strerror or exc}") from None


def db_exist(servers: Servers, first: int, name: str, timeout: float) -> bool:
    """Ask the pool's servers, from ``first`` on (round robin across calls), whether
    ``name`` exists, within ``timeout`` seconds in all; the next server only when no
    connection could be made to one."""
    deadline = time.monotonic() + timeout
    why = "the pool has no server"
    for i in range(len(servers)):
        host, port = servers[(first + i) % len(servers)]
        try:
            return _exchange(host, port, name, deadline)
        except NoAnswer as exc:
            raise NoAnswer(f"{exc}; server {host}:{port}") from None
        except _Unreachable as exc:
            why = f"{exc}; server {host}:{port}"
    raise NoAnswer(why)
