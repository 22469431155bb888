"""The generated case matrix: raw requests covering the reference router's behaviour.

Pure data, no I/O. Each case is the exact bytes a client sends plus the facts the comparison
needs (case classes for the documented deviations, whether the answer to HEAD has a body).
Groups: `path` (every location and its boundaries on the main host classes), `hostform`
(host normalisation forms on the locations), `method`, `header` (dbfilter spellings,
X-Forwarded-* spoofs, Connection tricks), `websocket` (an upgrade on every host class),
`oversize` (a declared body over the 50 MiB limit, headers only), `malformed`, and `table`
(the compat rows of the shared routing case table, tests/cases/routing_cases.yaml).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CASE_TABLE = Path(__file__).resolve().parents[1] / "cases" / "routing_cases.yaml"

LIMIT = 50 * 1024 * 1024  # client_max_body_size 50M
HOP_BY_HOP = frozenset({"close", "keep-alive", "upgrade"})


@dataclass(frozen=True)
class HostForm:
    name: str
    hosts: tuple[str, ...]  # Host header values sent, in order (none, one, or a duplicate)
    absolute: str | None = None  # authority of an absolute-form request target
    version: str = "HTTP/1.1"

    def origin(self) -> str:
        authority = self.absolute or (self.hosts[0] if self.hosts else "localhost")
        return f"https://{authority}"


# The host classes every location is crossed with.
MAIN_HOSTS = (
    HostForm("admin", ("admin.erp.seisei.tokyo",)),
    HostForm("admin-upper", ("ADMIN.Erp.SEISEI.tokyo",)),
    HostForm("testodoo", ("testodoo.seisei.tokyo",)),
    HostForm("demo", ("demo.nagashiro.top",)),
    HostForm("sub", ("acme.erp.seisei.tokyo",)),
    HostForm("unknown", ("example.com",)),
    HostForm("bare", ("erp.seisei.tokyo",)),
    HostForm("nested", ("a.b.erp.seisei.tokyo",)),
)

# Normalisation forms, crossed with one path per location.
FORM_HOSTS = (
    HostForm("admin-port", ("admin.erp.seisei.tokyo:8080",)),
    HostForm("admin-dot", ("admin.erp.seisei.tokyo.",)),
    HostForm("admin-dot-port", ("admin.erp.seisei.tokyo.:443",)),
    HostForm("admin-2dots", ("admin.erp.seisei.tokyo..",)),
    HostForm("admin-prefixed", ("xadmin.erp.seisei.tokyo",)),
    HostForm("admin-spaces", ("  admin.erp.seisei.tokyo  ",)),
    HostForm("testodoo-upper-port", ("TestOdoo.Seisei.Tokyo:80",)),
    HostForm("demo-dot", ("demo.nagashiro.top.",)),
    HostForm("sub-upper", ("ACME.erp.seisei.tokyo",)),
    HostForm("sub-port", ("acme.erp.seisei.tokyo:443",)),
    HostForm("sub-dot", ("acme.erp.seisei.tokyo.",)),
    HostForm("sub-digits", ("a1b2.erp.seisei.tokyo",)),
    HostForm("sub-hyphen", ("my-co.erp.seisei.tokyo",)),
    HostForm("sub-underscore", ("my_co.erp.seisei.tokyo",)),
    HostForm("sub-suffix", ("acme.erp.seisei.tokyo.evil.com",)),
    HostForm("ipv4", ("127.0.0.1",)),
    HostForm("ipv4-port", ("127.0.0.1:8069",)),
    HostForm("ipv6", ("[::1]:8080",)),
    HostForm("unknown-port", ("example.com:8443",)),
    HostForm("empty-host", ("",)),
    HostForm("bad-host-slash", ("acme/evil",)),
    HostForm("no-host-http10", (), version="HTTP/1.0"),
    HostForm("admin-http10", ("admin.erp.seisei.tokyo",), version="HTTP/1.0"),
    HostForm("no-host-http11", ()),
    HostForm("absolute-sub-over-unknown", ("example.com",), absolute="acme.erp.seisei.tokyo"),
    HostForm(
        "absolute-admin-over-sub", ("acme.erp.seisei.tokyo",), absolute="admin.erp.seisei.tokyo"
    ),
    HostForm("absolute-upper-port", ("example.com",), absolute="ADMIN.erp.seisei.tokyo:8443"),
    HostForm("absolute-no-host-http10", (), absolute="testodoo.seisei.tokyo", version="HTTP/1.0"),
    HostForm("dup-host-same", ("acme.erp.seisei.tokyo", "acme.erp.seisei.tokyo")),
    HostForm("dup-host-differ", ("acme.erp.seisei.tokyo", "admin.erp.seisei.tokyo")),
)

ALL_HOSTS = MAIN_HOSTS + FORM_HOSTS

# Every location of the reference and its boundaries, in normalised and raw forms.
PATHS = (
    "/",
    "/?db=other",
    "/?",
    "/nginx-health",
    "/nginx-health/",
    "/nginx-health?probe=1",
    "/nginx-healthz",
    "/web/login",
    "/web/login?redirect=/odoo",
    "/web/login/",
    "/web/loginx",
    "/web/Login",
    "/web/%6cogin",
    "/web//login",
    "/web/./login",
    "/x/../web/login",
    "/web/login%3Fx=1",
    "/web/database/manager",
    "/web/database/selector?x=1",
    "/web/database/",
    "/web/database",
    "/web/databases/",
    "/WEB/database/manager",
    "/web/%64atabase/manager",
    "/web/database%2Fmanager",
    "/web/%2564atabase/manager",
    "/web//database/manager",
    "//web/database/manager",
    "/x/../web/database/manager",
    "/web/./database/manager",
    "/web/database/../login",
    "/en/web/database/manager",
    "/en_US/web/database/list",
    "/qr/table/5",
    "/qr/table/5?t=%2e%2e",
    "/qr/",
    "/qr",
    "/qrx/",
    "/QR/x",
    "/%71r/x",
    "/x/../qr/x",
    "/websocket",
    "/websocket/",
    "/websocketx",
    "/websocket?version=18.0-1",
    "/%77ebsocket",
    "/bus/im_status",
    "/bus",
    "/longpolling/poll",
    "/longpolling",
    "/jsonrpc",
    "/jsonrpc?db=other",
    "/jsonrpc/",
    "/jsonrpcx",
    "/JSONRPC",
    "/%6asonrpc",
    "/xmlrpc/2/common",
    "/xmlrpc/2/object",
    "/xmlrpc",
    "/x/../xmlrpc/2/db",
    "/report/pdf/sale.report_saleorder/1",
    "/report",
    "/report/",
    "/reportx/",
    "/web/static/src/img/logo.png",
    "/web/assets/1/web.assets_frontend.min.js",
    "/web/static",
    "/web/staticx/a",
    "/web/%73tatic/a",
    "/base/static/description/icon.png",
    "/web/image/res.partner/1/avatar_128",
    "/web/content/1?download=true",
    "/web/health",
    "/odoo",
    "/odoo/action-base.action_res_users",
    "/odoo/discuss?debug=1",
    "/web?db=other",
    "/web/webclient/version_info",
    "/a%20b",
    "/%7Euser/x",
    "/x;y=1",
    "/.",
    "/./web/login",
    "/..",
    "/../web/login",
    "/x/../../web/login",
    "/%2e%2e/web/database/manager",
    "/%00",
    "/web/login#frag",
)

# One path per location (and a normalised-form trap) for the host forms.
FORM_PATHS = (
    "/",
    "/nginx-health",
    "/web/login",
    "/web/database/manager",
    "/web/%64atabase/manager",
    "/websocket",
    "/bus/x",
    "/qr/x",
    "/jsonrpc",
    "/report/x",
    "/web/static/x.js",
    "/odoo",
)


def body_bytes(n: int) -> bytes:
    pattern = bytes(range(256))
    return (pattern * (n // 256 + 1))[:n]


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    raw: bytes  # exactly what the client sends
    method: str
    classes: frozenset[str] = field(default_factory=frozenset)
    connection_tokens: frozenset[str] = frozenset()  # non-hop-by-hop names in Connection

    @property
    def head(self) -> bool:
        return self.method == "HEAD"


def build(
    form: HostForm,
    method: str,
    path: str,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> bytes:
    target = f"http://{form.absolute}{path}" if form.absolute else path
    lines = [f"{method} {target} {form.version}"]
    lines += [f"Host: {h}" if h else "Host:" for h in form.hosts]
    lines += [f"{k}: {v}" if v else f"{k}:" for k, v in headers]
    if body and content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _connection_tokens(headers: tuple[tuple[str, str], ...]) -> frozenset[str]:
    tokens = {
        t.strip().lower()
        for k, v in headers
        if k.lower() == "connection"
        for t in v.split(",")
        if t.strip()
    }
    return frozenset(tokens - HOP_BY_HOP)


def _case(
    group: str,
    form: HostForm,
    method: str,
    path: str,
    variant: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    *,
    raw: bytes | None = None,
) -> Case:
    tokens = _connection_tokens(headers)
    classes = {group, f"host:{form.name}"}
    if tokens:
        classes.add("connection-tokens")
    if any(k.lower() == "proxy-connection" for k, _ in headers):
        classes.add("proxy-connection")
    connection = ",".join(v for k, v in headers if k.lower() == "connection").lower()
    if any(k.lower() == "upgrade" for k, _ in headers) and "upgrade" not in connection:
        classes.add("upgrade-without-connection")
    suffix = f"-{variant}" if variant else ""
    return Case(
        id=f"{group}-{form.name}-{method}-{path}{suffix}",
        group=group,
        raw=raw if raw is not None else build(form, method, path, headers, body),
        method=method,
        classes=frozenset(classes),
        connection_tokens=tokens,
    )


# Header variants: (name, headers). Sent on a few hosts and locations.
HEADER_VARIANTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("dbf", (("X-Odoo-dbfilter", "evil"),)),
    ("dbf-lower", (("x-odoo-dbfilter", "evil"),)),
    ("dbf-upper", (("X-ODOO-DBFILTER", "evil"),)),
    ("dbf-mixed", (("x-OdOo-DbFiLtEr", "evil"),)),
    ("dbf-dup", (("X-Odoo-dbfilter", "evil1"), ("X-Odoo-dbfilter", "evil2"))),
    ("dbf-dup-cases", (("X-Odoo-dbfilter", "evil1"), ("x-odoo-DBFILTER", "evil2"))),
    ("dbf-empty", (("X-Odoo-dbfilter", ""),)),
    ("dbf-regex", (("X-Odoo-dbfilter", ".*"),)),
    ("dbf-underscores", (("X_Odoo_dbfilter", "evil"),)),
    ("dbf-one-underscore", (("X-Odoo_dbfilter", "evil"),)),
    ("dbf-both-spellings", (("X-Odoo-dbfilter", "evil1"), ("X_Odoo_dbfilter", "evil2"))),
    ("dbf-connection", (("Connection", "X-Odoo-dbfilter"), ("X-Odoo-dbfilter", "evil"))),
    ("dbf-connection-only", (("Connection", "X-Odoo-dbfilter"),)),
    ("dbf-connection-close", (("Connection", "close, x-odoo-dbfilter"),)),
    ("dbf-ws-before-colon", (("X-Odoo-dbfilter ", "evil"),)),
    ("dbf-tab-before-colon", (("X-Odoo-dbfilter\t", "evil"),)),
    ("dbf-spaces", (("X-Odoo-dbfilter", "  evil  "),)),
    ("xff", (("X-Forwarded-For", "203.0.113.7"),)),
    ("xff-list", (("X-Forwarded-For", "203.0.113.7, 198.51.100.2"),)),
    ("xff-dup", (("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-For", "198.51.100.2"))),
    ("xff-empty", (("X-Forwarded-For", ""),)),
    ("xff-lower", (("x-forwarded-for", "203.0.113.7"),)),
    ("xff-spaces", (("X-Forwarded-For", "  203.0.113.7  "),)),
    ("xfp-https", (("X-Forwarded-Proto", "https"),)),
    ("xfp-HTTPS", (("X-Forwarded-Proto", "HTTPS"),)),
    ("xfp-http", (("X-Forwarded-Proto", "http"),)),
    ("xfp-wss", (("X-Forwarded-Proto", "wss"),)),
    ("xfp-list", (("X-Forwarded-Proto", "https, http"),)),
    ("xfp-dup", (("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http"))),
    ("xfp-spaces", (("X-Forwarded-Proto", "  https  "),)),
    ("xfp-http-then-https", (("X-Forwarded-Proto", "http"), ("X-Forwarded-Proto", "https"))),
    ("xfh", (("X-Forwarded-Host", "evil.example"),)),
    ("xri", (("X-Real-IP", "203.0.113.9"),)),
    ("forwarded", (("Forwarded", "for=203.0.113.7;proto=https"),)),
    ("xff-underscores", (("X_Forwarded_For", "203.0.113.7"),)),
    ("underscore-custom", (("Foo_Bar", "x"),)),
    ("custom", (("X-Custom", "1"),)),
    ("custom-spaces", (("X-Custom", " \t 1 \t "),)),
    ("cookie", (("Cookie", "session_id=abc; tz=UTC"),)),
    ("conn-custom", (("Connection", "X-Custom"), ("X-Custom", "1"))),
    ("conn-keepalive-custom", (("Connection", "keep-alive, X-Custom"), ("X-Custom", "1"))),
    ("conn-xff", (("Connection", "X-Forwarded-For"), ("X-Forwarded-For", "203.0.113.7"))),
    ("conn-xri", (("Connection", "X-Real-IP"), ("X-Real-IP", "203.0.113.9"))),
    ("conn-host", (("Connection", "Host"),)),
    ("conn-cookie", (("Connection", "Cookie"), ("Cookie", "session_id=abc"))),
    ("proxy-connection", (("Proxy-Connection", "keep-alive"),)),
    ("te", (("TE", "trailers"),)),
    ("keep-alive", (("Keep-Alive", "timeout=5"),)),
    ("upgrade-alone", (("Upgrade", "websocket"),)),
    (
        "conn-upgrade-h2c",
        (
            ("Connection", "Upgrade, HTTP2-Settings"),
            ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
        ),
    ),
    ("via", (("Via", "1.1 evil"),)),
    ("proxy-authorization", (("Proxy-Authorization", "Basic Zm9vOmJhcg=="),)),
    ("trailer", (("Trailer", "X-Checksum"),)),
    ("x-request-id", (("X-Request-ID", "client-chosen"),)),
)
HEADER_HOSTS = ("admin", "testodoo", "sub", "unknown")
HEADER_PATHS = ("/jsonrpc", "/odoo", "/websocket", "/qr/x")

METHOD_VARIANTS: tuple[tuple[str, str, tuple[tuple[str, str], ...], bytes], ...] = (
    ("HEAD", "", (), b""),
    ("OPTIONS", "", (), b""),
    ("POST", "1k", (("Content-Type", "application/json"),), body_bytes(1024)),
    ("POST", "empty", (("Content-Type", "application/json"),), b""),
    ("POST", "200k", (("Content-Type", "application/octet-stream"),), body_bytes(200_000)),
    ("POST", "expect", (("Expect", "100-continue"),), body_bytes(4096)),
    ("PUT", "1k", (), body_bytes(1024)),
    ("DELETE", "", (), b""),
)
METHOD_HOSTS = ("admin", "testodoo", "sub", "unknown", "bare")
METHOD_PATHS = (
    "/",
    "/web/login",
    "/jsonrpc",
    "/xmlrpc/2/object",
    "/web/database/drop",
    "/qr/x",
    "/odoo",
    "/nginx-health",
    "/websocket",
    "/report/x",
)

WS_PATHS_ALL = ("/websocket", "/odoo")
WS_PATHS_MAIN = (
    "/websocket?version=18.0-1",
    "/bus/x",
    "/longpolling/poll",
    "/",
    "/web/login",
    "/qr/x",
    "/jsonrpc",
    "/web/database/manager",
    "/report/x",
    "/web/static/x.js",
)

OVERSIZE_HOSTS = ("admin", "testodoo", "sub", "unknown", "bare")
OVERSIZE_PATHS = (
    "/",
    "/jsonrpc",
    "/web/database/restore",
    "/nginx-health",
    "/web/login",
    "/websocket",
    "/qr/x",
    "/odoo",
)


def _ws_headers(
    form: HostForm, upgrade: str = "websocket", connection: str = "Upgrade"
) -> tuple[tuple[str, str], ...]:
    return (
        ("Upgrade", upgrade),
        ("Connection", connection),
        ("Sec-WebSocket-Key", "Y29uZm9ybWFuY2Uta2V5IQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("Origin", form.origin()),
    )


# Handshake spellings browsers and attackers send, on the main host classes.
WS_VARIANTS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("firefox", "websocket", "keep-alive, Upgrade", ()),
    ("mixed-case", "WebSocket", "upgrade", ()),
    ("spaces", "  websocket  ", "  Upgrade  ", ()),
    ("dbf-spoof", "websocket", "Upgrade", (("X-Odoo-dbfilter", "evil"), ("X_Odoo_dbfilter", "x"))),
)
WS_VARIANT_PATHS = ("/websocket", "/odoo", "/web/login")


def _chunked_post(form: HostForm, path: str) -> Case:
    payload = body_bytes(70_000)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(payload[i : i + 30_000]), payload[i : i + 30_000])
        for i in range(0, len(payload), 30_000)
    )
    head = build(form, "POST", path, (("Transfer-Encoding", "chunked"),))
    return _case("method", form, "POST", path, "chunked", raw=head + chunks + b"0\r\n\r\n")


def _absolute_forms() -> list[Case]:
    """Odd absolute-form request lines (the host in the target wins over Host)."""
    host = "Host: example.com\r\n"
    lines = {
        "upper-scheme": "GET HTTP://ACME.erp.seisei.tokyo/web/database/x HTTP/1.1",
        "https-scheme": "GET https://admin.erp.seisei.tokyo/jsonrpc HTTP/1.1",
        "ftp-scheme": "GET ftp://admin.erp.seisei.tokyo/jsonrpc HTTP/1.1",
        "userinfo": "GET http://user@admin.erp.seisei.tokyo/jsonrpc HTTP/1.1",
        "no-path": "GET http://admin.erp.seisei.tokyo HTTP/1.1",
        "query-no-path": "GET http://admin.erp.seisei.tokyo?x=1 HTTP/1.1",
        "port-dot": "GET http://acme.erp.seisei.tokyo.:8080/jsonrpc HTTP/1.1",
        "ipv6": "GET http://[::1]:8080/jsonrpc HTTP/1.1",
        "encoded-path": "GET http://acme.erp.seisei.tokyo/web/%64atabase/x HTTP/1.1",
        "underscore-host": "GET http://my_co.erp.seisei.tokyo/jsonrpc HTTP/1.1",
    }
    form = HostForm("absolute", ("example.com",))
    return [
        _case("absolute", form, "GET", "", name, raw=f"{line}\r\n{host}\r\n".encode())
        for name, line in lines.items()
    ]


def _malformed() -> list[Case]:
    tenant = HostForm("testodoo", ("testodoo.seisei.tokyo",))
    base = "Host: testodoo.seisei.tokyo\r\n"
    post = f"POST /jsonrpc HTTP/1.1\r\n{base}"
    chunked = "Transfer-Encoding: chunked\r\n\r\n"
    raw_cases = {
        "cl-conflict": f"{post}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "cl-dup-same": f"{post}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
        "cl-negative": f"{post}Content-Length: -1\r\n\r\n",
        "cl-junk": f"{post}Content-Length: 4x\r\n\r\nabcd",
        "cl-and-te": f"{post}Content-Length: 4\r\n{chunked}4\r\nabcd\r\n0\r\n\r\n",
        "te-chunked": f"{post}{chunked}4\r\nabcd\r\n0\r\n\r\n",
        "te-unknown": f"{post}Transfer-Encoding: gzip\r\n\r\n",
        "bad-chunk": f"{post}{chunked}zz\r\nabcd\r\n0\r\n\r\n",
        "lower-method": f"get /jsonrpc HTTP/1.1\r\n{base}\r\n",
        "http2-version": f"GET /jsonrpc HTTP/2.0\r\n{base}\r\n",
        "http09": "GET /jsonrpc\r\n",
        "no-slash": f"GET jsonrpc HTTP/1.1\r\n{base}\r\n",
        "star-get": f"GET * HTTP/1.1\r\n{base}\r\n",
        "space-in-target": f"GET /a b HTTP/1.1\r\n{base}\r\n",
        "long-uri-10k": f"GET /{'a' * 10_000} HTTP/1.1\r\n{base}\r\n",
        "big-header-10k": f"GET /jsonrpc HTTP/1.1\r\n{base}X-Big: {'b' * 10_000}\r\n\r\n",
        "header-no-colon": f"GET /jsonrpc HTTP/1.1\r\n{base}NoColonHere\r\n\r\n",
        "folded-header": f"GET /jsonrpc HTTP/1.1\r\n{base}X-Custom: a\r\n b\r\n\r\n",
        "lf-only": "GET /jsonrpc HTTP/1.1\nHost: testodoo.seisei.tokyo\n\n",
    }
    cases = []
    for name, text in raw_cases.items():
        method = text.split(" ", 1)[0]
        case = _case("malformed", tenant, method, "/jsonrpc", name, raw=text.encode())
        if name == "http09":
            case = replace(case, classes=case.classes | {"http09"})
        cases.append(case)
    return cases


def table_rows() -> list[dict[str, Any]]:
    """The shared routing case table's rows for config/nginx-compat.yaml (tests/cases/)."""
    rows: list[dict[str, Any]] = yaml.safe_load(CASE_TABLE.read_text(encoding="utf-8"))
    return [r for r in rows if r["config"] == "compat"]


