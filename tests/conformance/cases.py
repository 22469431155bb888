"""The generated case matrix: raw requests covering the reference router's behaviour.

No network (only the shared table is read from disk). Each case is the exact bytes a client
sends plus the facts the comparison needs (case classes for the documented deviations, the
methods of pipelined requests).
Groups: `path` (every location and its boundaries on the main host classes), `hostform`
(host normalisation forms on the locations), `method`, `header` (dbfilter spellings,
X-Forwarded-* spoofs, Connection tricks), `websocket` (an upgrade on every host class),
`oversize` (a declared body over the 50 MiB limit, headers only), `malformed`, `blank`
(blank lines and odd spacing around a request line), `absolute`,
`response` (odd upstream answers), `pipeline` (several requests in one write), and `table`
(the compat rows of the shared routing case table, tests/cases/routing_cases.yaml).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from .case import LIMIT, Case, body_bytes, make_case
from .case_table import table_case, table_rows
from .matrix import (
    ALL_HOSTS,
    FORM_HOSTS,
    FORM_PATHS,
    HEADER_HOSTS,
    HEADER_PATHS,
    HEADER_VARIANTS,
    MAIN_HOSTS,
    METHOD_HOSTS,
    METHOD_PATHS,
    METHOD_VARIANTS,
    OVERSIZE_HOSTS,
    OVERSIZE_PATHS,
    PATHS,
    RESPONSE_HOSTS,
    RESPONSE_NAMES,
    RESPONSE_PATHS,
    WS_PATHS_ALL,
    WS_PATHS_MAIN,
    WS_VARIANT_PATHS,
    WS_VARIANTS,
    ws_headers,
)
from .odd_requests import absolute_forms, blank_lines, chunked_post, malformed, pipelines

__all__ = ["Case", "generate"]


@lru_cache(maxsize=1)
def generate() -> tuple[Case, ...]:
    """Every case, once per process (one holds a 50 MiB body)."""
    cases: list[Case] = []
    for form in MAIN_HOSTS:
        for path in PATHS:
            cases.append(make_case("path", form, "GET", path))
    for form in FORM_HOSTS:
        for path in FORM_PATHS:
            cases.append(make_case("hostform", form, "GET", path))
    by_name = {f.name: f for f in ALL_HOSTS}
    for host in METHOD_HOSTS:
        for path in METHOD_PATHS:
            for method, variant, headers, body in METHOD_VARIANTS:
                cases.append(
                    make_case("method", by_name[host], method, path, variant, headers, body)
                )
    for host in HEADER_HOSTS:
        for path in HEADER_PATHS:
            for variant, headers in HEADER_VARIANTS:
                cases.append(make_case("header", by_name[host], "GET", path, variant, headers))
    for form in ALL_HOSTS:
        paths = WS_PATHS_ALL + (WS_PATHS_MAIN if form in MAIN_HOSTS else ())
        for path in paths:
            cases.append(make_case("websocket", form, "GET", path, "", ws_headers(form)))
    for form in MAIN_HOSTS:
        for path in WS_VARIANT_PATHS:
            for variant, upgrade, connection, extra in WS_VARIANTS:
                headers = ws_headers(form, upgrade, connection) + extra
                cases.append(make_case("websocket", form, "GET", path, variant, headers))
    for host in OVERSIZE_HOSTS:
        for path in OVERSIZE_PATHS:
            for declared in (LIMIT + 1, 10**12):
                headers = (("Content-Length", str(declared)),)
                cases.append(
                    make_case("oversize", by_name[host], "POST", path, str(declared), headers)
                )
    limit = body_bytes(LIMIT)
    cases.append(
        make_case("method", by_name["testodoo"], "POST", "/jsonrpc", "at-limit", (), limit)
    )
    cases.extend(malformed())
    cases.extend(blank_lines())
    cases.extend(absolute_forms())
    for host in METHOD_HOSTS:
        for path in ("/jsonrpc", "/web/login", "/qr/x", "/odoo", "/web/database/restore"):
            cases.append(chunked_post(by_name[host], path))
    for host in RESPONSE_HOSTS:
        for path in RESPONSE_PATHS:
            for name in RESPONSE_NAMES:
                for method in ("GET", "HEAD"):
                    target = f"{path}?echo={name}"
                    answer = frozenset({f"answer:{name}"})
                    cases.append(
                        make_case("response", by_name[host], method, target, extra_classes=answer)
                    )
    cases.extend(pipelines())
    cases.extend(table_case(row) for row in table_rows())
    duplicates = [i for i, n in Counter(c.id for c in cases).items() if n > 1]
    assert not duplicates, f"duplicate case ids: {sorted(duplicates)[:5]}"
    return tuple(cases)
