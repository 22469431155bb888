"""The metrics listener: Prometheus text over HTTP, served by threads of the master.

Rules:
* ``/status`` (HTML) and ``/status.json`` answer with the status page (status_data.py), a
  query string ignored; any other path answers with the merged statistics as Prometheus
  text. Both are read from the snapshot directory when the request arrives. GET and HEAD
  only, other methods get 405. One request per connection.
* Each connection has its own short-lived thread, at most ``MAX_CLIENTS`` at once (one
  more is closed unanswered), and ``TIMEOUT`` seconds to send its head (``MAX_HEAD`` bytes
  at most) and to take the answer: a stuck scraper cannot hold the listener.
* The threads inherit the master's blocked signals (app.block_signals runs first), so
  the master's sigtimedwait stays the only taker of SIGHUP and SIGTERM.
* No HTTP library: http.server and a Prometheus client library cost the master about
  8 MiB of memory for what is one request and one answer (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

from .metrics_merge import read_merged
from .metrics_text import CONTENT_TYPE, families, render
from .status_data import status_document
from .status_html import headers as page_headers
from .status_html import render as render_page
from .status_model import MasterInfo
from .status_tenants import RateWindow

MAX_CLIENTS = 8
TIMEOUT = 10.0
MAX_HEAD = 8192


def _read_head(conn: socket.socket) -> bytes | None:
    """The request head, or None when the client sends none (closed, too long, too slow)."""
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        if len(data) > MAX_HEAD:
            return None
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data


def _answer(
    status: str,
    body: bytes,
    content_type: str,
    *,
    head_only: bool,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    if status.startswith("405"):
        head += "Allow: GET, HEAD\r\n"
    for name, value in extra or ():
        head += f"{name}: {value}\r\n"
    return (head + "\r\n").encode("ascii") + (b"" if head_only else body)


def _path(head: bytes) -> bytes:
    """The request target's path: up to ``?`` (the query is not looked at)."""
    line = head.split(b"\n", 1)[0].split(b" ")
    return line[1].split(b"?", 1)[0] if len(line) > 1 else b""


class MetricsServer:
    """The bound listener and its accepting thread; ``port`` is the bound port (port 0)."""

    def __init__(self, sock: socket.socket, directory: str, info: MasterInfo | None = None) -> None:
        self.sock = sock
        self.host, self.port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
        self.directory = directory
        self.info = info if info is not None else MasterInfo()
        self.rates = RateWindow()  # this listener's earlier samples, for tenant rates
        self._stopping = False
        self._clients = threading.BoundedSemaphore(MAX_CLIENTS)
        self._thread = threading.Thread(target=self._accept, name="metrics", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self._stopping:
                    return
                time.sleep(0.1)  # EMFILE and the like: try again, without spinning
                continue
            if not self._clients.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(TIMEOUT)
                head = _read_head(conn)
                if head is None:
                    return
                method = head.split(b" ", 1)[0]
                if method in (b"GET", b"HEAD"):
                    answer = self._get(_path(head), head_only=method == b"HEAD")
                else:
                    body = b"Method Not Allowed\n"
                    answer = _answer("405 Method Not Allowed", body, "text/plain", head_only=False)
                conn.sendall(answer)
        except OSError:
            pass  # the scraper went away or stalled: nothing to tell it
        finally:
            self._clients.release()

    def _get(self, path: bytes, *, head_only: bool) -> bytes:
        if path == b"/status" or path == b"/status.json":
            info = self.info.view()  # before the files: see Master._count_reload
            doc = status_document(read_merged(self.directory), info, self.rates)
            if path == b"/status":
                body, kind, extra = render_page(doc), "text/html; charset=utf-8", page_headers()
            else:
                body = json.dumps(doc, indent=1).encode() + b"\n"
                kind = "application/json"
                extra = [("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
            return _answer("200 OK", body, kind, head_only=head_only, extra=extra)
        body = render(families(read_merged(self.directory)))
        return _answer("200 OK", body, CONTENT_TYPE, head_only=head_only)

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.sock.close()
        self._thread.join(timeout=5)

    def close_in_child(self) -> None:
        """In a forked child: close the inherited listening socket (the thread serving it
        exists only in the parent), so that the port is never held by a worker."""
        self.sock.close()


def start_metrics_server(
    host: str, port: int, directory: str, info: MasterInfo | None = None
) -> MetricsServer:
    """Serve Prometheus text on ``http://host:port/`` (any path but the status page's) from
    threads of the calling process; raises OSError (or UnicodeError for a bad name) when it
    cannot listen. ``info`` is what the master tells the status page about itself."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return MetricsServer(sock, directory, info)
