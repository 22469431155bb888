"""The head parsers' fallback (llhttp through httptools: headparse.LlhttpParser for requests,
respparse.LlhttpResponseParser for answers) under the compiled data path:
``ODOO_ROUTER_HEAD_PARSER=httptools`` switches both compiled parsers off, and the data
path's key suites run again through routers that inherit the switch: the driver without
sockets, malformed and smuggling-shaped requests, bodies, pipelining, large heads, Expect,
upgrades and websockets, unasked upstream bytes, the conformance suite beside nginx (its
odd upstream answers among them). The pure build
(test_pure_build.py) runs the same fallback under uncompiled Python.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httptools
import pytest

from odoo_router.datapath import headparse
from runtime.support import run_suite_slice

SLICE = (
    "tests/unit/datapath/test_driver.py",
    "tests/unit/datapath/test_headparse.py",
    "tests/unit/datapath/test_respparse.py",
    "tests/integration/test_bad_input.py",
    "tests/integration/test_bodies.py",
    "tests/integration/test_edges.py",
    "tests/integration/test_pipelining.py",
    "tests/integration/test_large_heads.py",
    "tests/integration/test_expect_local.py",
    "tests/integration/test_unasked_bytes.py",
    "tests/integration/test_normalisation.py",
    "tests/integration/test_websocket.py",
    "tests/conformance",
)


@pytest.mark.timeout(900)
def test_the_data_path_suites_pass_on_the_fallback_parser() -> None:
    if not headparse.COMPILED:
        pytest.skip(f"the fallback runs already ({headparse.describe()}): every suite tests it")
    env = {**os.environ, headparse.SWITCH: "httptools"}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from odoo_router.datapath import headparse, respparse; "
            "print(headparse.describe(), respparse.CompiledResponseParser)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"llhttp through httptools {httptools.__version__}" in probe.stdout
    assert probe.stdout.rstrip().endswith(" None"), probe.stdout  # no compiled response parser
    out = run_suite_slice(SLICE, env, timeout=840)
    tail = out[-4000:]
    assert " passed" in out and " failed" not in out, tail
    # the conformance tally: every case the suite ran agrees with nginx
    agree = [line for line in out.splitlines() if line.startswith("agree ")]
    assert agree, tail
    agreed, total = agree[-1].split()[1].split("/")
    assert agreed == total and int(total) > 3000, agree[-1]
