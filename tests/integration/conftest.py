"""Session fixtures: the upstream farm and two routers (nginx-compat and production).

The harness:
* ``upstreams.py`` -- recording echo upstreams, one per pool, with misbehaviours chosen per
  request by ``X-Test-Behave`` (never answer, abort after the head, slow or chunked bodies,
  204/304, early answers, websocket echo with close codes);
* ``router.py`` -- test configs built from config/nginx-compat.yaml and config/router.yaml
  (loopback ports, extra host rules for failure tests) and the router subprocess;
* ``client.py`` -- a raw HTTP/1.x client over asyncio streams;
* ``BUGS.md`` -- router bugs these tests found, for the lead.

The farm fixture lives in tests/conftest.py (the runtime suite uses it too). Both routers
run for the whole session (starting one takes about half a second); tests that need a
router of their own (bad configs, CLI) start it themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.processes import free_port

from .router import RouterProcess, compat_config, production_config, start_router
from .upstreams import Farm, Journal


@pytest.fixture
def journal(farm: Farm) -> Journal:
    return farm.journal


@pytest.fixture(scope="session")
def compat(farm: Farm) -> Iterator[RouterProcess]:
    port = free_port()
    router = start_router(compat_config(port, farm.ports), port)
    try:
        yield router
    finally:
        router.stop()


@pytest.fixture(scope="session")
def prod(farm: Farm) -> Iterator[RouterProcess]:
    port = free_port()
    router = start_router(production_config(port, farm.ports), port)
    try:
        yield router
    finally:
        router.stop()
