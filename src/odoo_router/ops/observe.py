"""The logging phase: metrics counters and the JSON access log, fed from WorkerState.finish."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .accesslog import AccessLog
from .metrics import Stats

if TYPE_CHECKING:
    from ..datapath.request import Request
    from ..datapath.state import Connection, WorkerState


def attach(state: WorkerState, stats: Stats | None, access: AccessLog | None) -> None:
    """Register the per-request observers and the connection/websocket/error hooks."""
    if access is not None and access.enabled:
        state.observers.append(access.line.observe)  # compiled, straight into its buffer
    if stats is None:
        return

    def observe(conn: Connection, req: Request) -> None:
        d = req.decision
        total = time.monotonic() - req.start
        stats.request_done(
            d.host_rule if d is not None else "-",
            d.route if d is not None else "-",
            d.proxy.pool if d is not None and d.proxy is not None else "",
            req.status or 499,
            total,
            req.upstream_time,
            req.body_size,
            req.bytes_out,
        )

    state.observers.append(observe)
    state.conn_hooks.append(
        lambda delta: stats.connection_opened() if delta > 0 else stats.connection_closed()
    )
    state.websocket_hooks.append(
        lambda delta: stats.websocket_opened() if delta > 0 else stats.websocket_closed()
    )
    state.upstream_error_hooks.append(stats.upstream_error)
    state.fault_hooks.append(stats.fault)
