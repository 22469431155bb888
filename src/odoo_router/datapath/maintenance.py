"""The answer of a tenant in maintenance (ops/maintenance.py keeps the state file; the
worker's watcher fills ``WorkerState.maintenance``): 503 with ``Retry-After``, in the shape
the client reads.

* ``Retry-After``: the seconds left until the maintenance's ``until``, else the configured
  ``maintenance.retry_after``.
* The body: on Odoo's XML-RPC endpoints an XML-RPC fault (faultCode 503), on its JSON-RPC
  endpoints and on any JSON request (the web client's ``/web/dataset/call_kw`` and the
  other ``type='json'`` routes) a JSON-RPC error in the shape of odoo.http's
  ``serialize_exception`` (Odoo's clients show ``error.data.message``), else a small HTML
  page. The RPC firewall answers its refusals in the same shapes (security/rpc_firewall.py).

Only requests of a tenant in maintenance come here: the driver's check is one dict lookup,
and none while no tenant is in maintenance. Not compiled: nothing here is on the way of a
request that is served.
"""

from __future__ import annotations

import json
import math
import time
from typing import Final

from ..http.headers import find
from ..http.pages import maintenance_page
from ..routing.table import LocalAnswer
from ..security.rpc_firewall import Reject, rpc_endpoint, xml_fault
from .request import Request

ERROR_NAME: Final = "odoo_router.maintenance"


def _message(db: str) -> str:
    return f"odoo-router: the database {db} is under maintenance, try again later"


def _json_error(db: str) -> bytes:
    message = _message(db)
    body = {
        "jsonrpc": "2.0",
        "id": None,  # the body is not read: a request in maintenance goes nowhere
        "error": {
            "code": 503,
            "message": message,
            "data": {
                "name": ERROR_NAME,
                "message": message,
                "arguments": [message],
                "debug": "",
                "context": {},
            },
        },
    }
    return json.dumps(body).encode()


def maintenance_answer(req: Request, db: str, until: float, default_retry: float) -> LocalAnswer:
    """The 503 for ``req`` on the tenant ``db``, in maintenance until ``until`` (a Unix
    time; 0.0: no end given)."""
    now = time.time()
    retry = max(1, math.ceil(until - now)) if until else max(1, math.ceil(default_retry))
    endpoint = rpc_endpoint(req.path)
    content_type = find(req.headers, b"content-type") or b""
    if endpoint is not None and endpoint.protocol == "xmlrpc":
        fault = xml_fault(Reject(503, f"the database {db} is under maintenance", "maintenance"))
        kind, body = fault.content_type, fault.body
    elif endpoint is not None or content_type.split(b";")[0].strip().lower() in (
        b"application/json",
        b"application/json-rpc",
    ):
        kind, body = "application/json", _json_error(db)
    else:
        back = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until)) if until else None
        kind, body = "text/html", maintenance_page(back)
    req.error = f"maintenance: {db}"
    return LocalAnswer(503, (("Content-Type", kind), ("Retry-After", str(retry))), body)
