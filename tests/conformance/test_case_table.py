"""The shared routing case table (tests/cases/routing_cases.yaml), checked against real nginx.

Its compat rows were written from the reference by hand; here nginx itself answers them, so
a row that misreads the reference shows up before it can mislead the router's own tests.
These do not count in `agree N/N` (the same rows are conformance cases too, group `table`).
"""

from __future__ import annotations

from typing import Any

import pytest

from .case_table import table_case, table_rows
from .client import exchange
from .observe import observe
from .targets import Target
from .upstreams import Upstreams

ROWS = table_rows()


@pytest.mark.nginx
@pytest.mark.parametrize("row", ROWS, ids=[r["desc"] for r in ROWS])
def test_table_row_matches_nginx(
    row: dict[str, Any], reference: Target, upstreams: Upstreams
) -> None:
    case = table_case(row)
    upstreams.recorder.take()
    seen = observe(
        case, exchange(reference.port, case.raw, head=case.head), upstreams.recorder.take()
    )
    want = row["expected"]
    got: dict[str, object] = {"status": seen["status"]}
    expected: dict[str, object] = {"status": want["status"]}
    if want["action"] == "proxy":
        got["pool"], expected["pool"] = seen["upstream"], want["pool"]
        dbfilter = seen.get("x_odoo_dbfilter")
        got["dbfilter"] = dbfilter[0] if isinstance(dbfilter, tuple) and dbfilter else None
        expected["dbfilter"] = want.get("dbfilter")
    elif want["action"] == "redirect":
        got["location"], expected["location"] = seen["location"], (want["location"],)
    else:
        got["pool"], expected["pool"] = seen["upstream"], None
    assert got == expected
