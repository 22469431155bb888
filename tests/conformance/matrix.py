"""The case matrix as data: host classes, paths, and the header, method and handshake variants."""

from __future__ import annotations

from .case import HostForm, body_bytes

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
    ("x-request-id-hex", (("X-Request-ID", "0123456789abcdef0123456789abcdef"),)),
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


def ws_headers(
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


# Upstream answers (answers.py), asked for with ?echo=NAME, on these hosts and paths.
RESPONSE_NAMES = (
    "cookies",
    "no-content",
    "not-modified",
    "server-error",
    "redirect",
    "chunked",
    "big",
    "hop-by-hop",
    "accel",
)
RESPONSE_HOSTS = ("admin", "testodoo", "sub", "unknown")
RESPONSE_PATHS = ("/jsonrpc", "/odoo", "/websocket", "/web/login")
