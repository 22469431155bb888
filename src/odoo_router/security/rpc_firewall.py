"""Tenant RPC firewall: pins every Odoo RPC call on a tenant host to that host's database.

Rules / theory of operation
---------------------------
Odoo's dbfilter does not apply to RPC: ``/jsonrpc``, ``/xmlrpc/<service>``,
``/xmlrpc/2/<service>`` and ``/web/session/authenticate`` take the database name from the
request body. The firewall reads that body the way Odoo 18 will, and answers ``Allow`` (forward
the body unchanged) or ``Refuse`` (answer the client, never forward). It reads as the body
arrives (rpc_inspect.RpcInspector: rpc_json.py and rpc_xml.py keep only what is decided on
here, in memory bounded by nesting and key counts, whatever the body's size);
rpc_inspect.inspect_rpc runs it over a whole body. Its decisions are those of the whole-body
parser it replaced (``json.loads``, ``xmlrpc.client.loads``), kept as the oracle in
tests/security/rpc_oracle.py.

What Odoo 18 does with each body, and so what we check:

* ``/jsonrpc`` (type='json'): ``json.loads`` of the body decoded as UTF-8, then
  ``dispatch_rpc(params["service"], params["method"], params["args"])``; ``args`` is unpacked
  positionally (``f(*args)``), so a JSON object or string there would turn its keys or letters
  into arguments: ``args`` must be an array.
* ``/xmlrpc/<service>``, ``/xmlrpc/2/<service>``: ``xmlrpc.client.loads(body)`` and
  ``dispatch_rpc(service, method, params)``. We follow the rules of the standard-library
  ``Unmarshaller`` Odoo runs (so untyped ``<value>`` text, CDATA, comments, character
  references and stray values outside ``<params>`` come out exactly as Odoo sees them), fed by
  defusedxml's expat parser: any DTD, entity declaration or external reference is refused.
* ``/web/session/authenticate`` (type='json'): ``authenticate(db, login, password, ...)`` with
  keyword arguments from ``params``; Odoo reads exact keys (``"DB"`` is dropped, not used).

Per service (``odoo/http.py`` ``dispatch_rpc``; only ``common``, ``db`` and ``object`` exist):

* ``object.*(db, uid, password, ...)``: ``params[0]`` is the database whatever the method;
  only ``execute`` and ``execute_kw`` exist.
* ``common.login(db, ...)``, ``common.authenticate(db, ...)``: ``params[0]`` is the database;
  ``version``, ``about`` and ``set_loglevel`` (a no-op) take none.
* ``db.*``: database management. Only ``server_version`` passes.

A database argument passes only when it is a ``str`` equal to ``tenant_db``: compared after
decoding (JSON ``\\u0074``, XML ``&#116;``), with no trimming or case folding, so ``"ten_ab"``,
``"TEN_A"``, ``"ten_a "``, ``"ten_a\\x00"`` and a ``<base64>`` value are all refused.

Stricter than Odoo, on purpose (each is a parser differential another hop could exploit):
batched JSON-RPC (Odoo cannot run it either), duplicate keys in any JSON object, keys that
differ from ``service``/``method``/``args``/``params``/``db`` only by case, width or invisible
characters, a byte order mark, charsets other than UTF-8 (JSON) or UTF-8/US-ASCII/ISO-8859-1
(XML), content types other than Odoo's JSON types and text/xml or application/xml, stacked or
unknown content codings, unknown RPC services and methods.

Endpoints are recognised as Odoo would route them, and then some: ``/jsonrpc/`` (werkzeug's
``strict_slashes=False``) and ``/<lang>/jsonrpc`` (http_routing reroutes it to ``/jsonrpc``)
are inspected like ``/jsonrpc``; the router's routes must send those spellings here too.
Paths the RPC routes catch that are no Odoo RPC endpoint (``/jsonrpcx``, ``/xmlrpc``,
``/xmlrpc/2/object/x``) get 404: Odoo has no route there either.

Statuses: 403 refused call, 400 malformed body, 404 unknown endpoint, 413 body (or its
decompressed form) above ``limit``, 415 unsupported content type, charset or coding.
Refusals use the endpoint's protocol: a JSON-RPC error object (``error.data.message`` is what
Odoo clients show) or an XML-RPC ``<fault>`` with an int faultCode equal to the HTTP status.

``Allow`` means "forward the original bytes": a gzip body goes upstream still compressed
(werkzeug does not decode request codings, so Odoo will reject it; nothing unchecked gets in).
"""

