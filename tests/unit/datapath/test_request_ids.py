"""The worker's own request ids: its random prefix, then a counter in ten hex digits. The
last two digits come from a table and the rest is formatted once per 256 requests, so the
ids must stay unique and well-formed across those block boundaries."""

from __future__ import annotations

import re
from pathlib import Path

from odoo_router.configuration.validate import build_config
from odoo_router.datapath.state import WorkerState

COMPAT = Path(__file__).resolve().parents[3] / "config" / "nginx-compat.yaml"


def test_ids_are_the_prefix_and_the_counter_across_blocks() -> None:
    state = WorkerState(build_config(COMPAT.read_text(encoding="utf-8")))
    ids = [state.new_request_id() for _ in range(70_000)]  # > 256 blocks, one > 0xffff
    assert len(set(ids)) == len(ids)
    prefix = ids[0][:12]
    assert re.fullmatch(rb"[0-9a-f]{12}", prefix)
    assert ids == [b"%s%010x" % (prefix, n) for n in range(1, len(ids) + 1)]


def test_two_workers_draw_different_prefixes() -> None:
    config = build_config(COMPAT.read_text(encoding="utf-8"))
    assert WorkerState(config).new_request_id() != WorkerState(config).new_request_id()
