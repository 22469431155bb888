"""The login rate limit on a request (security/ratelimit.py says what counts): at the head
for routes the RPC firewall does not inspect (``Decision.limit_at_head``), once the firewall
allowed a call that logs in for those it does, and once the body was read for the RPC calls
of a route with ``rpc_count_logins``. Only requests of a route with ``rate_limit`` come here."""

from __future__ import annotations

from ..routing.table import LocalAnswer
from ..security.ratelimit import RateLimits
from .request import Request


def at_head(limits: RateLimits, req: Request) -> LocalAnswer | None:
    """The 429 for a login attempt over the limit, else None."""
    decision = req.decision
    view = req.view
    assert decision is not None and view is not None
    limit = decision.rate_limit
    assert limit is not None  # Decision.limit_at_head
    answer = limits.at_head(limit, False, req.method, req.path, view.client_ip, decision.tenant_db)
    if answer is not None:
        req.error = f"rate limit {limit.text}"
    return answer


def after_inspection(
    limits: RateLimits, req: Request, protocol: str, request_id: object
) -> LocalAnswer | None:
    """A call the firewall allowed and that logs in: the 429 when over the limit."""
    decision = req.decision
    view = req.view
    assert decision is not None and view is not None
    limit = decision.rate_limit
    if limit is None:
        return None
    answer = limits.after_inspection(
        limit, protocol, view.client_ip, decision.tenant_db, request_id
    )
    if answer is not None:
        req.error = f"rate limit {limit.text}"
    return answer
