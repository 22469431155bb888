"""Glue between a buffered request and the pure RPC firewall (rpc_firewall.inspect_rpc)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .routing import LocalAnswer
from .rpc_firewall import Refuse, inspect_rpc

if TYPE_CHECKING:
    from .proxy import Request


def _header(req: Request, name: bytes) -> str | None:
    for key, value in req.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def check_request(req: Request, tenant_db: str, limit: int) -> LocalAnswer | None:
    """None to forward; otherwise the refusal to answer, in the protocol's own shape."""
    if req.body_size > limit:
        verdict: object = Refuse(413, "text/plain", b"RPC request body too large\n", "too large")
    else:
        if req.body_file is not None:
            req.body_file.seek(0)
            body = req.body_file.read()
        else:
            body = b"".join(req.body)
        verdict = inspect_rpc(
            req.path,
            _header(req, b"content-type"),
            _header(req, b"content-encoding"),
            body,
            tenant_db,
            limit,
        )
    if isinstance(verdict, Refuse):
        req.error = f"rpc firewall: {verdict.reason}"
        return LocalAnswer(verdict.status, (("Content-Type", verdict.content_type),), verdict.body)
    return None
