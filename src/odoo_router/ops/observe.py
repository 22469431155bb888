"""The logging phase: metrics counters and the JSON access log, fed from WorkerState.finish."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .accesslog import AccessLog
from .metrics import Stats
from .metrics_tenants import UNKNOWN, tenant_key

if TYPE_CHECKING:
    from ..datapath.request import Request
    from ..datapath.state import Connection, WorkerState
    from ..routing.table import Decision


def slot_evidence(status: int, path: str) -> int:
    """Odoo's answer as evidence that a database exists (0: none). A 2xx or a 101 only: Odoo
    answers a database it does not have with a redirect (to its database selector) or a 404;
    and never a static file (``/web/static/``, ``/<module>/static/``), which Odoo serves to
    any host, database or not. A JSON-RPC or XML-RPC call is answered 200 even when it failed
    on a missing database: such evidence only makes a candidate, and the master asks Odoo
    whether the database exists before it grants a slot (metrics_confirm.py)."""
    if (200 <= status < 300 or status == 101) and "/static/" not in path:
        return status
    return 0


def attach(state: WorkerState, stats: Stats | None, access: AccessLog | None) -> None:
    """Register the per-request observers and the connection/websocket/error hooks."""
    if access is not None and access.enabled:
        state.observers.append(access.line.observe)  # compiled, straight into its buffer
    if stats is None:
        return
    tenants = stats.tenants

    def key(d: Decision | None) -> str:
        if d is None:
            return UNKNOWN  # refused before routing: no host rule was chosen
        db = d.tenant_db
        if db is not None:
            return db
        return tenant_key(None, d.host_rule, state.table.default.rule.name)

    def observe(conn: Connection, req: Request) -> None:
        d = req.decision
        db: str | None = None
        odoo = req.upstream_status
        if tenants.cap:  # metrics.tenant_labels_max: 0 turns the per-tenant series off
            db = d.tenant_db if d is not None else UNKNOWN
            if db is None:
                db = key(d)
            elif odoo and db not in tenants.rows:  # not labelled yet: may it take a slot?
                odoo = slot_evidence(odoo, req.path)
        stats.request_done(
            d.host_rule if d is not None else "-",
            d.route if d is not None else "-",
            d.proxy.pool if d is not None and d.proxy is not None else "",
            req.status or 499,
            time.monotonic() - req.start,
            req.upstream_time,
            req.body_size,
            req.bytes_out,
            db,
            odoo,
        )

    def websocket(delta: int, d: Decision | None) -> None:
        if delta > 0:
            stats.websocket_opened()
        else:
            stats.websocket_closed()
        tenants.websocket(key(d), delta)

    state.observers.append(observe)
    state.conn_hooks.append(
        lambda delta: stats.connection_opened() if delta > 0 else stats.connection_closed()
    )
    state.websocket_hooks.append(websocket)
    state.upstream_error_hooks.append(stats.upstream_error)
    state.fault_hooks.append(stats.fault)
