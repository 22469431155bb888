"""The rows of the table: what is sent, over how many connections."""

from __future__ import annotations

from dataclasses import dataclass

from bench.wrk import Request

KIB = 1024
MIB = 1024 * KIB
DOWNLOAD_BYTES = 5 * MIB


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    request: Request | None  # None: the websocket client
    connections: int
    payload_bytes: int = 0  # bytes of body per request, for MB/s
    seconds_scale: float = 1.0


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("get8", "GET 1 KiB keep-alive, 8 conns", Request("/web/bench/small"), 8),
    Scenario("get64", "GET 1 KiB keep-alive, 64 conns", Request("/web/bench/small"), 64),
    Scenario(
        "jsonrpc",
        "POST /jsonrpc 2 KiB, 8 conns",
        Request("/jsonrpc", method="POST", body_bytes=2 * KIB),
        8,
    ),
    Scenario(
        "download",
        "GET 5 MiB download, 4 conns",
        Request("/web/content/bench-5m"),
        4,
        payload_bytes=DOWNLOAD_BYTES,
    ),
    Scenario(
        "upload",
        "POST 20 MiB upload, 4 conns",
        Request(
            "/web/binary/upload_attachment",
            method="POST",
            body_bytes=20 * MIB,
            content_type="application/octet-stream",
        ),
        4,
        payload_bytes=20 * MIB,
    ),
    Scenario(
        "newconn",
        "GET, new connection per request, 8 conns",
        Request("/web/bench/small", close=True),
        8,
        seconds_scale=0.6,  # bounded: every request leaves a TIME_WAIT socket
    ),
    Scenario("ws", "1,000 websockets open, echo round trips on 100", None, 1000),
)

STATIC_PATH = "/web/static/lib/bench/bench.js"
STATIC: tuple[Scenario, ...] = (
    Scenario("static", "GET module static (Odoo 5 ms), 8 conns", Request(STATIC_PATH), 8),
    Scenario(
        "static304",
        "GET module static with If-None-Match, 8 conns",
        Request(STATIC_PATH, extra_headers=(("If-None-Match", '\\"bench-asset-1\\"'),)),
        8,
    ),
)
