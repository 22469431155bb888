"""The status document and its HTML (status_data.py, status_html.py, status_tenants.py):
pools' passive health merged across workers, tenant rows and their rates, the reload
history, the schema in docs/, and hostile names that must stay text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from odoo_router.ops.metrics import Stats
from odoo_router.ops.metrics_histogram import STATUS_CLASSES
from odoo_router.ops.metrics_merge import Merged
from odoo_router.ops.metrics_tenants import FIXED
from odoo_router.ops.metrics_tenants import TenantRow as TenantCounters
from odoo_router.ops.status_data import status_document
from odoo_router.ops.status_html import CSP, STYLE, TOP, headers, render
from odoo_router.ops.status_model import RELOAD_HISTORY, MasterInfo, build_kind, config_hash
from odoo_router.ops.status_tenants import RateWindow, TenantRow, tenant_rows

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "status.schema.json").read_text()
)
WALL, MONO = 1_800_000_000.0, 500.0  # a worker's time.time() and time.monotonic() at snapshot

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "ten_'quote'&amp;<b>bold</b>",
    "</td></tr></table><h1>x</h1>",
]


def with_tenants(
    merged: Merged, requests: dict[tuple[str, str], int], websockets: dict[str, int]
) -> Merged:
    """``merged`` holding per-tenant series as the merge does (metrics_tenants.TenantRow per
    label): ``requests`` by (db, status_class), ``websockets`` by db."""
    for (db, status_class), n in requests.items():
        row = merged.tenants.setdefault(db, TenantCounters())
        row.classes[STATUS_CLASSES.index(status_class)] += n
    merged.tenant_websockets.update(websockets)
    return merged


def merged_of(*workers: Stats, into: Merged | None = None) -> Merged:
    merged = into if into is not None else Merged.empty()
    for stats in workers:
        assert merged.add(stats.snapshot())
    return merged


def worker(health: dict[str, list[tuple[str, float]]]) -> Stats:
    """A worker whose pools' servers are down until the given monotonic times."""
    stats = Stats()
    for pool in health:
        stats.set_pool(pool, 2, 1)
    stats.set_health(health, MONO, WALL)
    return stats


def document(merged: Merged, info: MasterInfo | None = None, now: float = WALL) -> dict[str, Any]:
    doc = status_document(
        merged, (info or MasterInfo("compiled", "30/30")).view(), RateWindow(), now
    )
    jsonschema.validate(doc, SCHEMA)
    return doc


def servers(doc: dict[str, Any], pool: str) -> dict[str, dict[str, Any]]:
    (found,) = [p for p in doc["pools"] if p["name"] == pool]
    return {s["server"]: s for s in found["servers"]}


# --------------------------------------------------------------------------- pools


def test_a_server_is_failed_when_any_worker_marks_it_with_the_latest_until() -> None:
    one = worker({"tenant": [("a:8069", MONO + 5), ("b:8069", 0.0)]})
    two = worker({"tenant": [("a:8069", MONO + 9), ("b:8069", 0.0)]})
    three = worker({"tenant": [("a:8069", 0.0), ("b:8069", 0.0)]})
    doc = document(merged_of(one, two, three), now=WALL + 1)
    a, b = servers(doc, "tenant")["a:8069"], servers(doc, "tenant")["b:8069"]
    assert a["failed"] and a["failed_until"] == pytest.approx(WALL + 9)
    assert (a["workers_failed"], a["workers_reporting"]) == (2, 3)
    assert not b["failed"] and b["failed_until"] is None and b["last_failed_until"] is None
    (pool,) = doc["pools"]
    assert (pool["idle"], pool["active"]) == (6, 3)


def test_a_failure_past_its_until_is_up_again_and_remembered() -> None:
    one = worker({"tenant": [("a:8069", MONO + 5)]})
    two = worker({"tenant": [("a:8069", MONO + 2)]})
    doc = document(merged_of(one, two), now=WALL + 6)
    a = servers(doc, "tenant")["a:8069"]
    assert not a["failed"] and a["failed_until"] is None and a["workers_failed"] == 0
    assert a["last_failed_until"] == pytest.approx(WALL + 5)


def test_one_failing_worker_of_two_is_enough() -> None:
    doc = document(
        merged_of(worker({"p": [("x:1", 0.0)]}), worker({"p": [("x:1", MONO + 3)]})),
        now=WALL,
    )
    assert servers(doc, "p")["x:1"]["failed"]


