"""Tenant RPC firewall, JSON-RPC side: /jsonrpc and /web/session/authenticate on host ten_a."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest

from odoo_router.security.rpc_firewall import Allow, Refuse
from odoo_router.security.rpc_inspect import inspect_rpc

TENANT = "ten_a"
JSON = "application/json"


def call(service: str, method: str, args: Any, request_id: Any = 1) -> bytes:
    doc = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": request_id,
        "params": {"service": service, "method": method, "args": args},
    }
    return json.dumps(doc).encode()


def params(inner: str | bytes) -> bytes:
    """A raw request body: duplicates and escapes survive, unlike json.dumps."""
    raw = inner.encode() if isinstance(inner, str) else inner
    return b'{"params": {' + raw + b"}}"


OBJ = b'"service": "object", "method": "execute_kw", '
VERSION = '"service": "common", "method": "version", "args": []'


def execute_kw(db: Any) -> bytes:
    return call("object", "execute_kw", [db, 2, "pw", "res.partner", "read", [[1]], {}])


def auth(db: Any) -> bytes:
    doc = {"jsonrpc": "2.0", "id": 3, "params": {"db": db, "login": "admin", "password": "pw"}}
    return json.dumps(doc).encode()


def jsonrpc(
    body: bytes,
    content_type: str | None = JSON,
    encoding: str | None = None,
    path: str = "/jsonrpc",
    limit: int = 1 << 20,
) -> Allow | Refuse:
    return inspect_rpc(path, content_type, encoding, body, TENANT, limit)


def status(verdict: Allow | Refuse) -> int:
    return 200 if isinstance(verdict, Allow) else verdict.status


# --------------------------------------------------------------------------- /jsonrpc

ALLOWED = [
    ("object execute_kw on the tenant", execute_kw(TENANT)),
    (
        "object execute on the tenant",
        call("object", "execute", [TENANT, 2, "pw", "res.partner", "search", []]),
    ),
    ("common login on the tenant", call("common", "login", [TENANT, "admin", "pw"])),
    (
        "common authenticate on the tenant",
        call("common", "authenticate", [TENANT, "admin", "pw", {}]),
    ),
    ("common version", call("common", "version", [])),
    ("common about", call("common", "about", [True])),
    ("common set_loglevel (a no-op)", call("common", "set_loglevel", ["debug"])),
    ("db server_version", call("db", "server_version", [])),
    (
        "unicode escapes decode to the tenant",
        params(OBJ + b'"args": ["\\u0074en_\\u0061", 2, "pw", "m", "read", []]'),
    ),
    (
        "odd but legal JSON whitespace",
        b' \r\n\t{ "params" :\n{"service"\t:"common","method":"login",'
        b'\r\n"args":[ "ten_a" ,"u","p"]} } \n',
    ),
    ("no id", b'{"params": {"service": "common", "method": "version", "args": []}}'),
    (
        "extra params Odoo drops",
        json.dumps(
            {"params": {"service": "common", "method": "version", "args": [], "context": {}}}
        ).encode(),
    ),
    (
        "another tenant's name inside the call's data",
        call(
            "object",
            "execute_kw",
            [TENANT, 2, "pw", "res.partner", "search", [[["name", "=", "ten_b"]]]],
        ),
    ),
    (
        "NaN in args, as Python's json accepts",
        params(OBJ + b'"args": ["ten_a", 2, "pw", "m", "f", [NaN]]'),
    ),
]


@pytest.mark.parametrize(("desc", "body"), ALLOWED, ids=[c[0] for c in ALLOWED])
def test_allowed_calls(desc: str, body: bytes) -> None:
    assert jsonrpc(body) == Allow()


REFUSED = [
    ("object on another tenant", execute_kw("ten_b")),
    ("object on a longer name with the tenant as prefix", execute_kw("ten_ab")),
    ("object on a prefix of the tenant", execute_kw("ten_")),
    ("upper case", execute_kw("TEN_A")),
    ("trailing space", execute_kw("ten_a ")),
    ("leading space", execute_kw(" ten_a")),
    ("trailing NUL", execute_kw("ten_a\x00")),
    ("trailing newline", execute_kw("ten_a\n")),
    ("fullwidth letters", execute_kw("ｔｅｎ_ａ")),
    ("zero-width space", execute_kw("ten_\u200ba")),
    (
        "unicode-escaped other tenant",
        params(OBJ + b'"args": ["\\u0074en_b", 2, "pw"]'),
    ),
    ("regex in place of the name", execute_kw("ten_.*")),
    ("db as a number", execute_kw(1)),
    ("db as null", execute_kw(None)),
    ("db as a list", execute_kw([TENANT])),
    ("db as an object", execute_kw({"db": TENANT})),
    ("db as true", execute_kw(True)),
    ("object, unknown method, other tenant", call("object", "exec_workflow", ["ten_b", 2, "pw"])),
    ("object, unknown method, tenant", call("object", "exec_workflow", [TENANT, 2, "pw"])),
    ("common login on another tenant", call("common", "login", ["ten_b", "admin", "pw"])),
    (
        "common authenticate on another tenant",
        call("common", "authenticate", ["ten_b", "admin", "pw", {}]),
    ),
    ("common unknown method", call("common", "drop_everything", [TENANT])),
    ("common method in another case", call("common", "Login", [TENANT, "a", "p"])),
    ("unknown service report", call("report", "render_report", [TENANT, 2, "pw"])),
    ("service in upper case", call("OBJECT", "execute_kw", [TENANT, 2, "pw"])),
    ("service with a space", call("object ", "execute_kw", [TENANT, 2, "pw"])),
] + [
    (f"db service {m}", call("db", m, a))
    for m, a in [
        ("list", []),
        ("db_exist", ["ten_b"]),
        ("list_lang", []),
        ("list_countries", ["pw"]),
        ("drop", ["admin", "ten_b"]),
        ("dump", ["admin", "ten_b", "zip"]),
        ("restore", ["admin", "ten_b", "AAAA"]),
        ("create_database", ["admin", "x", False, "en_US"]),
        ("duplicate_database", ["admin", "ten_b", "x"]),
        ("rename", ["admin", "ten_b", "x"]),
        ("change_admin_password", ["admin", "new"]),
        ("migrate_databases", ["admin", ["ten_b"]]),
        ("server_version ", []),
        ("SERVER_VERSION", []),
        ("drop", ["admin", TENANT]),
    ]
]


@pytest.mark.parametrize(("desc", "body"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_calls_answer_403(desc: str, body: bytes) -> None:
    assert status(jsonrpc(body)) == 403


MALFORMED = [
    ("empty body", b""),
    ("whitespace body", b"  \n"),
    ("not JSON", b"service=db&method=drop"),
    ("truncated JSON", execute_kw(TENANT)[:-3]),
    ("trailing garbage", execute_kw(TENANT) + b"x"),
    ("two documents", execute_kw(TENANT) + execute_kw("ten_b")),
    ("top-level string", b'"ten_a"'),
    ("top-level number", b"1"),
    ("top-level null", b"null"),
    ("batch of tenant calls", b"[" + execute_kw(TENANT) + b"," + execute_kw(TENANT) + b"]"),
    ("batch mixing tenants", b"[" + execute_kw(TENANT) + b"," + execute_kw("ten_b") + b"]"),
    ("empty batch", b"[]"),
    ("no params", b'{"jsonrpc": "2.0", "id": 1}'),
    ("params null", b'{"params": null}'),
    (
        "params as a list of pairs (dict() would accept it)",
        b'{"params": [["service", "db"], ["method", "drop"], ["args", ["a", "ten_b"]]]}',
    ),
    ("params as a string", b'{"params": "sm"}'),
    ("missing service", b'{"params": {"method": "login", "args": ["ten_a"]}}'),
    ("missing args", b'{"params": {"service": "common", "method": "version"}}'),
    ("method not a string", b'{"params": {"service": "common", "method": ["login"], "args": []}}'),
    ("service not a string", b'{"params": {"service": ["db"], "method": "drop", "args": []}}'),
    (
        "args as an object whose first key is another tenant",
        params('"service": "common", "method": "login", "args": {"ten_b": 1, "admin": 2, "pw": 3}'),
    ),
    ("args as a string", b'{"params": {"service": "common", "method": "login", "args": "ten_b"}}'),
    ("object with no args", call("object", "execute_kw", [])),
    ("common login with no args", call("common", "login", [])),
    (
        "duplicate params",
        b'{"params": {'
        + VERSION.encode()
        + b'}, "params": {"service": "db", "method": "drop", "args": []}}',
    ),
    (
        "duplicate service",
        b'{"params": {"service": "common", "service": "db", "method": "list", "args": []}}',
    ),
    (
        "duplicate args",
        params(OBJ + b'"args": ["ten_a", 2, "pw"], "args": ["ten_b", 2, "pw"]'),
    ),
    (
        "duplicate key deep in kwargs",
        params(
            OBJ + b'"args": ["ten_a", 2, "pw", "m", "write", [[1], {"name": "a", "name": "b"}]]'
        ),
    ),
    (
        "duplicate key, unicode-escaped twin",
        b'{"params": {"service": "common", "method": "version", "args": [], "\\u0061rgs": []}}',
    ),
    (
        "lookalike Params",
        b'{"params": {'
        + VERSION.encode()
        + b'}, "Params": {"service": "db", "method": "drop", "args": []}}',
    ),
    (
        "lookalike SERVICE",
        b'{"params": {"service": "common", "SERVICE": "db", "method": "version", "args": []}}',
    ),
    (
        "lookalike args with a space",
        b'{"params": {"service": "common", "method": "version", "args": [], "args ": ["ten_b"]}}',
    ),
    (
        "lookalike fullwidth method",
        params(VERSION + ', "ｍｅｔｈｏｄ": "x"'),
    ),
    (
        "lookalike with a zero-width joiner",
        params(VERSION + ', "ar\u200dgs": []'),
    ),
    ("UTF-8 byte order mark", b"\xef\xbb\xbf" + execute_kw(TENANT)),
    (
        "invalid UTF-8",
        b'{"params": {"service": "object", "method": "execute_kw", "args": ["ten_\xff", 2, "pw"]}}',
    ),
    (
        "overlong UTF-8 encoding of 't'",
        params(OBJ + b'"args": ["\xc1\xb4en_a", 2, "pw"]'),
    ),
    ("raw NUL outside strings", b'{"params":\x00 {}}'),
    (
        "raw control character in a string",
        b'{"params": {"service": "common", "method": "login", "args": ["ten_a\x01", "u", "p"]}}',
    ),
    ("single quotes", b"{'params': {}}"),
    ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000),
    (
        "integer with 5000 digits",
        b'{"params": {"service": "common", "method": "version", "args": [' + b"9" * 5000 + b"]}}",
    ),
]


@pytest.mark.parametrize(("desc", "body"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_bodies_answer_400(desc: str, body: bytes) -> None:
    assert status(jsonrpc(body)) == 400


UNSUPPORTED = [
    ("no content type", None, None, execute_kw(TENANT)),
    ("empty content type", "", None, execute_kw(TENANT)),
    ("text/plain", "text/plain", None, execute_kw(TENANT)),
    ("form", "application/x-www-form-urlencoded", None, execute_kw(TENANT)),
    ("multipart", "multipart/form-data; boundary=x", None, execute_kw(TENANT)),
    ("text/xml on /jsonrpc", "text/xml", None, execute_kw(TENANT)),
    ("application/json-seq", "application/json-seq", None, execute_kw(TENANT)),
    ("two media types", "application/json, text/xml", None, execute_kw(TENANT)),
    ("charset utf-16", "application/json; charset=utf-16", None, execute_kw(TENANT)),
    ("charset latin-1", "application/json; charset=iso-8859-1", None, execute_kw(TENANT)),
    ("charset utf-7", "application/json; charset=UTF-7", None, execute_kw(TENANT)),
    ("two charsets", "application/json; charset=utf-8; charset=utf-16", None, execute_kw(TENANT)),
    ("UTF-16 body with BOM", JSON, None, execute_kw(TENANT).decode().encode("utf-16")),
    ("UTF-32 body with BOM", JSON, None, execute_kw(TENANT).decode().encode("utf-32")),
    ("brotli", JSON, "br", execute_kw(TENANT)),
    ("compress", JSON, "compress", execute_kw(TENANT)),
    ("stacked gzip", JSON, "gzip, gzip", gzip.compress(gzip.compress(execute_kw(TENANT)))),
    ("unknown coding", JSON, "rot13", execute_kw(TENANT)),
]


@pytest.mark.parametrize(
    ("desc", "ctype", "coding", "body"), UNSUPPORTED, ids=[c[0] for c in UNSUPPORTED]
)
def test_unsupported_types_and_encodings_answer_415(
    desc: str, ctype: str | None, coding: str | None, body: bytes
) -> None:
    assert status(jsonrpc(body, ctype, coding)) == 415


CONTENT_TYPES_OK = [
    "application/json",
    "APPLICATION/JSON",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    'application/json; charset="utf-8"',
    "application/json ; charset=utf8",
    "application/json-rpc",
    "application/json; boundary=ignored",
]


@pytest.mark.parametrize("ctype", CONTENT_TYPES_OK)
def test_json_content_types_accepted(ctype: str) -> None:
    assert jsonrpc(execute_kw(TENANT), ctype) == Allow()


def multi_member_gzip(data: bytes) -> bytes:
    half = len(data) // 2
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


CODINGS = [
    ("gzip, tenant", "gzip", gzip.compress(execute_kw(TENANT)), 200),
    ("x-gzip, tenant", "x-gzip", gzip.compress(execute_kw(TENANT)), 200),
    ("GZIP upper case", "GZIP", gzip.compress(execute_kw(TENANT)), 200),
    ("deflate, tenant", "deflate", zlib.compress(execute_kw(TENANT)), 200),
    ("identity", "identity", execute_kw(TENANT), 200),
    ("identity then gzip", "identity, gzip", gzip.compress(execute_kw(TENANT)), 200),
    ("empty coding", "", execute_kw(TENANT), 200),
    ("gzip, other tenant", "gzip", gzip.compress(execute_kw("ten_b")), 403),
    ("deflate, other tenant", "deflate", zlib.compress(execute_kw("ten_b")), 403),
    ("gzip, db.drop", "gzip", gzip.compress(call("db", "drop", ["admin", "ten_b"])), 403),
    ("gzip, batch", "gzip", gzip.compress(b"[" + execute_kw(TENANT) + b"]"), 400),
    ("two gzip members, read as one body", "gzip", multi_member_gzip(execute_kw(TENANT)), 200),
    ("two gzip members hiding another tenant", "gzip", multi_member_gzip(execute_kw("ten_b")), 403),
    ("gzip header but plain body", "gzip", execute_kw(TENANT), 400),
    ("truncated gzip", "gzip", gzip.compress(execute_kw(TENANT))[:-12], 400),
    ("gzip with trailing garbage", "gzip", gzip.compress(execute_kw(TENANT)) + b"garbage", 400),
    ("raw deflate without zlib header", "deflate", zlib.compress(execute_kw(TENANT))[2:-4], 400),
    ("deflate with trailing bytes", "deflate", zlib.compress(execute_kw(TENANT)) + b"x", 400),
    ("plain body labelled deflate", "deflate", execute_kw(TENANT), 400),
]


@pytest.mark.parametrize(
    ("desc", "coding", "body", "expected"), CODINGS, ids=[c[0] for c in CODINGS]
)
def test_content_encodings(desc: str, coding: str, body: bytes, expected: int) -> None:
    assert status(jsonrpc(body, JSON, coding)) == expected


def test_gzip_bomb_is_413_without_inflating_it_all() -> None:
    bomb = gzip.compress(b" " * (64 << 20))
    assert len(bomb) < 100_000
    assert status(jsonrpc(bomb, JSON, "gzip")) == 413


def test_deflate_bomb_is_413() -> None:
    assert status(jsonrpc(zlib.compress(b"[" * (8 << 20), 9), JSON, "deflate")) == 413


def test_body_over_the_limit_is_413() -> None:
    body = execute_kw(TENANT)
    assert status(jsonrpc(body, limit=len(body))) == 200
    assert status(jsonrpc(body, limit=len(body) - 1)) == 413


def test_decompressed_limit_is_exact() -> None:
    body = execute_kw(TENANT)
    packed = gzip.compress(body)
    assert status(jsonrpc(packed, JSON, "gzip", limit=len(body))) == 200
    assert status(jsonrpc(packed, JSON, "gzip", limit=len(body) - 1)) == 413


# ---------------------------------------------------------------- /web/session/authenticate

AUTHENTICATE = [
    ("tenant", auth(TENANT), 200),
    ("tenant, escaped", b'{"params": {"db": "\\u0074en_a", "login": "a", "password": "p"}}', 200),
    (
        "tenant with base_location",
        json.dumps(
            {"params": {"db": TENANT, "login": "a", "password": "p", "base_location": "https://x"}}
        ).encode(),
        200,
    ),
    ("another tenant", auth("ten_b"), 403),
    ("a longer name", auth("ten_ab"), 403),
    ("upper case", auth("TEN_A"), 403),
    ("db as a list", auth([TENANT]), 403),
    ("db null", auth(None), 403),
    ("no db", b'{"params": {"login": "a", "password": "p"}}', 400),
    ("DB instead of db", b'{"params": {"DB": "ten_a", "login": "a", "password": "p"}}', 400),
    (
        "db and DB",
        b'{"params": {"db": "ten_a", "DB": "ten_b", "login": "a", "password": "p"}}',
        400,
    ),
    ("db with a trailing-space twin", b'{"params": {"db": "ten_a", "db ": "ten_b"}}', 400),
    ("duplicate db, tenant last", b'{"params": {"db": "ten_b", "db": "ten_a"}}', 400),
    ("duplicate db, tenant first", b'{"params": {"db": "ten_a", "db": "ten_b"}}', 400),
    ("params as pairs", b'{"params": [["db", "ten_b"]]}', 400),
    ("batch", b"[" + auth(TENANT) + b"]", 400),
]


@pytest.mark.parametrize(
    ("desc", "body", "expected"), AUTHENTICATE, ids=[c[0] for c in AUTHENTICATE]
)
def test_session_authenticate(desc: str, body: bytes, expected: int) -> None:
    assert status(jsonrpc(body, path="/web/session/authenticate")) == expected


def test_authenticate_needs_json() -> None:
    verdict = jsonrpc(
        b"db=ten_b&login=a", "application/x-www-form-urlencoded", path="/web/session/authenticate"
    )
    assert status(verdict) == 415


# --------------------------------------------------------------------------- answers


def error_of(verdict: Allow | Refuse) -> dict[str, Any]:
    assert isinstance(verdict, Refuse)
    assert verdict.content_type.startswith("application/json")
    doc = json.loads(verdict.body)
    assert doc["jsonrpc"] == "2.0"
    assert set(doc) == {"jsonrpc", "id", "error"}
    return doc  # type: ignore[no-any-return]


@pytest.mark.parametrize("request_id", [1, 0, 7.5, "abc-1", None])
def test_refusal_echoes_the_request_id(request_id: object) -> None:
    doc = error_of(jsonrpc(call("object", "execute_kw", ["ten_b", 2, "pw"], request_id)))
    assert doc["id"] == request_id


@pytest.mark.parametrize("request_id", [[1], {"a": 1}, True])
def test_refusal_drops_ids_that_are_not_json_rpc_ids(request_id: object) -> None:
    assert error_of(jsonrpc(call("db", "drop", ["a", "b"], request_id)))["id"] is None


def test_refusal_shape_is_what_odoo_clients_read() -> None:
    verdict = jsonrpc(execute_kw("ten_b"))
    error = error_of(verdict)["error"]
    assert error["code"] == 403
    assert error["data"]["name"] == "odoo_router.security.rpc_firewall"
    assert "another" in error["data"]["message"]
    assert error["message"] == error["data"]["message"]
    assert isinstance(verdict, Refuse) and "ten_b" in verdict.reason


def test_parse_errors_answer_with_null_id_and_400() -> None:
    doc = error_of(jsonrpc(b'{"id": 5, "params": '))
    assert doc["id"] is None
    assert doc["error"]["code"] == 400


def test_415_and_413_are_json_rpc_errors_too() -> None:
    assert error_of(jsonrpc(execute_kw(TENANT), "text/plain"))["error"]["code"] == 415
    assert error_of(jsonrpc(execute_kw(TENANT), limit=10))["error"]["code"] == 413


def test_client_message_does_not_leak_the_tenant_name() -> None:
    verdict = jsonrpc(execute_kw("ten_b"))
    assert isinstance(verdict, Refuse) and b"ten_a" not in verdict.body


@pytest.mark.parametrize(("desc", "body"), ALLOWED, ids=[c[0] for c in ALLOWED])
def test_what_passes_reads_the_same_in_odoo(desc: str, body: bytes) -> None:
    # Odoo's own reading: json.loads(get_data(as_text=True)), dict(params), dispatch_rpc.
    doc = json.loads(body.decode("utf-8", "replace"))
    params = dict(doc.get("params", {}))
    service, method, args = params["service"], params["method"], params["args"]
    if service == "db":
        assert method == "server_version"
    elif service == "object" or method in ("login", "authenticate"):
        assert args[0] == TENANT
    else:
        assert method in ("version", "about", "set_loglevel")
