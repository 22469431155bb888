"""Requests no client library would send: malformed lines, odd absolute forms, chunked bodies."""

from __future__ import annotations

from dataclasses import replace

from .case import Case, HostForm, body_bytes, build, make_case


def chunked_post(form: HostForm, path: str) -> Case:
    payload = body_bytes(70_000)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(payload[i : i + 30_000]), payload[i : i + 30_000])
        for i in range(0, len(payload), 30_000)
    )
    head = build(form, "POST", path, (("Transfer-Encoding", "chunked"),))
    return make_case("method", form, "POST", path, "chunked", raw=head + chunks + b"0\r\n\r\n")


def absolute_forms() -> list[Case]:
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
    form = HostForm("raw", ("example.com",))
    return [
        make_case("absolute", form, "GET", "", name, raw=f"{line}\r\n{host}\r\n".encode())
        for name, line in lines.items()
    ]


def malformed() -> list[Case]:
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
        "raw-utf8-target": f"GET /caf\xc3\xa9/x HTTP/1.1\r\n{base}\r\n",
        "raw-byte-database": f"GET /web/database/\xff HTTP/1.1\r\n{base}\r\n",
        "http12": f"GET /jsonrpc HTTP/1.2\r\n{base}\r\n",
        "http09-line": f"GET /jsonrpc HTTP/0.9\r\n{base}\r\n",
        "trace": f"TRACE /jsonrpc HTTP/1.1\r\n{base}\r\n",
        "connect": f"CONNECT admin.erp.seisei.tokyo:443 HTTP/1.1\r\n{base}\r\n",
        "unknown-method": f"FOO /jsonrpc HTTP/1.1\r\n{base}\r\n",
        "patch": f"PATCH /jsonrpc HTTP/1.1\r\n{base}Content-Length: 2\r\n\r\n{{}}",
        "options-star": f"OPTIONS * HTTP/1.1\r\n{base}\r\n",
    }
    cases = []
    for name, text in raw_cases.items():
        method = text.split(" ", 1)[0]
        case = make_case("malformed", tenant, method, "/jsonrpc", name, raw=text.encode("latin-1"))
        if name == "http09":
            case = replace(case, classes=case.classes | {"http09"})
        if name in STRICT_HEAD:
            case = replace(case, classes=case.classes | {"strict-head"})
        cases.append(case)
    return cases


def blank_lines() -> list[Case]:
    """CR and LF before a request line (nginx skips any number of them, its buffer emptied
    when they fill it), other whitespace there (refused), and odd spacing inside the line."""
    tenant = HostForm("testodoo", ("testodoo.seisei.tokyo",))
    get = "GET /jsonrpc HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\n\r\n"
    host = "\r\nHost: testodoo.seisei.tokyo\r\n\r\n"
    raw_cases = {
        "crlf-before": "\r\n" + get,
        "lf-before": "\n" + get,
        "cr-before": "\r" + get,
        "mixed-before": "\r\r\n\n\r\n" + get,
        "crlf-over-buffer": "\r\n" * 3000 + get,  # past client_header_buffer_size 1k
        "crlf-over-large-buffers": "\r\n" * 20_000 + get,  # past 4 x 8k
        "space-before": " " + get,
        "tab-before": "\t" + get,
        "crlf-space-before": "\r\n " + get,
        "two-spaces-after-method": "GET  /jsonrpc HTTP/1.1" + host,
        "two-spaces-before-version": "GET /jsonrpc  HTTP/1.1" + host,
        "space-after-version": "GET /jsonrpc HTTP/1.1 " + host,
        "tab-after-method": "GET\t/jsonrpc HTTP/1.1" + host,
    }
    cases = []
    for name, text in raw_cases.items():
        case = make_case("blank", tenant, "GET", "/jsonrpc", name, raw=text.encode("latin-1"))
        if name in STRICT_HEAD:
            case = replace(case, classes=case.classes | {"strict-head"})
        cases.append(case)
    return cases