def test_health_of_retired_workers_is_not_counted() -> None:
    merged = Merged.empty()
    assert merged.add(worker({"p": [("x:1", MONO + 3)]}).snapshot(), gauges=False)
    assert document(merged)["pools"] == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "soon", None])
def test_a_malformed_health_row_skips_the_snapshot_whole(bad: object) -> None:
    snap = worker({"p": [("x:1", MONO + 3)]}).snapshot()
    snap["health"] = [["p", "x:1", bad]]
    merged = Merged.empty()
    assert not merged.add(json.loads(json.dumps(snap)))
    assert merged.health == {} and merged.pools == {}


def test_set_health_replaces_pools_a_reload_removed() -> None:
    stats = worker({"old": [("x:1", 0.0)]})
    stats.set_health({"new": [("y:1", 0.0)]}, MONO, WALL)
    assert [row[0] for row in stats.snapshot()["health"]] == ["new"]


# --------------------------------------------------------------------------- tenants


def test_no_tenant_series_no_rows() -> None:
    assert tenant_rows(Merged.empty()) == []
    doc = document(Merged.empty())
    assert doc["tenants"] == {"rate_interval_seconds": None, "rows": []}


def test_tenant_rows_sum_status_classes_and_count_5xx_as_errors() -> None:
    requests = {("ten_a", "2xx"): 90, ("ten_a", "4xx"): 7, ("ten_a", "5xx"): 3, ("ten_b", "2xx"): 5}
    merged = with_tenants(Merged.empty(), requests, {"ten_b": 4, "ten_c": 1})
    rows = {r.db: r for r in tenant_rows(merged)}
    assert rows["ten_a"] == TenantRow("ten_a", 100, 3, 0)
    assert rows["ten_b"] == TenantRow("ten_b", 5, 0, 4)
    assert rows["ten_c"] == TenantRow("ten_c", 0, 0, 1)


def test_rates_need_an_earlier_sample_at_least_min_gap_old() -> None:
    window = RateWindow(window=60, min_gap=2)
    first = [TenantRow("ten_a", 100, 10, 1)]
    rows, interval = window.rates(first, 1000.0)
    assert interval is None and rows[0].request_rate is None
    rows, interval = window.rates([TenantRow("ten_a", 101, 10, 1)], 1001.0)  # too soon
    assert interval is None
    rows, interval = window.rates(
        [TenantRow("ten_a", 150, 20, 1), TenantRow("new", 8, 0, 0)], 1005.0
    )
    assert interval == pytest.approx(5.0)
    by_db = {r.db: r for r in rows}
    assert by_db["ten_a"].request_rate == pytest.approx(10.0)
    assert by_db["ten_a"].error_rate == pytest.approx(2.0)
    assert by_db["new"].request_rate == pytest.approx(1.6)  # absent before: from zero


def test_rates_forget_samples_past_the_window_and_bound_them() -> None:
    window = RateWindow(window=10, min_gap=2)
    for t in range(0, 100):  # a page polled ten times a second for ten seconds
        window.rates([TenantRow("a", t, 0, 0)], 1000.0 + t / 10)
    assert len(window._samples) <= 10 / 2 + 1
    _, interval = window.rates([TenantRow("a", 500, 0, 0)], 1030.0)
    assert interval is None  # every earlier sample is older than the window


def test_a_counter_that_went_down_counts_from_zero() -> None:
    window = RateWindow(window=60, min_gap=1)
    window.rates([TenantRow("a", 1000, 50, 0)], 0.0)
    rows, _ = window.rates([TenantRow("a", 20, 0, 0)], 10.0)
    assert rows[0].request_rate == pytest.approx(2.0) and rows[0].error_rate == 0.0


# --------------------------------------------------------------------------- master info


def test_reload_history_is_bounded_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text("a: 1\n")
    info = MasterInfo("pure", "", str(path), 2)
    first = config_hash(str(path))
    assert info.view().config_hash == first and len(first) == 12
    for i in range(RELOAD_HISTORY + 5):
        info.reloaded("invalid" if i % 2 else "ok", f"{i:012x}", f"reload {i}")
    view = info.view()
    assert len(view.reloads) == RELOAD_HISTORY
    assert view.reloads[0].detail == f"reload {RELOAD_HISTORY + 4}"
    assert view.config_hash == f"{RELOAD_HISTORY + 4:012x}"  # the last ok one
    info.reloaded("invalid", "ffffffffffff", "")
    assert info.view().config_hash == f"{RELOAD_HISTORY + 4:012x}"  # refused: not running
    assert config_hash(str(tmp_path / "missing.yaml")) == "unreadable"


