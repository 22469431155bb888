"""``/status`` as HTML: the status document (status_data.py) rendered as plain tables.

Rules:
* Every value printed goes through ``_e`` (html.escape with quotes): pool, server and tenant
  names, hashes and reload details come from configuration and from Odoo database names,
  and none of them may turn into markup.
* No script and no external asset: one inline style, allowed by its hash in the
  Content-Security-Policy that ``headers`` gives (``default-src 'none'`` otherwise), and a
  ``<meta http-equiv="refresh">`` for the page to reload itself.
* Tenant tables show the top ``TOP`` rows by request rate, error rate and open websockets;
  /status.json has every row.
"""

from __future__ import annotations

import base64
import hashlib
import html
import time
from typing import Any

REFRESH_SECONDS = 5
TOP = 10

STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
    "table{border-collapse:collapse;margin-bottom:.5em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
    "th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".failed{color:#fff;background:#c62828;font-weight:bold}.ok{color:#1b5e20}"
    ".invalid,.error{color:#c62828;font-weight:bold}.muted{color:#777}"
    ".row{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}"
    "h3{font-size:1em;margin:.6em 0 .3em}#summary td{max-width:26em}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"


def headers() -> list[tuple[str, str]]:
    """The response headers that go with the page (besides type and length)."""
    return [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def _duration(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{s:02d}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(head: list[str], rows: list[list[tuple[str, str]]], table_id: str) -> str:
    """``rows`` of (text, css class) cells, under ``head`` (none when empty); the text is
    escaped here."""
    out = [f'<table id="{_e(table_id)}">']
    if head:
        out += ["<thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead>"]
    out.append("<tbody>")
    if not rows:
        out.append(f'<tr><td class="muted" colspan="{max(1, len(head))}">none</td></tr>')
    for row in rows:
        out.append("<tr>")
        out += [f'<td class="{_e(cls)}">{_e(text)}</td>' if cls else f"<td>{_e(text)}</td>"
                for text, cls in row]  # fmt: skip
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _summary(doc: dict[str, Any]) -> str:
    r = doc["router"]
    rows = [
        [("version", ""), (r["version"], "")],
        [("build", ""), (f"{r['build']} ({r['build_detail']})", "")],
        [("started", ""), (_when(r["started"]), "")],
        [("uptime", ""), (_duration(r["uptime_seconds"]), "")],
        [("workers", ""), (f"{r['workers']['running']} of {r['workers']['configured']}", "")],
        [("open connections", ""), (str(r["open_connections"]), "n")],
        [("open websockets", ""), (str(r["open_websockets"]), "n")],
        [("config hash", ""), (doc["config"]["hash"], "")],
        [("config loaded", ""), (_when(doc["config"]["loaded"]), "")],
    ]
    return _table([], rows, "summary")


_NO_SERVER = {"server": "-", "failed": False, "failed_until": None, "workers_failed": 0,
              "workers_reporting": 0}  # fmt: skip


def _pools(doc: dict[str, Any]) -> str:
    rows = []
    for pool in doc["pools"]:
        conns = f"{pool['idle']} idle, {pool['active']} active"
        for srv in pool["servers"] or [_NO_SERVER]:
            state = ("FAILED", "failed") if srv["failed"] else ("up", "ok")
            workers = f"{srv['workers_failed']} of {srv['workers_reporting']}"
            until = _when(srv["failed_until"]) if srv["failed"] else "-"
            rows.append([(pool["name"], ""), (srv["server"], ""), state, (until, ""),
                         (workers, "n"), (conns, "")])  # fmt: skip
    head = ["pool", "server", "health", "failed until", "workers marking it failed", "connections"]
    return _table(head, rows, "pools")


def _by_requests(r: dict[str, Any]) -> tuple[float, int, str]:
    return (-(r["request_rate"] or 0.0), -r["requests"], r["db"])


def _by_errors(r: dict[str, Any]) -> tuple[float, int, str]:
    return (-(r["error_rate"] or 0.0), -r["errors"], r["db"])


def _by_websockets(r: dict[str, Any]) -> tuple[float, int, str]:
    return (-r["websockets"], -r["requests"], r["db"])


def _tenants(doc: dict[str, Any]) -> str:
    rows = doc["tenants"]["rows"]
    interval = doc["tenants"]["rate_interval_seconds"]
    over = f"over the last {interval:.0f} s" if interval else "from the next refresh on"
    orders = [
        ("tenants-requests", "by request rate", _by_requests),
        ("tenants-errors", "by error rate (5xx)", _by_errors),
        ("tenants-websockets", "by open websockets", _by_websockets),
    ]
    head = ["tenant (db)", "requests/s", "5xx/s", "websockets"]
    parts = [
        f'<p class="muted">Rates {_e(over)}; the top {TOP} of {len(rows)} tenants each '
        "(status.json has them all, with their totals).</p>"
    ]
    parts.append('<div class="row">')
    for table_id, title, key in orders:
        top = sorted(rows, key=key)[:TOP]
        cells = [
            [(r["db"], ""), (_rate(r["request_rate"]), "n"), (_rate(r["error_rate"]), "n"),
             (str(r["websockets"]), "n")]
            for r in top
        ]  # fmt: skip
        parts.append(f"<div><h3>{_e(title)}</h3>{_table(head, cells, table_id)}</div>")
    parts.append("</div>")
    return "".join(parts)


def _reloads(doc: dict[str, Any]) -> str:
    counts = ", ".join(f"{k}: {v}" for k, v in doc["reloads"]["counts"].items()) or "none"
    rows = [
        [(_when(r["time"]), ""), (r["outcome"], r["outcome"]), (r["config_hash"], ""),
         (r["detail"], "")]
        for r in doc["reloads"]["recent"]
    ]  # fmt: skip
    table = _table(["time", "outcome", "config hash", "detail"], rows, "reloads")
    return f'<p class="muted">Counted since start: {_e(counts)}.</p>{table}'


def render(doc: dict[str, Any]) -> bytes:
    body = "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
            "<title>odoo-router status</title>",
            f"<style>{STYLE}</style></head><body>",
            f'<h1>odoo-router status</h1><p class="muted">{_e(_when(doc["generated"]))}, '
            f"refreshed every {REFRESH_SECONDS} s; the same data as "
            '<a href="status.json">status.json</a>.</p>',
            '<div class="row"><div><h2>Router</h2>',
            _summary(doc),
            "</div><div><h2>Pools: passive health, merged across workers</h2>",
            _pools(doc),
            "<h2>Last reloads</h2>",
            _reloads(doc),
            "</div></div><h2>Tenants</h2>",
            _tenants(doc),
            "</body></html>\n",
        ]
    )
    return body.encode("utf-8")
