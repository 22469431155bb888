"""Tenant RPC firewall, XML-RPC side: /xmlrpc/<service> and /xmlrpc/2/<service> on host ten_a."""

from __future__ import annotations

import gzip
import xmlrpc.client
import zlib

import pytest

from odoo_router.security.rpc_firewall import Allow, Refuse
from odoo_router.security.rpc_inspect import inspect_rpc

TENANT = "ten_a"
XML = "text/xml"


def dumps(method: str, *params: object) -> bytes:
    """What Python's xmlrpc.client (the usual Odoo client) sends."""
    return xmlrpc.client.dumps(params, method, allow_none=True).encode()


def raw_call(method: str, first_value: str, rest: str = "") -> bytes:
    """A hand-written call whose first parameter is the XML ``first_value`` (a <value>)."""
    return (
        f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>"
        f"<param>{first_value}</param>{rest}</params></methodCall>"
    ).encode()


def execute_kw(db: object) -> bytes:
    return dumps("execute_kw", db, 2, "pw", "res.partner", "read", [[1]], {})


def xmlrpc_call(
    body: bytes,
    service: str = "object",
    content_type: str | None = XML,
    encoding: str | None = None,
    version2: bool = True,
    limit: int = 1 << 20,
) -> Allow | Refuse:
    path = f"/xmlrpc/2/{service}" if version2 else f"/xmlrpc/{service}"
    return inspect_rpc(path, content_type, encoding, body, TENANT, limit)


def status(verdict: Allow | Refuse) -> int:
    return 200 if isinstance(verdict, Allow) else verdict.status


EXECUTE = "execute_kw"
V = "<value><string>ten_a</string></value>"  # the tenant, typed

