"""The pure-Python fallback runs the same source uncompiled (ODOO_ROUTER_PURE=1 builds, and
machines without a C compiler, where the scripts fall back to it): a copy of the package
without its extensions, first on the import path, passes a slice of the suite. The slice
covers the routing table, the header rules, the native-build checks in pure mode, and real
requests, bodies, edge cases and websockets (closed between frames for maintenance too)
through a router process.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from odoo_router.ops import native
from runtime.support import run_suite_slice

SLICE = (
    "tests/unit",
    "tests/integration/test_smoke.py",
    "tests/integration/test_headers.py",
    "tests/integration/test_bodies.py",
    "tests/integration/test_edges.py",
    "tests/integration/test_websocket.py",
    "tests/integration/test_maintenance_websocket.py",
)


@pytest.mark.timeout(600)
def test_the_pure_package_passes_a_slice_of_the_suite(tmp_path: Path) -> None:
    if not native.compiled():
        pytest.skip("this build is pure already: the whole suite runs on it")
    shutil.copytree(
        native.PACKAGE,
        tmp_path / "odoo_router",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(tmp_path), os.environ.get("PYTHONPATH")))),
        "ODOO_ROUTER_PURE": "1",  # tells test_native to expect the pure build
    }
    out = run_suite_slice(SLICE, env, timeout=540)
    assert " passed" in out and " failed" not in out
