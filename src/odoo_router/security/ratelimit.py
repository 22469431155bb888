"""Login rate limits: which requests of a route with ``rate_limit`` count, their bucket key,
and the 429 that answers one over the limit.

Rules / theory of operation
---------------------------
* What counts is a login attempt that would reach Odoo:
  - on a route the RPC firewall inspects, only the calls that log in, once the firewall
    allowed them: ``/web/session/authenticate``, JSON-RPC ``common.login`` and
    ``common.authenticate`` on ``/jsonrpc``, XML-RPC ``login``/``authenticate`` on
    ``/xmlrpc[/2]/common`` (``after_inspection``); every other call (``object.execute_kw``,
    the bulk of RPC traffic) is never counted, and a refused call never reached Odoo;
  - elsewhere (``at_head``, before the body is read): ``/web/session/authenticate`` (and its
    ``/<lang>/`` and trailing-slash forms) whatever the method, since Odoo's JSON routes take
    any; any other path that is no RPC endpoint for every method but GET and HEAD
    (``/web/login`` logs in on POST only; the form itself is not limited);
  - the other RPC endpoints only on a route with ``rpc_count_logins`` (the admin host's,
    which may address every database): the body is read without the firewall's database
    rules and nothing is refused; a call that logs in counts, and so does a body that
    cannot be read as one sure call (datapath/rpc_guard.py). Without either, a login there
    cannot be told from any other call, and nothing counts.
* The key is the client address after the ``forwarded`` rules (``ClientView.client_ip``),
  never a header a client chooses; an IPv6 address counts as its /64 (one host's whole
  prefix: a client cannot spread guesses over its 2^64 addresses), an IPv4-mapped one as
  the IPv4 address. ``client_ip_db`` adds the host's tenant database. Routes with the same
  key, rate and burst share one bucket per client: a guess at ``/web/login`` and one over
  XML-RPC draw on the same budget.
* Over the limit: ``429`` with ``Retry-After`` (whole seconds until a token is back), in the
  endpoint's own shape: a JSON-RPC error object, an XML-RPC fault, else nginx's HTML page.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Final

from ..configuration.model import RateLimit
from ..http.pages import error_page
from ..routing.table import LocalAnswer
from .ratelimit_table import BucketTable
from .rpc_firewall import Reject, json_error, rpc_endpoint, xml_fault

RATE_LIMIT_NAME: Final = "odoo_router.security.rate_limit"
HTML: Final = "html"
JSON: Final = "jsonrpc"
XML: Final = "xmlrpc"


def client_key(ip: str) -> str:
    """The part of a client address a bucket is kept for (see the module's rules)."""
    if ":" not in ip:
        return ip
    try:
        addr = ipaddress.IPv6Address(ip)
    except ValueError:
        return ip
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(ipaddress.IPv6Network((addr, 64), strict=False))


def bucket_key(limit: RateLimit, client_ip: str, tenant_db: str | None) -> bytes:
    db = (tenant_db or "-") if limit.key == "client_ip_db" else ""
    return f"{limit.text}\0{client_key(client_ip)}\0{db}".encode("utf-8", "surrogateescape")


def too_many(shape: str, wait: float, request_id: object = None) -> LocalAnswer:
    """The 429 answer, in ``shape`` (HTML, JSON or XML), asking to retry in ``wait`` s."""
    seconds = max(1, math.ceil(wait))
    retry = ("Retry-After", str(seconds))
    message = f"too many login attempts: try again in {seconds} s"
    if shape == HTML:
        return LocalAnswer(429, (("Content-Type", "text/html"), retry), error_page(429))
    exc = Reject(429, message, "rate limited")
    refusal = xml_fault(exc) if shape == XML else json_error(exc, request_id, RATE_LIMIT_NAME)
    return LocalAnswer(429, (("Content-Type", refusal.content_type), retry), refusal.body)


class RateLimits:
    """A worker's view of the router's buckets (``table``, made by the master before it
    forked; made here on first use when the worker runs alone, as in-process tests do)."""

    def __init__(self, slots: int, table: BucketTable | None = None) -> None:
        self.slots = slots
        self.table = table

    def take(self, limit: RateLimit, client_ip: str, tenant_db: str | None) -> float:
        """One attempt: 0.0 when allowed, else the seconds until the next one would be."""
        table = self.table
        if table is None:
            table = self.table = BucketTable(self.slots)
        key = bucket_key(limit, client_ip, tenant_db)
        return table.take(key, limit.rate, limit.burst, time.monotonic())

    def at_head(
        self,
        limit: RateLimit,
        inspected: bool,
        method: str,
        path: str,
        client_ip: str,
        tenant_db: str | None,
    ) -> LocalAnswer | None:
        """A request on a limited route, its head just filtered: the 429 when it is a login
        attempt over the limit, else None (``inspected``: the firewall will read the body,
        and ``after_inspection`` counts the calls that log in)."""
        if inspected:
            return None
        endpoint = rpc_endpoint(path)
        if endpoint is not None:
            if endpoint.protocol != "authenticate":
                return None
            shape = JSON
        elif method == "GET" or method == "HEAD":
            return None
        else:
            shape = HTML
        wait = self.take(limit, client_ip, tenant_db)
        return too_many(shape, wait) if wait > 0.0 else None

    def after_inspection(
        self,
        limit: RateLimit,
        protocol: str,
        client_ip: str,
        tenant_db: str | None,
        request_id: object,
    ) -> LocalAnswer | None:
        """A login call the firewall allowed: the 429 when over the limit, else None."""
        wait = self.take(limit, client_ip, tenant_db)
        if wait <= 0.0:
            return None
        return too_many(XML if protocol == XML else JSON, wait, request_id)
