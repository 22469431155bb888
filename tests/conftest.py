"""Fixtures shared by the integration and runtime suites, and the ``slow`` marker's rule:
tests marked ``slow`` are skipped unless ``--run-slow`` is given or ``-m`` selects them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.upstreams import Farm


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow, or -m slow for these alone")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def farm() -> Iterator[Farm]:
    """The recording upstreams, one per pool (tests/integration/upstreams.py)."""
    running = Farm()
    running.start()
    try:
        yield running
    finally:
        running.stop()