from __future__ import annotations

import json
import xmlrpc.client
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..routing.langprefix import strip_lang_prefix
from .rpc_values import (
    DICT,
    LIST,
    MISSING,
    S_ARG0,
    S_ARGS,
    S_DB,
    S_METHOD,
    S_PARAMS,
    S_SERVICE,
    type_name,
)

if TYPE_CHECKING:
    from .rpc_json import JsonCall

# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True, slots=True)
class Allow:
    """Forward the request unchanged."""


@dataclass(frozen=True, slots=True)
class Refuse:
    status: int  # 403 refused call, 400 malformed, 404 no RPC endpoint, 413 too large, 415 type
    content_type: str
    body: bytes  # in the protocol's own shape: JSON-RPC error / XML-RPC fault / plain text
    reason: str  # short, for logs


Verdict = Allow | Refuse

ALLOW = Allow()

FIREWALL_NAME = "odoo_router.security.rpc_firewall"
JSON_MIMETYPES = ("application/json", "application/json-rpc")  # odoo.http.JSON_MIMETYPES
XML_MIMETYPES = ("text/xml", "application/xml")
JSON_CHARSETS = ("utf-8", "utf8")
# The encodings expat decodes natively, in both the Content-Type and the XML declaration.
XML_CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "us-ascii",
    "ascii": "us-ascii",
    "iso-8859-1": "iso-8859-1",
    "latin-1": "iso-8859-1",
    "latin1": "iso-8859-1",
}
WIDE_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")