def test_build_kind() -> None:
    assert [build_kind(0, 30), build_kind(30, 30), build_kind(29, 30)] == [
        "pure",
        "compiled",
        "partial",
    ]


# --------------------------------------------------------------------------- HTML


class Page(HTMLParser):
    """Every element, attribute and text of a page, and each table's cells by id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "a",
                "div", "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip
ALLOWED_ATTRS = {"lang", "charset", "http-equiv", "content", "href", "id", "class", "colspan"}


def hostile_document() -> dict[str, Any]:
    stats = Stats()
    for name in HOSTILE:
        stats.set_pool(name, 1, 0)
    stats.set_health({name: [(name, MONO + 30)] for name in HOSTILE}, MONO, WALL)
    merged = with_tenants(
        merged_of(stats), {(name, "5xx"): 3 for name in HOSTILE}, {name: 2 for name in HOSTILE}
    )
    info = MasterInfo(HOSTILE[0], HOSTILE[1])
    for name in HOSTILE:
        info.reloaded("invalid", "unknown", name)
    doc = status_document(merged, info.view(), RateWindow(), WALL)
    jsonschema.validate(doc, {**SCHEMA, "properties": {**SCHEMA["properties"], "router": {}}})
    return doc


def test_hostile_names_stay_text() -> None:
    page = Page(render(hostile_document()).decode())
    assert set(page.tags) <= ALLOWED_TAGS, set(page.tags) - ALLOWED_TAGS
    assert {name for name, _ in page.attrs} <= ALLOWED_ATTRS
    assert "script" not in page.tags and "img" not in page.tags
    pools = page.tables["pools"]
    tenants = page.tables["tenants-errors"]
    reloads = page.tables["reloads"]
    for name in HOSTILE:  # each printed back exactly, as text, where it belongs
        assert [name, name] in [row[:2] for row in pools]
        assert name in [row[0] for row in tenants]
        assert name in [row[3] for row in reloads]
    summary = dict(tuple(row) for row in page.tables["summary"])
    assert summary["build"] == f"{HOSTILE[0]} ({HOSTILE[1]})"


def test_hostile_names_in_json_stay_strings() -> None:
    doc = hostile_document()
    again = json.loads(json.dumps(doc))
    assert {r["db"] for r in again["tenants"]["rows"]} - set(FIXED) == set(HOSTILE)


def test_page_has_no_script_refreshes_itself_and_its_style_is_allowed() -> None:
    text = render(document(Merged.empty())).decode()
    assert '<meta http-equiv="refresh" content="5">' in text
    assert "<script" not in text and "src=" not in text
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    assert f"<style>{STYLE}</style>" in text
    names = {name for name, _ in headers()}
    assert {"Content-Security-Policy", "X-Content-Type-Options", "Cache-Control"} <= names


def test_tenant_tables_show_the_top_rows_in_their_order() -> None:
    requests = {(f"ten_{i:02d}", "2xx"): i for i in range(TOP + 5)}
    requests[("ten_05", "5xx")] = 50
    merged = with_tenants(Merged.empty(), requests, {"ten_03": 9, "ten_07": 4})
    page = Page(render(document(merged)).decode())
    by_requests = [row[0] for row in page.tables["tenants-requests"][1:]]
    assert len(by_requests) == TOP
    assert by_requests[:2] == ["ten_05", "ten_14"]  # no rate yet: by requests counted
    assert [row[0] for row in page.tables["tenants-errors"][1:2]] == ["ten_05"]
    assert [row[0] for row in page.tables["tenants-websockets"][1:3]] == ["ten_03", "ten_07"]
    assert page.tables["tenants-websockets"][1][3] == "9"


def test_empty_tables_say_none() -> None:
    page = Page(render(document(Merged.empty())).decode())
    assert page.tables["pools"][1] == ["none"]
    assert page.tables["reloads"][1] == ["none"]