def table_case(row: dict[str, Any]) -> Case:
    method = row.get("method", "GET")
    body = str(row.get("body", "")).encode()
    headers = [f"Host: {row['host']}"]
    if row.get("content_type"):
        headers.append(f"Content-Type: {row['content_type']}")
    headers += [f"{k}: {v}" for k, v in (row.get("headers") or {}).items()]
    if body:
        headers.append(f"Content-Length: {len(body)}")
    head = "\r\n".join([f"{method} {row['path']} HTTP/1.1", *headers]) + "\r\n\r\n"
    form = HostForm("table", (str(row["host"]),))
    return Case(
        id=f"table-{row['desc']}",
        group="table",
        raw=head.encode("latin-1") + body,
        method=method,
        classes=frozenset({"table", f"host:{form.name}"}),
    )


@lru_cache(maxsize=1)
def generate() -> tuple[Case, ...]:
    """Every case, once per process (one holds a 50 MiB body)."""
    cases: list[Case] = []
    for form in MAIN_HOSTS:
        for path in PATHS:
            cases.append(_case("path", form, "GET", path))
    for form in FORM_HOSTS:
        for path in FORM_PATHS:
            cases.append(_case("hostform", form, "GET", path))
    by_name = {f.name: f for f in ALL_HOSTS}
    for host in METHOD_HOSTS:
        for path in METHOD_PATHS:
            for method, variant, headers, body in METHOD_VARIANTS:
                cases.append(_case("method", by_name[host], method, path, variant, headers, body))
    for host in HEADER_HOSTS:
        for path in HEADER_PATHS:
            for variant, headers in HEADER_VARIANTS:
                cases.append(_case("header", by_name[host], "GET", path, variant, headers))
    for form in ALL_HOSTS:
        paths = WS_PATHS_ALL + (WS_PATHS_MAIN if form in MAIN_HOSTS else ())
        for path in paths:
            cases.append(_case("websocket", form, "GET", path, "", _ws_headers(form)))
    for form in MAIN_HOSTS:
        for path in WS_VARIANT_PATHS:
            for variant, upgrade, connection, extra in WS_VARIANTS:
                headers = _ws_headers(form, upgrade, connection) + extra
                cases.append(_case("websocket", form, "GET", path, variant, headers))
    for host in OVERSIZE_HOSTS:
        for path in OVERSIZE_PATHS:
            for declared in (LIMIT + 1, 10**12):
                headers = (("Content-Length", str(declared)),)
                cases.append(_case("oversize", by_name[host], "POST", path, str(declared), headers))
    limit = body_bytes(LIMIT)
    cases.append(_case("method", by_name["testodoo"], "POST", "/jsonrpc", "at-limit", (), limit))
    cases.extend(_malformed())
    cases.extend(_absolute_forms())
    for host in METHOD_HOSTS:
        for path in ("/jsonrpc", "/web/login", "/qr/x", "/odoo", "/web/database/restore"):
            cases.append(_chunked_post(by_name[host], path))
    cases.extend(table_case(row) for row in table_rows())
    duplicates = [i for i, n in Counter(c.id for c in cases).items() if n > 1]
    assert not duplicates, f"duplicate case ids: {sorted(duplicates)[:5]}"
    return tuple(cases)