# What llhttp refuses and nginx tolerates (docs/deviations.md#strict-request-head).
STRICT_HEAD = frozenset({"header-no-colon", "lf-only", "unknown-method", "space-after-version"})


def pipelines() -> list[Case]:
    """Several requests in one write: framing decides where each ends (request smuggling)."""
    sub, tenant, admin = "acme.erp.seisei.tokyo", "testodoo.seisei.tokyo", "admin.erp.seisei.tokyo"
    smuggled = f"GET /web/database/manager HTTP/1.1\r\nHost: {sub}\r\n\r\n"

    def get(host: str, path: str, extra: str = "") -> str:
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n"

    def post(host: str, path: str, body: str, extra: str = "") -> str:
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        )

    chunked_smuggle = (
        f"POST /jsonrpc HTTP/1.1\r\nHost: {sub}\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(smuggled):x}\r\n{smuggled}\r\n0\r\n\r\n"
    )
    sequences: dict[str, list[str]] = {
        "post-then-denied": [post(sub, "/jsonrpc", "{}"), get(sub, "/web/database/manager")],
        "encoded-denied-second": [get(tenant, "/jsonrpc"), get(tenant, "/web/%64atabase/x")],
        "admin-pools": [get(admin, "/websocket"), get(admin, "/qr/x"), get(admin, "/jsonrpc")],
        "request-in-body": [post(sub, "/jsonrpc", smuggled), get(sub, "/qr/x")],
        "request-in-chunked-body": [chunked_smuggle, get(sub, "/qr/x")],
        "host-switch": [get(sub, "/jsonrpc"), get(admin, "/jsonrpc"), get(tenant, "/jsonrpc")],
        "after-redirect": [get(sub, "/"), get(sub, "/jsonrpc")],
        "head-then-get": ["HEAD" + get(tenant, "/odoo")[3:], get(tenant, "/odoo")],
        "http10-keep-alive": [
            f"GET /jsonrpc HTTP/1.0\r\nHost: {tenant}\r\nConnection: keep-alive\r\n\r\n",
            get(tenant, "/qr/x"),
        ],
        "after-close": [get(tenant, "/jsonrpc", "Connection: close\r\n"), get(tenant, "/qr/x")],
        "after-oversize": [
            f"POST /jsonrpc HTTP/1.1\r\nHost: {tenant}\r\nContent-Length: 52428801\r\n\r\n",
            get(tenant, "/qr/x"),
        ],
        "after-bad-request": [get(tenant, "/../x"), get(tenant, "/jsonrpc")],
        "after-health": [get(sub, "/nginx-health"), get(sub, "/web/database/x")],
        # Raw bytes >= 0x80 in request lines the proxy answers itself (the echo upstream's
        # parser refuses them), then a plain request that must still be framed right.
        "raw-bytes": [
            get(sub, "/web/database/\xff"),
            get(tenant, "/web/database/caf\xc3\xa9"),
            get(sub, "/jsonrpc"),
        ],
        # blank lines between requests (nginx skips them), after a body too
        "blank-line-between": [get(tenant, "/jsonrpc"), "\r\n" + get(tenant, "/qr/x")],
        "blank-lines-between": [get(tenant, "/jsonrpc"), "\n\r\n\r" + get(sub, "/jsonrpc")],
        "blank-line-after-body": [post(tenant, "/jsonrpc", "{}") + "\r\n", get(tenant, "/qr/x")],
        "dbfilter-per-request": [
            get(sub, "/jsonrpc", "X-Odoo-dbfilter: evil\r\n"),
            get("example.com", "/jsonrpc"),
        ],
    }
    form = HostForm("raw", ())
    cases = []
    for name, requests in sequences.items():
        methods = tuple(r.split(" ", 1)[0] for r in requests)
        raw = "".join(requests).encode("latin-1")
        case = make_case("pipeline", form, methods[0], "", name, raw=raw)
        cases.append(replace(case, pipeline=methods))
    return cases
