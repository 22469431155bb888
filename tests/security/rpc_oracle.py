"""The oracle: the RPC firewall as it was before streaming inspection (whole body, json.loads
and xmlrpc.client's Unmarshaller), kept verbatim but for this paragraph and the import below.
tests/security/conftest.py and test_rpc_differential.py check that the streaming firewall
(odoo_router.security.rpc_firewall) decides every case as this one does, with the same limit.

Tenant RPC firewall: pins every Odoo RPC call on a tenant host to that host's database.

Rules / theory of operation
---------------------------
Odoo's dbfilter does not apply to RPC: ``/jsonrpc``, ``/xmlrpc/<service>``,
``/xmlrpc/2/<service>`` and ``/web/session/authenticate`` take the database name from the
request body. ``inspect_rpc`` reads that body the way Odoo 18 will, and answers ``Allow`` (forward
the body unchanged) or ``Refuse`` (answer the client, never forward).

What Odoo 18 does with each body, and so what we check:

* ``/jsonrpc`` (type='json'): ``json.loads`` of the body decoded as UTF-8, then
  ``dispatch_rpc(params["service"], params["method"], params["args"])``; ``args`` is unpacked
  positionally (``f(*args)``), so a JSON object or string there would turn its keys or letters
  into arguments: ``args`` must be an array.
* ``/xmlrpc/<service>``, ``/xmlrpc/2/<service>``: ``xmlrpc.client.loads(body)`` and
  ``dispatch_rpc(service, method, params)``. We decode with the same standard-library
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
import unicodedata
import xmlrpc.client
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from defusedxml.xmlrpc import (
    DefusedExpatParser,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from odoo_router.routing.langprefix import strip_lang_prefix

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
_JSON_CHARSETS = ("utf-8", "utf8")
# The encodings expat decodes natively, in both the Content-Type and the XML declaration.
_XML_CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "us-ascii",
    "ascii": "us-ascii",
    "iso-8859-1": "iso-8859-1",
    "latin-1": "iso-8859-1",
    "latin1": "iso-8859-1",
}
_WIDE_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")

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


class _Reject(Exception):
    def __init__(self, status: int, message: str, reason: str) -> None:
        reason = "".join(c if c.isprintable() else repr(c)[1:-1] for c in reason)
        super().__init__(reason)
        self.status = status
        self.message = message  # shown to the client
        self.reason = reason  # logged: one line, whatever the client sent


def inspect_rpc(
    path: str,
    content_type: str | None,
    content_encoding: str | None,
    body: bytes,
    tenant_db: str,
    limit: int = 1 << 20,
) -> Verdict:
    """Allow the RPC request only if every database it names is ``tenant_db`` (see module doc)."""
    endpoint = rpc_endpoint(path)
    if endpoint is None:
        return _plain(404, "odoo-router: not an Odoo RPC endpoint", f"no rpc endpoint {path!r:.80}")
    request_id: object = None
    try:
        if not tenant_db:
            raise _Reject(403, "RPC is not available on this host", "host has no tenant db")
        media, charset = _media_type(content_type)
        if endpoint.protocol == "xmlrpc":
            if media not in XML_MIMETYPES:
                raise _Reject(
                    415, "XML-RPC needs Content-Type text/xml", f"xmlrpc as {media!r:.60}"
                )
            method, params = _parse_xmlrpc(_decoded_body(body, content_encoding, limit), charset)
            _check_call(endpoint.service or "", method, params, tenant_db)
            return ALLOW
        if media not in JSON_MIMETYPES:
            raise _Reject(
                415, "JSON-RPC needs Content-Type application/json", f"jsonrpc as {media!r:.60}"
            )
        if charset is not None and charset not in _JSON_CHARSETS:
            raise _Reject(415, "JSON-RPC bodies must be UTF-8", f"json charset {charset!r:.40}")
        doc = _parse_json(_decoded_body(body, content_encoding, limit))
        if isinstance(doc, list):
            raise _Reject(400, "batched JSON-RPC requests are not accepted", "json batch")
        if not isinstance(doc, dict):
            raise _Reject(400, "a JSON-RPC request must be a JSON object", "json not an object")
        request_id = doc.get("id")
        _check_json(endpoint, doc, tenant_db)
        return ALLOW
    except _Reject as exc:
        if endpoint.protocol == "xmlrpc":
            return _xml_fault(exc)
        return _json_error(exc, request_id)


# --------------------------------------------------------------------------- policy


def _check_json(endpoint: Endpoint, doc: dict[str, Any], tenant_db: str) -> None:
    _refuse_lookalikes(doc, ("params",), "request")
    params = doc.get("params")
    if not isinstance(params, dict):
        # Odoo runs dict(params): a list of pairs would become keyword arguments.
        raise _Reject(400, "JSON-RPC params must be a JSON object", "params not an object")
    if endpoint.protocol == "authenticate":
        _refuse_lookalikes(params, ("db",), "params")
        if "db" not in params:
            raise _Reject(400, "authenticate needs params.db", "authenticate without db")
        _check_db(params["db"], tenant_db, "authenticate")
        return
    _refuse_lookalikes(params, ("service", "method", "args"), "params")
    service, method, args = params.get("service"), params.get("method"), params.get("args")
    if not isinstance(service, str) or not isinstance(method, str):
        raise _Reject(400, "params.service and params.method must be strings", "bad service/method")
    if not isinstance(args, list):
        # Odoo unpacks args positionally: an object's keys or a string's letters would be used.
        raise _Reject(400, "params.args must be a JSON array", f"args is {type(args).__name__}")
    _check_call(service, method, args, tenant_db)


def _check_call(service: str, method: str | None, args: Sequence[object], tenant_db: str) -> None:
    if method is None:
        raise _Reject(400, "the XML-RPC call has no methodName", "no methodName")
    methods = _DB_METHODS.get(service)
    if methods is None:
        raise _Reject(403, f"unknown RPC service {service!r:.40}", f"service {service!r:.40}")
    call = f"{service}.{method if method.isidentifier() else repr(method)}"[:80]
    if service == "db" and method not in methods:
        raise _Reject(403, "database management is not available on this host", call)
    takes_db = methods.get(method)
    if takes_db is None and service != "object":
        raise _Reject(403, f"unknown {service} method {method!r:.40}", call)
    if takes_db is not False:  # object checks params[0] before it looks at the method
        if not args:
            raise _Reject(400, "the call names no database", f"{call} without db")
        _check_db(args[0], tenant_db, call)
    if takes_db is None:
        raise _Reject(403, f"unknown object method {method!r:.40}", call)


def _check_db(value: object, tenant_db: str, call: str) -> None:
    if isinstance(value, str) and value == tenant_db:
        return
    shown = repr(value) if isinstance(value, str) else type(value).__name__
    raise _Reject(
        403,
        "this host serves one database only; the call names another",
        f"{call} db {shown:.80} is not {tenant_db!r}",
    )


def _fold(key: str) -> str:
    # What a lenient parser might make of a key: width, case and invisible characters ignored.
    folded = unicodedata.normalize("NFKC", key).casefold()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c)[0] != "C")


def _refuse_lookalikes(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in obj:
        if key not in keys and _fold(key) in keys:
            raise _Reject(
                400, f"ambiguous key {key!r:.40} in {where}", f"lookalike key {key!r:.40}"
            )


# --------------------------------------------------------------------------- wire


def _media_type(value: str | None) -> tuple[str, str | None]:
    """(media type lower-cased, charset lower-cased or None) of a Content-Type value."""
    if value is None or not value.strip():
        raise _Reject(415, "the request has no Content-Type", "no content-type")
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
            raise _Reject(415, "two charset parameters", "two charsets")
        charset = val.strip().lower()
    return media.strip().lower(), charset


def _decoded_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    if len(body) > limit:
        raise _Reject(413, f"RPC bodies are limited to {limit} bytes", f"body {len(body)} bytes")
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return body
    if len(codings) > 1:
        raise _Reject(415, "stacked content codings are not accepted", f"codings {codings!r:.60}")
    if codings[0] in ("gzip", "x-gzip"):
        return _inflate(body, 16 + zlib.MAX_WBITS, limit, members=True)
    if codings[0] == "deflate":  # RFC 9110: the zlib format
        return _inflate(body, zlib.MAX_WBITS, limit, members=False)
    raise _Reject(
        415, f"unsupported Content-Encoding {codings[0]!r:.40}", f"coding {codings[0]!r:.40}"
    )


def _inflate(data: bytes, wbits: int, limit: int, *, members: bool) -> bytes:
    """Decompress ``data`` (every gzip member), refusing more than ``limit`` bytes of output."""
    out = bytearray()
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits)
        pending = rest
        while True:
            try:
                # limit + 1 - len(out) >= 1 here: zlib reads max_length 0 as "no limit".
                out += inflater.decompress(pending, limit + 1 - len(out))
            except zlib.error as exc:
                raise _Reject(400, "the compressed body is corrupt", f"inflate: {exc}") from exc
            if len(out) > limit:
                raise _Reject(
                    413,
                    f"RPC bodies are limited to {limit} bytes once decompressed",
                    "decompressed body over the limit",
                )
            if inflater.eof or not inflater.unconsumed_tail:
                break
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise _Reject(400, "the compressed body is truncated", "truncated compressed body")
        rest = inflater.unused_data
        if not rest or not members:
            break
    if rest:
        raise _Reject(400, "bytes follow the compressed body", "trailing bytes after deflate")
    return bytes(out)


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            # json keeps the last one; another parser may keep the first.
            raise _Reject(
                400, f"duplicate key {key!r:.40} in a JSON object", f"duplicate key {key!r:.40}"
            )
        obj[key] = value
    return obj


def _parse_json(raw: bytes) -> Any:
    if raw.startswith(_WIDE_BOMS):
        raise _Reject(415, "JSON-RPC bodies must be UTF-8", "utf-16/32 json")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise _Reject(400, "a byte order mark is not accepted", "json bom")
    if not raw.strip():
        raise _Reject(400, "the request body is empty", "empty body")
    try:
        text = raw.decode("utf-8")  # strict: Odoo would turn bad bytes into U+FFFD
    except UnicodeDecodeError as exc:
        raise _Reject(400, "the body is not valid UTF-8", "json not utf-8") from exc
    try:
        return json.loads(text, object_pairs_hook=_pairs_without_duplicates)
    except _Reject:
        raise
    except RecursionError as exc:
        raise _Reject(400, "the JSON body is nested too deeply", "json too deep") from exc
    except ValueError as exc:  # JSONDecodeError, and ints past sys.get_int_max_str_digits()
        raise _Reject(400, "the body is not valid JSON", f"bad json: {exc}"[:120]) from exc


class _BadCharset(Exception):
    pass


def _parse_xmlrpc(raw: bytes, charset: str | None) -> tuple[str | None, tuple[Any, ...]]:
    """(methodName, params) as ``xmlrpc.client.loads`` gives them to Odoo."""
    if raw.startswith(_WIDE_BOMS) or b"\x00" in raw[:4]:
        raise _Reject(415, "XML-RPC bodies must be UTF-8", "utf-16/32 xml")
    http_charset = None
    if charset is not None:
        http_charset = _XML_CHARSETS.get(charset)
        if http_charset is None:
            raise _Reject(
                415, f"unsupported charset {charset!r:.40}", f"xml charset {charset!r:.40}"
            )
    if not raw.strip():
        raise _Reject(400, "the request body is empty", "empty body")

    def on_xml_declaration(version: str, encoding: str | None, standalone: int) -> None:
        if encoding is None:
            return
        declared = _XML_CHARSETS.get(encoding.lower())
        if declared is None or (http_charset is not None and declared != http_charset):
            raise _BadCharset(encoding)

    unmarshaller = xmlrpc.client.Unmarshaller(use_datetime=True)  # as Odoo's loads() builds it
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    parser._parser.XmlDeclHandler = on_xml_declaration
    try:
        parser.feed(raw)
        parser.close()
        params = unmarshaller.close()
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise _Reject(400, "DTDs and entities are not accepted", type(exc).__name__) from exc
    except _BadCharset as exc:
        raise _Reject(
            415,
            f"unsupported or conflicting XML encoding {exc.args[0]!r:.40}",
            f"xml encoding {exc.args[0]!r:.40}",
        ) from exc
    except xmlrpc.client.Fault as exc:
        raise _Reject(400, "a fault is not a call", "xml fault body") from exc
    except Exception as exc:  # expat, Unmarshaller (ResponseError, ValueError, ...): all malformed
        raise _Reject(
            400,
            "the body is not a valid XML-RPC call",
            f"bad xml: {type(exc).__name__}: {exc}"[:120],
        ) from exc
    return unmarshaller.getmethodname(), params


# --------------------------------------------------------------------------- answers


def _plain(status: int, message: str, reason: str) -> Refuse:
    return Refuse(status, "text/plain; charset=utf-8", (message + "\n").encode(), reason)


def _json_error(exc: _Reject, request_id: object) -> Refuse:
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
                "name": FIREWALL_NAME,
                "message": message,
                "arguments": [message],
                "debug": "",
                "context": {},
            },
        },
    }
    return Refuse(exc.status, "application/json", json.dumps(body).encode(), exc.reason)


def _xml_fault(exc: _Reject) -> Refuse:
    fault = xmlrpc.client.Fault(exc.status, f"odoo-router: {exc.message}")
    body = xmlrpc.client.dumps(fault, methodresponse=True, allow_none=False)
    return Refuse(exc.status, "text/xml; charset=utf-8", body.encode(), exc.reason)