CASES = [
    # (desc, service, body, expected status)
    ("object execute_kw on the tenant", "object", execute_kw(TENANT), 200),
    (
        "object execute on the tenant",
        "object",
        dumps("execute", TENANT, 2, "pw", "m", "search", []),
        200,
    ),
    ("common login on the tenant", "common", dumps("login", TENANT, "admin", "pw"), 200),
    (
        "common authenticate on the tenant",
        "common",
        dumps("authenticate", TENANT, "a", "p", {}),
        200,
    ),
    ("common version", "common", dumps("version"), 200),
    ("common about", "common", dumps("about", True), 200),
    ("db server_version", "db", dumps("server_version"), 200),
    ("untyped value is a string", "object", raw_call(EXECUTE, "<value>ten_a</value>"), 200),
    (
        "whitespace around the typed value",
        "object",
        raw_call(EXECUTE, "<value>\n  <string>ten_a</string>\n</value>"),
        200,
    ),
    (
        "character references",
        "object",
        raw_call(EXECUTE, "<value><string>&#116;en_&#x61;</string></value>"),
        200,
    ),
    (
        "CDATA",
        "object",
        raw_call(EXECUTE, "<value><string><![CDATA[ten_a]]></string></value>"),
        200,
    ),
    (
        "a comment inside the name",
        "object",
        raw_call(EXECUTE, "<value><string>ten<!-- x -->_a</string></value>"),
        200,
    ),
    (
        "predefined entity in a later value",
        "object",
        raw_call(EXECUTE, V, "<param><value>&lt;&amp;</value></param>"),
        200,
    ),
    (
        "encoding UTF-8 declared",
        "object",
        b'<?xml version="1.0" encoding="UTF-8"?>' + execute_kw(TENANT)[21:],
        200,
    ),
    (
        "encoding iso-8859-1 declared (PHP clients)",
        "object",
        b'<?xml version="1.0" encoding="iso-8859-1"?>' + execute_kw(TENANT)[21:],
        200,
    ),
    ("no XML declaration", "object", execute_kw(TENANT)[22:], 200),
    ("UTF-8 byte order mark", "object", b"\xef\xbb\xbf" + execute_kw(TENANT), 200),
    (
        "another tenant's name in the call's data",
        "object",
        dumps(EXECUTE, TENANT, 2, "pw", "m", "search", [["name", "=", "ten_b"]]),
        200,
    ),
    # other databases
    ("object on another tenant", "object", execute_kw("ten_b"), 403),
    ("object on a longer name", "object", execute_kw("ten_ab"), 403),
    ("object on a prefix", "object", execute_kw("ten_"), 403),
    ("upper case", "object", execute_kw("TEN_A"), 403),
    ("common login on another tenant", "common", dumps("login", "ten_b", "admin", "pw"), 403),
    (
        "common authenticate on another tenant",
        "common",
        dumps("authenticate", "ten_b", "a", "p", {}),
        403,
    ),
    ("untyped other tenant", "object", raw_call(EXECUTE, "<value>ten_b</value>"), 403),
    (
        "untyped tenant padded with spaces",
        "object",
        raw_call(EXECUTE, "<value> ten_a </value>"),
        403,
    ),
    ("untyped tenant with a newline", "object", raw_call(EXECUTE, "<value>ten_a\n</value>"), 403),
    (
        "typed tenant padded with a tab",
        "object",
        raw_call(EXECUTE, "<value><string>ten_a\t</string></value>"),
        403,
    ),
    (
        "character references to another tenant",
        "object",
        raw_call(EXECUTE, "<value><string>ten_&#98;</string></value>"),
        403,
    ),
    (
        "CDATA of another tenant",
        "object",
        raw_call(EXECUTE, "<value><string><![CDATA[ten_b]]></string></value>"),
        403,
    ),
    (
        "comment splitting another tenant",
        "object",
        raw_call(EXECUTE, "<value><string>ten_<!-- a -->b</string></value>"),
        403,
    ),
    (
        "processing instruction splitting a name",
        "object",
        raw_call(EXECUTE, "<value><string>ten_<?pi a?>b</string></value>"),
        403,
    ),
    (
        "base64 of the tenant is no string",
        "object",
        raw_call(EXECUTE, "<value><base64>dGVuX2E=</base64></value>"),
        403,
    ),
    (
        "array holding the tenant",
        "object",
        raw_call(EXECUTE, f"<value><array><data>{V}</data></array></value>"),
        403,
    ),
    (
        "struct holding the tenant",
        "object",
        raw_call(EXECUTE, f"<value><struct><member><name>db</name>{V}</member></struct></value>"),
        403,
    ),
    ("int", "object", raw_call(EXECUTE, "<value><int>1</int></value>"), 403),
    ("nil", "object", raw_call(EXECUTE, "<value><nil/></value>"), 403),
    (
        "namespaced string of another tenant",
        "object",
        raw_call(EXECUTE, '<value><ex:string xmlns:ex="urn:x">ten_b</ex:string></value>'),
        403,
    ),
    (
        "a stray value before <params> becomes params[0]",
        "object",
        b"<methodCall><methodName>execute_kw</methodName><value>ten_b</value><params>"
        b"<param><value>ten_a</value></param></params></methodCall>",
        403,
    ),
    (
        "a stray value before <methodName>",
        "object",
        b"<methodCall><value>ten_b</value><methodName>execute_kw</methodName><params>"
        b"<param><value>ten_a</value></param></params></methodCall>",
        403,
    ),
    (
        "a stray value after </params> is a parameter too",
        "common",
        b"<methodCall><methodName>login</methodName><params></params>"
        b"<value>ten_b</value></methodCall>",
        403,
    ),
    (
        "two methodNames: the last one counts (drop)",
        "db",
        b"<methodCall><methodName>server_version</methodName><params></params>"
        b"<methodName>drop</methodName></methodCall>",
        403,
    ),
    (
        "two methodNames: the last one counts (server_version)",
        "db",
        b"<methodCall><methodName>drop</methodName><params></params>"
        b"<methodName>server_version</methodName></methodCall>",
        200,
    ),
    ("object unknown method", "object", dumps("exec_workflow", TENANT, 2, "pw"), 403),
    ("object method with spaces", "object", dumps(" execute_kw ", TENANT, 2, "pw"), 403),
    ("common unknown method", "common", dumps("drop", TENANT), 403),
    ("unknown service report", "report", dumps("render_report", TENANT, 2, "pw"), 403),
    ("service 2 (/xmlrpc/2 itself)", "2", dumps("execute_kw", TENANT, 2, "pw"), 403),
    ("service in upper case", "Object", execute_kw(TENANT), 403),
    ("db list", "db", dumps("list"), 403),
    ("db db_exist", "db", dumps("db_exist", "ten_b"), 403),
    ("db list_lang", "db", dumps("list_lang"), 403),
    ("db drop", "db", dumps("drop", "admin", "ten_b"), 403),
    ("db drop of the tenant itself", "db", dumps("drop", "admin", TENANT), 403),
    ("db dump", "db", dumps("dump", "admin", "ten_b", "zip"), 403),
    ("db restore", "db", dumps("restore", "admin", "ten_b", "AAAA"), 403),
    ("db create_database", "db", dumps("create_database", "admin", "x", False, "en_US"), 403),
    ("db duplicate_database", "db", dumps("duplicate_database", "admin", "ten_b", "x"), 403),
    ("db rename", "db", dumps("rename", "admin", "ten_b", "x"), 403),
    ("db change_admin_password", "db", dumps("change_admin_password", "admin", "x"), 403),
    ("db server_version with a space", "db", dumps("server_version "), 403),
    # malformed
    ("empty body", "object", b"", 400),
    ("not XML", "object", b"methodName=execute_kw", 400),
    ("JSON body", "object", b'{"params": {}}', 400),
    ("truncated", "object", execute_kw(TENANT)[:-20], 400),
    ("two roots", "object", execute_kw(TENANT) + execute_kw("ten_b"), 400),
    (
        "no methodName",
        "object",
        b"<methodCall><params><param><value>ten_a</value></param></params></methodCall>",
        400,
    ),
    (
        "no params (object needs a db)",
        "object",
        b"<methodCall><methodName>execute_kw</methodName></methodCall>",
        400,
    ),
    (
        "a fault is not a call",
        "object",
        xmlrpc.client.dumps(xmlrpc.client.Fault(1, "x"), methodresponse=True).encode(),
        400,
    ),
    (
        "unknown tag inside a value",
        "object",
        raw_call(EXECUTE, "<value><bogus>ten_a</bogus></value>"),
        400,
    ),
    (
        "bad int",
        "object",
        raw_call(EXECUTE, V, "<param><value><int>two</int></value></param>"),
        400,
    ),
    (
        "bad boolean",
        "object",
        raw_call(EXECUTE, V, "<param><value><boolean>2</boolean></value></param>"),
        400,
    ),
    (
        "bad dateTime",
        "object",
        raw_call(
            EXECUTE, V, "<param><value><dateTime.iso8601>x</dateTime.iso8601></value></param>"
        ),
        400,
    ),
    (
        "NUL character reference",
        "object",
        raw_call(EXECUTE, "<value><string>ten_a&#0;</string></value>"),
        400,
    ),
    ("raw NUL byte", "object", raw_call(EXECUTE, "<value><string>ten_a\x00</string></value>"), 400),
    (
        "invalid UTF-8",
        "object",
        raw_call(EXECUTE, "<value><string>ten_a</string></value>").replace(b"ten_a", b"ten_\xff"),
        400,
    ),
    (
        "undefined entity",
        "object",
        raw_call(EXECUTE, "<value><string>&tenant;</string></value>"),
        400,
    ),
    ("unclosed array", "object", raw_call(EXECUTE, f"<value><array><data>{V}</data></value>"), 400),
]


