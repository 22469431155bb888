"""The logging phase: metrics counters and the JSON access log, fed from WorkerState.finish."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .accesslog import AccessLog, format_access
from .metrics import Stats

if TYPE_CHECKING:
    from .proxy import ClientConnection
    from .request import Request
    from .state import WorkerState


def attach(state: WorkerState, stats: Stats | None, access: AccessLog | None) -> None:
    """Register the per-request observer and the connection/websocket/error hooks."""
    wall_offset = time.time() - time.monotonic()

    def observe(conn: ClientConnection, req: Request) -> None:
        d = req.decision
        end = time.monotonic()
        total = end - req.start
        status = req.status or 499
        host_rule = d.host_rule if d is not None else "-"
        route = d.route if d is not None else "-"
        pool = d.proxy.pool if d is not None and d.proxy is not None else ""
        bytes_in = req.body_size
        if stats is not None:
            stats.request_done(
                host_rule, route, pool, status, total, req.upstream_time, bytes_in, req.bytes_out
            )
        if access is not None:
            access.write(
                format_access(
                    client_ip=req.client_ip or conn.peer,
                    host=req.host,
                    method=req.method,
                    path=(req.target or req.url).decode("utf-8", "surrogateescape"),
                    status=status,
                    bytes_in=bytes_in,
                    bytes_out=req.bytes_out,
                    total_time=total,
                    request_id=req.request_id.decode("ascii") or "-",
                    upstream_addr=req.upstream_addr or None,
                    upstream_status=req.upstream_status or None,
                    upstream_time=req.upstream_time,
                    host_rule=host_rule,
                    route=route,
                    dbfilter=d.dbfilter if d is not None else None,
                    error=req.error,
                    time=req.start + wall_offset,
                )
            )

    if stats is not None or access is not None:
        state.observers.append(observe)
    if stats is not None:
        state.conn_hooks.append(
            lambda delta: stats.connection_opened() if delta > 0 else stats.connection_closed()
        )
        state.websocket_hooks.append(
            lambda delta: stats.websocket_opened() if delta > 0 else stats.websocket_closed()
        )
        state.upstream_error_hooks.append(stats.upstream_error)
        state.fault_hooks.append(stats.fault)
