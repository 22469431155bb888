"""The compat rows of the shared routing case table (tests/cases/routing_cases.yaml) as cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .case import Case, HostForm

CASE_TABLE = Path(__file__).resolve().parents[1] / "cases" / "routing_cases.yaml"


def table_rows() -> list[dict[str, Any]]:
    """The shared routing case table's rows for config/nginx-compat.yaml (tests/cases/)."""
    rows: list[dict[str, Any]] = yaml.safe_load(CASE_TABLE.read_text(encoding="utf-8"))
    return [r for r in rows if r["config"] == "compat"]


def table_case(row: dict[str, Any]) -> Case:
    method = row.get("method", "GET")
    body = str(row.get("body", "")).encode()
    headers = [f"Host: {row['host']}"]
    if row.get("content_type"):
        headers.append(f"Content-Type: {row['content_type']}")
    headers += [f"{k}: {v}" for k, v in (row.get("headers") or {}).items()]
    if body:
        headers.append(f"Content-Length: {len(body)}")
    head = "\r\n".join([f"{method} {row['path']} HTTP/1.1", *headers]) + "\r\n\r\n"
    form = HostForm("table", (str(row["host"]),))
    return Case(
        id=f"table-{row['desc']}",
        group="table",
        raw=head.encode("latin-1") + body,
        method=method,
        classes=frozenset({"table", f"host:{form.name}"}),
    )
