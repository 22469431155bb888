"""Glue between a buffered request and the pure RPC firewall (rpc_firewall.inspect_rpc)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .routing import LocalAnswer
from .rpc_firewall import Refuse, inspect_rpc

if TYPE_CHECKING:
    from .request import Request


def _header(req: Request, name: bytes) -> str | None:
    """The header's value; ValueError when it comes more than once (parser differentials)."""
    values = [v for k, v in req.headers if k.lower() == name]
    if len(values) > 1:
        raise ValueError(name.decode())
    return values[0].decode("latin-1") if values else None


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
        try:
            content_type = _header(req, b"content-type")
            content_encoding = _header(req, b"content-encoding")
        except ValueError as exc:
            message = f"duplicate {exc} header in an RPC request\n".encode()
            verdict = Refuse(400, "text/plain", message, f"duplicate {exc}")
        else:
            verdict = inspect_rpc(req.path, content_type, content_encoding, body, tenant_db, limit)
    if isinstance(verdict, Refuse):
        req.error = f"rpc firewall: {verdict.reason}"
        return LocalAnswer(verdict.status, (("Content-Type", verdict.content_type),), verdict.body)
    return None