# Methods of each RPC service that pass once their database argument (if any) is the tenant's.
_DB_METHODS = {
    "common": {
        "login": True,
        "authenticate": True,
        "version": False,
        "about": False,
        "set_loglevel": False,
    },
    "object": {"execute": True, "execute_kw": True},
    "db": {"server_version": False},
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    protocol: Literal["jsonrpc", "xmlrpc", "authenticate"]
    service: str | None = None  # XML-RPC names the service in the path


def rpc_endpoint(path: str) -> Endpoint | None:
    """The Odoo RPC endpoint ``path`` (normalised) reaches, or None when it reaches none.

    A superset of Odoo's own matching: werkzeug's maps in Odoo use ``strict_slashes=False``, so
    ``/jsonrpc/`` is ``/jsonrpc``; http_routing reroutes ``/<lang>/jsonrpc`` to ``/jsonrpc``
    (any first segment counts, as in langprefix). The path as written is tried first.
    """
    stripped = strip_lang_prefix(path)
    for candidate in (path, stripped):
        if candidate is None:
            continue
        found = _endpoint(candidate)
        if found is None and len(candidate) > 1 and candidate.endswith("/"):
            found = _endpoint(candidate[:-1])
        if found is not None:
            return found
    return None


def _endpoint(path: str) -> Endpoint | None:
    if path == "/jsonrpc":
        return Endpoint("jsonrpc")
    if path == "/web/session/authenticate":
        return Endpoint("authenticate")
    parts = path.split("/")
    # werkzeug's default converter is one non-empty segment: /xmlrpc/<service>, /xmlrpc/2/<service>
    if len(parts) == 3 and parts[1] == "xmlrpc" and parts[2]:
        return Endpoint("xmlrpc", parts[2])
    if len(parts) == 4 and parts[1] == "xmlrpc" and parts[2] == "2" and parts[3]:
        return Endpoint("xmlrpc", parts[3])
    return None


class Reject(Exception):
    """A refusal on its way to the client: status, message shown, reason logged."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        reason = "".join(c if c.isprintable() else repr(c)[1:-1] for c in reason)
        super().__init__(reason)
        self.status = status
        self.message = message  # shown to the client
        self.reason = reason  # logged: one line, whatever the client sent


# --------------------------------------------------------------------------- policy


def check_json_shape(call: JsonCall) -> None:
    """The JSON-RPC checks that are not about databases: keys read as Odoo reads them."""
    if call.lookalike_top is not None:
        raise _lookalike(call.lookalike_top, "request")
    if call.found[S_PARAMS] is not DICT:
        # Odoo runs dict(params): a list of pairs would become keyword arguments.
        raise Reject(400, "JSON-RPC params must be a JSON object", "params not an object")
    if call.lookalike_params is not None:
        raise _lookalike(call.lookalike_params, "params")


def check_json(endpoint: Endpoint, call: JsonCall, tenant_db: str) -> None:
    """The JSON-RPC policy on what rpc_json.JsonCall kept of a parsed body (a dict)."""
    check_json_shape(call)
    found = call.found
    if endpoint.protocol == "authenticate":
        if found[S_DB] is MISSING:
            raise Reject(400, "authenticate needs params.db", "authenticate without db")
        _check_db(found[S_DB], tenant_db, "authenticate")
        return
    service, method, args = found[S_SERVICE], found[S_METHOD], found[S_ARGS]
    if not isinstance(service, str) or not isinstance(method, str):
        raise Reject(400, "params.service and params.method must be strings", "bad service/method")
    if args is not LIST:
        # Odoo unpacks args positionally: an object's keys or a string's letters would be used.
        raise Reject(400, "params.args must be a JSON array", f"args is {type_name(args)}")
    check_call(service, method, found[S_ARG0], tenant_db)


def check_call(service: str, method: str | None, first: object, tenant_db: str) -> None:
    """``first``: the call's first argument, MISSING when it has none."""
    if method is None:
        raise Reject(400, "the XML-RPC call has no methodName", "no methodName")
    methods = _DB_METHODS.get(service)
    if methods is None:
        raise Reject(403, f"unknown RPC service {service!r:.40}", f"service {service!r:.40}")
    call = f"{service}.{method if method.isidentifier() else repr(method)}"[:80]
    if service == "db" and method not in methods:
        raise Reject(403, "database management is not available on this host", call)
    takes_db = methods.get(method)
    if takes_db is None and service != "object":
        raise Reject(403, f"unknown {service} method {method!r:.40}", call)
    if takes_db is not False:  # object checks params[0] before it looks at the method
        if first is MISSING:
            raise Reject(400, "the call names no database", f"{call} without db")
        _check_db(first, tenant_db, call)
    if takes_db is None:
        raise Reject(403, f"unknown object method {method!r:.40}", call)


def _check_db(value: object, tenant_db: str, call: str) -> None:
    if isinstance(value, str) and value == tenant_db:
        return
    shown = repr(value) if isinstance(value, str) else type_name(value)
    raise Reject(
        403,
        "this host serves one database only; the call names another",
        f"{call} db {shown:.80} is not {tenant_db!r}",
    )


def _lookalike(key: str, where: str) -> Reject:
    return Reject(400, f"ambiguous key {key!r:.40} in {where}", f"lookalike key {key!r:.40}")


# --------------------------------------------------------------------------- wire


def media_type(value: str | None) -> tuple[str, str | None]:
    """(media type lower-cased, charset lower-cased or None) of a Content-Type value."""
    if value is None or not value.strip():
        raise Reject(415, "the request has no Content-Type", "no content-type")
    media, *params = value.split(";")
    charset = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() != "charset":
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        if charset is not None:
            raise Reject(415, "two charset parameters", "two charsets")
        charset = val.strip().lower()
    return media.strip().lower(), charset


def content_coding(content_encoding: str | None) -> str | None:
    """The one coding to undo ("gzip" or "deflate"), None for none; 415 for others."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise Reject(415, "stacked content codings are not accepted", f"codings {codings!r:.60}")
    if codings[0] in ("gzip", "x-gzip"):
        return "gzip"
    if codings[0] == "deflate":  # RFC 9110: the zlib format
        return "deflate"
    raise Reject(
        415, f"unsupported Content-Encoding {codings[0]!r:.40}", f"coding {codings[0]!r:.40}"
    )


# --------------------------------------------------------------------------- answers


def plain(status: int, message: str, reason: str) -> Refuse:
    return Refuse(status, "text/plain; charset=utf-8", (message + "\n").encode(), reason)


def json_error(exc: Reject, request_id: object, name: str = FIREWALL_NAME) -> Refuse:
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | float | None):
        request_id = None  # JSON-RPC ids are strings, numbers or null
    message = f"odoo-router: {exc.message}"
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {
            "code": exc.status,
            "message": message,
            # The shape of odoo.http.serialize_exception: Odoo clients show data.message.
            "data": {
                "name": name,
                "message": message,
                "arguments": [message],
                "debug": "",
                "context": {},
            },
        },
    }
    return Refuse(exc.status, "application/json", json.dumps(body).encode(), exc.reason)


def xml_fault(exc: Reject) -> Refuse:
    fault = xmlrpc.client.Fault(exc.status, f"odoo-router: {exc.message}")
    body = xmlrpc.client.dumps(fault, methodresponse=True, allow_none=False)
    return Refuse(exc.status, "text/xml; charset=utf-8", body.encode(), exc.reason)
