"""Fixtures shared by the integration and runtime suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.upstreams import Farm


@pytest.fixture(scope="session")
def farm() -> Iterator[Farm]:
    """The recording upstreams, one per pool (tests/integration/upstreams.py)."""
    running = Farm()
    running.start()
    try:
        yield running
    finally:
        running.stop()
