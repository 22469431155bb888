"""Run the streaming firewall and the oracle (rpc_oracle.py, the whole-body parser it replaced)
on the same request and say whether they decide alike."""

from __future__ import annotations

from odoo_router.security.rpc_firewall import Allow, Refuse, Verdict
from odoo_router.security.rpc_inspect import RpcInspector
from security import rpc_oracle

# JSON nesting between these depths is decided by the interpreter's recursion headroom in the
# oracle (json.loads stops near sys.getrecursionlimit() less the caller's frames): no
# comparison is meaningful there (rpc_json.MAX_DEPTH is 900).
UNDECIDED_DEPTHS = range(850, 1100)


def streamed(
    path: str,
    content_type: str | None,
    content_encoding: str | None,
    body: bytes,
    tenant_db: str,
    limit: int,
    piece: int,
    budget: int = 4096,
) -> Verdict:
    """The streaming inspector fed ``piece`` bytes at a time, working ``budget`` per call."""
    inspector = RpcInspector(path, content_type, content_encoding, tenant_db, limit)
    for start in range(0, len(body), piece):
        inspector.feed(body[start : start + piece])
        while inspector.work(budget):
            pass
    while inspector.work(budget):
        pass
    return inspector.verdict()


def oracle(
    path: str,
    content_type: str | None,
    content_encoding: str | None,
    body: bytes,
    tenant_db: str,
    limit: int,
) -> Allow | Refuse | None:
    """The oracle's verdict as ours (the same classes' fields), None where it has none
    (it ran out of recursion at a depth in UNDECIDED_DEPTHS)."""
    try:
        verdict = rpc_oracle.inspect_rpc(
            path, content_type, content_encoding, body, tenant_db, limit
        )
    except RecursionError:
        return None
    if isinstance(verdict, rpc_oracle.Refuse):
        return Refuse(verdict.status, verdict.content_type, verdict.body, verdict.reason)
    return Allow()


def same(got: Verdict, want: Verdict) -> bool:
    """The same decision and the same answer to the client (the logged reason may differ)."""
    if isinstance(got, Allow) or isinstance(want, Allow):
        return isinstance(got, Allow) and isinstance(want, Allow)
    return (got.status, got.content_type, got.body) == (want.status, want.content_type, want.body)
