"""Session fixtures for the conformance suite: echo upstreams, real nginx, odoo-router.

One nginx and one router serve every case. CONFORMANCE_CANDIDATE=nginx runs a second nginx
as the candidate instead of odoo-router: a self-check of the harness (must agree N/N).
The last line of the session output is `agree A/N` over the conformance cases that ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .nginx_ref import start_nginx
from .procs import free_port
from .router_proc import start_router
from .targets import TALLY, Tally, Target
from .upstreams import Upstreams, running_upstreams


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    with running_upstreams() as running:
        yield running


@pytest.fixture(scope="session")
def reference(upstreams: Upstreams) -> Iterator[Target]:
    nginx = start_nginx(free_port(), upstreams.ports)
    try:
        yield Target("nginx", nginx.port, deviates=False)
    finally:
        nginx.stop()


@pytest.fixture(scope="session")
def candidate(upstreams: Upstreams) -> Iterator[Target]:
    if os.environ.get("CONFORMANCE_CANDIDATE") == "nginx":
        nginx = start_nginx(free_port(), upstreams.ports)
        try:
            yield Target("nginx (self-check)", nginx.port, deviates=False)
        finally:
            nginx.stop()
        return
    router = start_router(free_port(), upstreams.ports)
    try:
        yield Target("odoo-router", router.port)
    finally:
        router.stop()


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Tally:
    return request.config.stash.setdefault(TALLY, Tally())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every conformance case that will run starts as "not agreed" (after -k, deselection)."""
    tally = session.config.stash.setdefault(TALLY, Tally())
    for item in session.items:
        if "tally" in getattr(item, "fixturenames", ()):
            tally[item.nodeid] = False


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    tally = config.stash.get(TALLY, None)
    if config.option.collectonly:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if tally and reporter is not None:
        reporter.write_line(f"agree {sum(tally.values())}/{len(tally)}")