@pytest.mark.parametrize(("desc", "service", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_xmlrpc_calls(desc: str, service: str, body: bytes, expected: int) -> None:
    assert status(xmlrpc_call(body, service)) == expected


@pytest.mark.parametrize("version2", [True, False], ids=["/xmlrpc/2", "/xmlrpc"])
@pytest.mark.parametrize(("db", "expected"), [(TENANT, 200), ("ten_b", 403)])
def test_both_xmlrpc_endpoints(version2: bool, db: str, expected: int) -> None:
    assert status(xmlrpc_call(execute_kw(db), version2=version2)) == expected


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<methodCall><methodName>execute_kw</methodName><params>
<param><value>ten_a</value></param><param><value>&lol9;</value></param></params></methodCall>"""

DTD_ATTACKS = [
    ("billion laughs", BILLION_LAUGHS),
    (
        "internal entity naming the other tenant",
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY db "ten_b">]>'
        + raw_call(EXECUTE, "<value>&db;</value>")[21:],
    ),
    (
        "internal entity naming the tenant itself",
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY db "ten_a">]>'
        + raw_call(EXECUTE, "<value>&db;</value>")[21:],
    ),
    (
        "external entity (XXE)",
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + raw_call(EXECUTE, "<value>&x;</value>")[21:],
    ),
    (
        "external DTD",
        b'<?xml version="1.0"?><!DOCTYPE m SYSTEM "http://example.invalid/x.dtd">'
        + execute_kw(TENANT)[22:],
    ),
    (
        "parameter entity",
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % p "x"> %p;]>' + execute_kw(TENANT)[22:],
    ),
    ("empty DOCTYPE", b"<?xml version='1.0'?><!DOCTYPE methodCall>" + execute_kw(TENANT)[22:]),
    (
        "attribute default from a DTD",
        b'<?xml version="1.0"?><!DOCTYPE methodCall [<!ATTLIST methodCall a CDATA "x">]>'
        + execute_kw(TENANT)[22:],
    ),
]


@pytest.mark.parametrize(("desc", "body"), DTD_ATTACKS, ids=[c[0] for c in DTD_ATTACKS])
def test_dtds_and_entities_are_refused(desc: str, body: bytes) -> None:
    verdict = xmlrpc_call(body)
    assert status(verdict) == 400
    assert isinstance(verdict, Refuse) and b"DTDs and entities" in verdict.body


ENCODINGS = [
    # (desc, content type, content-encoding, body, expected)
    ("text/xml; charset=utf-8", "text/xml; charset=utf-8", None, execute_kw(TENANT), 200),
    ("application/xml", "application/xml", None, execute_kw(TENANT), 200),
    ("TEXT/XML", "TEXT/XML", None, execute_kw(TENANT), 200),
    ("charset us-ascii", "text/xml; charset=us-ascii", None, execute_kw(TENANT), 200),
    ("charset ISO-8859-1", 'text/xml; charset="ISO-8859-1"', None, execute_kw(TENANT), 200),
    ("gzip", XML, "gzip", gzip.compress(execute_kw(TENANT)), 200),
    ("deflate", XML, "deflate", zlib.compress(execute_kw(TENANT)), 200),
    ("gzip, other tenant", XML, "gzip", gzip.compress(execute_kw("ten_b")), 403),
    ("gzip, billion laughs", XML, "gzip", gzip.compress(BILLION_LAUGHS), 400),
    ("gzip bomb", XML, "gzip", gzip.compress(b"<" * (32 << 20)), 413),
    ("corrupt gzip", XML, "gzip", b"\x1f\x8b" + b"\x00" * 30, 400),
    ("no content type", None, None, execute_kw(TENANT), 415),
    ("application/json", "application/json", None, execute_kw(TENANT), 415),
    ("text/plain", "text/plain", None, execute_kw(TENANT), 415),
    ("form", "application/x-www-form-urlencoded", None, execute_kw(TENANT), 415),
    ("application/xhtml+xml", "application/xhtml+xml", None, execute_kw(TENANT), 415),
    ("charset utf-16", "text/xml; charset=utf-16", None, execute_kw(TENANT), 415),
    ("charset ebcdic", "text/xml; charset=cp500", None, execute_kw(TENANT), 415),
    ("UTF-16 body with BOM", XML, None, execute_kw(TENANT).decode().encode("utf-16"), 415),
    ("UTF-16LE body without BOM", XML, None, execute_kw(TENANT).decode().encode("utf-16-le"), 415),
    ("UTF-32 body", XML, None, execute_kw(TENANT).decode().encode("utf-32"), 415),
    (
        "declared utf-16",
        XML,
        None,
        b'<?xml version="1.0" encoding="utf-16"?>' + execute_kw(TENANT)[22:],
        415,
    ),
    (
        "declared windows-1252",
        XML,
        None,
        b'<?xml version="1.0" encoding="windows-1252"?>' + execute_kw(TENANT)[22:],
        415,
    ),
    (
        "declared UTF-7",
        XML,
        None,
        b'<?xml version="1.0" encoding="UTF-7"?>' + execute_kw(TENANT)[22:],
        415,
    ),
    (
        "header utf-8, declaration latin-1",
        "text/xml; charset=utf-8",
        None,
        b'<?xml version="1.0" encoding="iso-8859-1"?>' + execute_kw(TENANT)[22:],
        415,
    ),
    ("brotli", XML, "br", execute_kw(TENANT), 415),
    ("stacked codings", XML, "deflate, gzip", execute_kw(TENANT), 415),
]


@pytest.mark.parametrize(
    ("desc", "ctype", "coding", "body", "expected"), ENCODINGS, ids=[c[0] for c in ENCODINGS]
)
def test_content_types_charsets_and_codings(
    desc: str, ctype: str | None, coding: str | None, body: bytes, expected: int
) -> None:
    assert status(xmlrpc_call(body, content_type=ctype, encoding=coding)) == expected


def test_latin1_declared_body_is_read_as_latin1() -> None:
    # \xe9 is é in ISO-8859-1 and an invalid byte in UTF-8: the declaration decides, as in Odoo.
    body = (
        b'<?xml version="1.0" encoding="iso-8859-1"?><methodCall><methodName>execute_kw'
        b"</methodName><params><param><value>ten_a</value></param>"
        b"<param><value>caf\xe9</value></param></params></methodCall>"
    )
    assert status(xmlrpc_call(body)) == 200


def test_body_over_the_limit_is_413() -> None:
    body = execute_kw(TENANT)
    assert status(xmlrpc_call(body, limit=len(body))) == 200
    assert status(xmlrpc_call(body, limit=len(body) - 1)) == 413


def fault_of(verdict: Allow | Refuse) -> xmlrpc.client.Fault:
    assert isinstance(verdict, Refuse)
    assert verdict.content_type.startswith("text/xml")
    with pytest.raises(xmlrpc.client.Fault) as caught:
        xmlrpc.client.loads(verdict.body)
    return caught.value


@pytest.mark.parametrize(
    ("body", "ctype", "code"),
    [
        (execute_kw("ten_b"), XML, 403),
        (b"<nope", XML, 400),
        (execute_kw(TENANT), "application/json", 415),
    ],
)
def test_refusals_are_xmlrpc_faults_with_int_codes(body: bytes, ctype: str, code: int) -> None:
    fault = fault_of(xmlrpc_call(body, content_type=ctype))
    assert fault.faultCode == code
    assert isinstance(fault.faultCode, int)
    assert fault.faultString.startswith("odoo-router: ")


def test_fault_reads_the_same_on_the_legacy_endpoint() -> None:
    assert fault_of(xmlrpc_call(execute_kw("ten_b"), version2=False)).faultCode == 403


def test_reason_names_the_call_and_database_for_logs() -> None:
    verdict = xmlrpc_call(dumps("login", "ten_b", "admin", "secret"), "common")
    assert isinstance(verdict, Refuse)
    assert "common.login" in verdict.reason and "ten_b" in verdict.reason
    assert "secret" not in verdict.reason


ALLOWED_BODIES = [(c[0], c[1], c[2]) for c in CASES if c[3] == 200]


@pytest.mark.parametrize(
    ("desc", "service", "body"), ALLOWED_BODIES, ids=[c[0] for c in ALLOWED_BODIES]
)
def test_what_passes_reads_the_same_in_odoo(desc: str, service: str, body: bytes) -> None:
    # Odoo's own reading: xmlrpc.client.loads(data, use_datetime=True), then dispatch_rpc.
    params, method = xmlrpc.client.loads(body, use_datetime=True)
    if service == "db":
        assert method == "server_version"
    elif service == "object" or method in ("login", "authenticate"):
        assert params[0] == TENANT
    else:
        assert method in ("version", "about", "set_loglevel")
