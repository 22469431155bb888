"""Odd upstream answers through nginx (the reference) and odoo-router, byte for byte.

A second nginx and a second router run in front of the raw upstreams (raw_upstreams.py),
which write each answer by hand (upstream_answers.py): bodies longer or shorter than
declared, trailers, chunk extensions, bodies where none may be, an upstream that closes
after the head or with ``Connection: close``, a Location or Refresh naming the upstream,
response heads of 6, 100 and 200 KB, and a second answer nobody asked for (the next
request, on a fresh client connection, must get its own answer). Each case is compared
field by field like test_conformance.py, the documented deviations applied, and counts in
``agree N/N``.

Answers nginx 1.22 never finishes (an interim 1xx before the final answer, a status line
that is not one: it waits for the read timeout, 60-300 s) are not compared cases: what
nginx does is checked with a short client timeout in ``test_nginx_*`` below, beside ours
(docs/deviations.md#interim-answers and #invalid-upstream-status).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from .case import Case, make_case
from .client import Answer, exchange
from .deviations import compare
from .matrix import ALL_HOSTS
from .nginx_ref import start_nginx
from .observe import Fields, observe
from .procs import free_port
from .raw_upstreams import RawUpstreams, running_raw_upstreams
from .router_proc import start_router
from .targets import Tally, Target
from .upstream_answers import SCRIPTS

_HOSTS = {f.name: f for f in ALL_HOSTS}
# (host, path): the keep-alive catch-all (proxy_buffer_size 128k), an HTTP/1.0 location
# (4k), both websocket pools as plain requests, and the admin pool.
PLACES = (
    ("testodoo", "/odoo"),
    ("testodoo", "/jsonrpc"),
    ("testodoo", "/longpolling/poll"),
    ("admin", "/odoo"),
    ("admin", "/longpolling/poll"),
)
NOT_COMPARED = frozenset(
    {"interim-100", "interim-102", "early-hints", "bad-status-code", "bad-status-line"}
)
COMPARED = tuple(name for name in SCRIPTS if name not in NOT_COMPARED)


def _cases() -> list[Case]:
    cases = []
    for host, path in PLACES:
        for name in COMPARED:
            method = "HEAD" if name == "head-body" else "GET"
            cases.append(
                make_case(
                    "upstream-answer",
                    _HOSTS[host],
                    method,
                    f"{path}?raw={name}",
                    extra_classes=frozenset({f"raw:{name}"}),
                )
            )
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def raw_upstreams() -> Iterator[RawUpstreams]:
    with running_raw_upstreams(SCRIPTS) as running:
        yield running


@pytest.fixture(scope="module")
def raw_reference(raw_upstreams: RawUpstreams) -> Iterator[Target]:
    nginx = start_nginx(free_port(), raw_upstreams.ports)
    try:
        yield Target("nginx", nginx.port, deviates=False)
    finally:
        nginx.stop()


@pytest.fixture(scope="module")
def raw_candidate(raw_upstreams: RawUpstreams) -> Iterator[Target]:
    if os.environ.get("CONFORMANCE_CANDIDATE") == "nginx":
        nginx = start_nginx(free_port(), raw_upstreams.ports)
        try:
            yield Target("nginx (self-check)", nginx.port, deviates=False)
        finally:
            nginx.stop()
        return
    router = start_router(free_port(), raw_upstreams.ports)
    try:
        yield Target("odoo-router", router.port)
    finally:
        router.stop()


def _next_request(case: Case) -> bytes:
    """A plain GET to the same place on a fresh client connection."""
    head = case.raw.split(b"\r\n\r\n", 1)[0]
    line, _, rest = head.partition(b"\r\n")
    path = line.split(b" ")[1].split(b"?")[0]
    return b"GET " + path + b"?after HTTP/1.1\r\n" + rest + b"\r\n\r\n"


def run(case: Case, target: Target, upstreams: RawUpstreams) -> Fields:
    upstreams.recorder.take()
    answer = exchange(target.port, case.raw, head=case.head, timeout=5)
    fields = observe(case, answer, upstreams.recorder.take())
    # nginx makes a rewritten Location absolute with its own listen port: compare without it.
    port = f":{target.port}/"
    location = fields["location"]
    assert isinstance(location, tuple)
    fields["location"] = tuple(v.replace(port, ":PORT/") for v in location)
    if "unasked" in case.id:
        time.sleep(0.25)  # a later unasked answer has reached the idle upstream connection
        after = exchange(target.port, _next_request(case), head=False, timeout=5)
        fields["next_answer"] = (after.status, after.body, after.error)
        upstreams.recorder.take()
    return fields


@pytest.mark.nginx
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_agrees_with_nginx_on_upstream_answers(
    case: Case,
    raw_reference: Target,
    raw_candidate: Target,
    raw_upstreams: RawUpstreams,
    tally: Tally,
    request: pytest.FixtureRequest,
) -> None:
    ref = run(case, raw_reference, raw_upstreams)
    ours = run(case, raw_candidate, raw_upstreams)
    problems = compare(case, ref, ours, deviations=raw_candidate.deviates)
    tally[request.node.nodeid] = not problems
    if problems:
        lines = "\n  ".join(problems)
        pytest.fail(
            f"{raw_candidate.name} differs from nginx on\n  {case.raw[:300]!r}\n  {lines}",
            pytrace=False,
        )


def _get(port: int, name: str, timeout: float) -> Answer:
    raw = f"GET /odoo?raw={name} HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\n\r\n".encode()
    return exchange(port, raw, head=False, timeout=timeout)


@pytest.mark.nginx
@pytest.mark.parametrize("name", ["interim-100", "interim-102", "early-hints"])
def test_nginx_holds_an_answer_after_an_interim_one(
    name: str, raw_reference: Target, raw_candidate: Target
) -> None:
    """nginx 1.22 takes the 1xx head for the answer and waits on (until its read timeout);
    the router drops the interim answer and relays the final one at once
    (docs/deviations.md#interim-answers)."""
    if not raw_candidate.deviates:
        pytest.skip("a deviation: the self-check has none")
    assert _get(raw_reference.port, name, 1.5).error == "timeout"
    ours = _get(raw_candidate.port, name, 5)
    assert (ours.status, ours.body, ours.error) == (200, b"hello\n", None)
    assert not [k for k, _ in ours.headers if k.lower() == "link"]  # nothing of the 103


@pytest.mark.nginx
@pytest.mark.parametrize("name", ["bad-status-code", "bad-status-line"])
def test_an_invalid_status_line(name: str, raw_reference: Target, raw_candidate: Target) -> None:
    """nginx passes what is no valid status line on as an HTTP/0.9 answer (no status, no
    head) and waits for the upstream to close; the router answers 502
    (docs/deviations.md#invalid-upstream-status)."""
    if not raw_candidate.deviates:
        pytest.skip("a deviation: the self-check has none")
    assert _get(raw_reference.port, name, 1.5).status is None
    ours = _get(raw_candidate.port, name, 5)
    assert ours.status == 502 and b"502 Bad Gateway" in ours.body
