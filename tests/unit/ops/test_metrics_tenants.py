"""Per-tenant counters (metrics_tenants.py), the master's slot table (metrics_slots.py) and
the merge's fold into ``_other`` (metrics_merge.py): which key a decision counts under, what
takes a slot, and the bounds on every dict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from odoo_router.configuration.model import Pool
from odoo_router.configuration.validate import build_config
from odoo_router.ops.metrics import Stats, write_atomic, write_snapshot
from odoo_router.ops.metrics_merge import Merged, forget_worker, read_merged, reset_directory
from odoo_router.ops.metrics_slots import REFUSED_MEMORY, TenantSlots
from odoo_router.ops.metrics_tenants import (
    ADMIN,
    CANDIDATES_MIN,
    FIXED,
    OTHER,
    SLOTS_FILE,
    UNKNOWN,
    TenantStats,
    tenant_key,
)
from odoo_router.routing.table import Facts, compile_table, decide

ROUTER_YAML = Path(__file__).resolve().parents[3] / "config" / "router.yaml"


def _production_key(host: str, path: str = "/web") -> str:
    table = compile_table(build_config(ROUTER_YAML.read_text(encoding="utf-8")))
    d = decide(table, Facts("GET", host, path))
    return tenant_key(d.tenant_db, d.host_rule, table.default.rule.name)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("acme.erp.seisei.tokyo", "ten_acme"),  # subdomain: the template ten_{sub} filled
        ("testodoo.seisei.tokyo", "ten_testodoo"),  # named tenant: the fixed dbfilter
        ("demo.nagashiro.top", "ten_testodoo"),  # another name of the same database
        ("admin.erp.seisei.tokyo", ADMIN),  # no dbfilter, not the default rule
        ("unknown.example", UNKNOWN),  # the default rule
        ("a.b.erp.seisei.tokyo", UNKNOWN),  # the regex does not take dots: the default rule
    ],
)
def test_the_key_of_every_host_rule_form(host: str, key: str) -> None:
    assert _production_key(host) == key


def test_the_key_does_not_depend_on_the_route() -> None:
    for path in ("/", "/web/login", "/websocket", "/web/database/x", "/nginx-health"):
        assert _production_key("acme.erp.seisei.tokyo", path) == "ten_acme"


def test_a_database_is_counted_under_other_until_the_master_grants_it() -> None:
    t = TenantStats(cap=3)
    t.request_done("ten_a", 200, 200, 0.01, 10, 20)
    assert list(t.candidates) == ["ten_a"]
    assert set(t.rows) == set(FIXED)
    assert t.rows[OTHER].classes[2] == 1
    t.apply(3, frozenset({"ten_a"}))
    assert t.candidates == {}
    t.request_done("ten_a", 404, 404, 0.01, 10, 20)
    assert t.rows["ten_a"].classes[4] == 1
    assert t.rows["ten_a"].bytes_in == 10 and t.rows["ten_a"].bytes_out == 20


@pytest.mark.parametrize(
    ("status", "upstream_status"),
    [
        (404, 404),  # Odoo: no such page / database
        (502, 0),  # Odoo never answered
        (302, 0),  # the router's own redirect (a random subdomain's /)
        (403, 0),  # refused by the router
        (200, 0),  # answered by the router (respond, cache)
        (500, 500),
    ],
)
def test_what_does_not_make_a_candidate(status: int, upstream_status: int) -> None:
    t = TenantStats(cap=3)
    t.request_done("ten_x", status, upstream_status, 0.01, 1, 1)
    assert t.candidates == {}
    assert set(t.rows) == set(FIXED)


def test_a_flood_keeps_every_dict_bounded() -> None:
    t = TenantStats(cap=5)
    n = 10 * CANDIDATES_MIN
    for i in range(n):
        t.request_done(f"ten_r{i}", 200, 200, 0.001, 1, 1)  # even Odoo's 200s
        t.request_done(f"ten_z{i}", 404, 404, 0.001, 1, 1)
    assert list(t.candidates) == [f"ten_r{i}" for i in range(n - CANDIDATES_MIN, n)]  # newest
    assert set(t.rows) == set(FIXED)
    assert sum(t.rows[OTHER].classes) == 2 * n


def test_a_lost_slot_moves_its_counts_to_other() -> None:
    t = TenantStats(cap=3)
    t.apply(3, frozenset({"ten_a", "ten_b"}))
    for db in ("ten_a", "ten_b", "ten_b"):
        t.request_done(db, 200, 200, 0.01, 5, 7)
    t.apply(1, frozenset({"ten_a"}))
    assert set(t.rows) == {*FIXED, "ten_a"}
    other = t.rows[OTHER]
    assert other.classes[2] == 2 and other.bytes_in == 10
    assert other.counts[3] == 2  # le=0.01


def test_websockets_count_by_key_and_map_to_labels() -> None:
    t = TenantStats(cap=3)
    for key in ("ten_a", "ten_a", "ten_b", ADMIN, "ten_c"):
        t.websocket(key, 1)
    t.apply(3, frozenset({"ten_a"}))
    sockets = dict(t.snapshot()["websockets"])
    assert sockets == {"ten_a": 2, OTHER: 2, ADMIN: 1}
    t.apply(3, frozenset({"ten_a", "ten_b"}))  # granted while open: the close still matches
    t.websocket("ten_b", -1)
    t.websocket("ten_a", -1)
    assert dict(t.snapshot()["websockets"]) == {"ten_a": 1, OTHER: 1, ADMIN: 1}
    for key in ("ten_a", "ten_c", ADMIN):
        t.websocket(key, -1)
    assert t.websockets == {}


def test_refresh_reads_the_masters_file_when_it_changes(tmp_path: Path) -> None:
    t = TenantStats()
    t.refresh(str(tmp_path))  # no file yet: nothing changes
    assert t.cap == 500 and t.granted == frozenset()
    (tmp_path / SLOTS_FILE).write_text('{"cap": 7, "granted": ["ten_a"], "folded": 0}')
    t.refresh(str(tmp_path))
    assert t.cap == 7 and t.granted == {"ten_a"}
    (tmp_path / SLOTS_FILE).write_text("not json")
    t.refresh(str(tmp_path))  # a torn or bad file keeps what we had
    assert t.granted == {"ten_a"}


def test_refresh_sees_two_grants_within_one_tick_of_the_file_clock(tmp_path: Path) -> None:
    """The master's confirmations may write tenants.json twice within one tick of the file
    system's clock: the second write is still read (it is a new file, and longer)."""
    path = tmp_path / SLOTS_FILE
    t = TenantStats()
    write_atomic(str(path), b'{"cap": 5, "granted": ["ten_a"], "folded": 0}')
    t.refresh(str(tmp_path))
    mtime = os.stat(path).st_mtime_ns
    write_atomic(str(path), b'{"cap": 5, "granted": ["ten_a", "ten_b"], "folded": 0}')
    os.utime(path, ns=(mtime, mtime))  # the same modification time as the first write
    t.refresh(str(tmp_path))
    assert t.granted == {"ten_a", "ten_b"}


# --------------------------------------------------------------------------- the master


@pytest.fixture
def snapdir(tmp_path: Path) -> str:
    d = str(tmp_path / "metrics")
    reset_directory(d)
    return d


def _slots_file(snapdir: str) -> dict[str, object]:
    with open(os.path.join(snapdir, SLOTS_FILE)) as fh:
        data: dict[str, object] = json.load(fh)
    return data


def test_slots_are_granted_in_order_up_to_the_cap_and_folds_counted_once(snapdir: str) -> None:
    slots = TenantSlots(snapdir, 2)
    assert _slots_file(snapdir) == {"cap": 2, "granted": [], "folded": 0}
    assert slots.offer(["ten_a", "ten_b", "ten_c", "_other", "ten_a"])
    assert list(slots.granted) == ["ten_a", "ten_b"] and slots.folded == 1
    assert not slots.offer(["ten_c", "ten_a"])  # already decided: no change, no recount
    assert slots.folded == 1
    slots.set_cap(1)  # a reload keeps the oldest grant
    assert list(slots.granted) == ["ten_a"] and slots.folded == 2
    slots.set_cap(5)
    slots.offer(["ten_b", "ten_d"])  # ten_b's past counts sit in _other: it stays refused
    assert list(slots.granted) == ["ten_a", "ten_d"]
    slots.write()  # update() writes after offer(); set_cap() writes itself
    assert _slots_file(snapdir) == {"cap": 5, "granted": ["ten_a", "ten_d"], "folded": 2}


def test_the_refused_memory_is_bounded(snapdir: str) -> None:
    slots = TenantSlots(snapdir, 0)
    slots.offer([f"ten_{i}" for i in range(REFUSED_MEMORY + 10)])
    assert len(slots.refused) == REFUSED_MEMORY
    assert slots.folded == REFUSED_MEMORY + 10


def test_update_reads_the_workers_candidates(snapdir: str) -> None:
    asked: list[tuple[str, tuple[tuple[str, int], ...]]] = []

    def ask(servers: tuple[tuple[str, int], ...], first: int, name: str, timeout: float) -> bool:
        asked.append((name, servers))
        return True

    pools = {"tenant": Pool("tenant", (("odoo-tenant", 8069),))}
    slots = TenantSlots(snapdir, 10, pools, ask=ask)
    one, two = Stats(), Stats()
    one.tenants.request_done("ten_a", 200, 200, 0.01, 1, 1, "tenant")
    two.tenants.request_done("ten_b", 101, 101, 0.01, 1, 1, "tenant")
    write_snapshot(one, snapdir, 1)
    write_snapshot(two, snapdir, 2)
    slots.update()
    assert slots.confirmations.idle(5)
    assert sorted(asked) == [
        ("ten_a", (("odoo-tenant", 8069),)),
        ("ten_b", (("odoo-tenant", 8069),)),
    ]
    assert sorted(slots.granted) == ["ten_a", "ten_b"]
    one.tenants.refresh(snapdir)
    assert one.tenants.granted == {"ten_a", "ten_b"} and one.tenants.candidates == {}


def test_the_merge_never_shows_more_than_the_granted(snapdir: str) -> None:
    slots = TenantSlots(snapdir, 2)
    slots.offer(["ten_a", "ten_b"])
    slots.write()
    liar = Stats()  # a worker whose file names databases the master never granted
    liar.tenants.apply(100, frozenset(f"ten_{i}" for i in "abcdefgh"))
    for i in "abcdefgh":
        liar.tenants.request_done(f"ten_{i}", 200, 200, 0.01, 1, 1)
        liar.tenants.websocket(f"ten_{i}", 1)
    write_snapshot(liar, snapdir, 1)
    merged = read_merged(snapdir)
    assert set(merged.tenants) == {*FIXED, "ten_a", "ten_b"}
    assert sum(merged.tenants[OTHER].classes) == 6
    assert merged.tenant_websockets == {"ten_a": 1, "ten_b": 1, OTHER: 6}
    assert merged.tenant_labels_max == 2


def test_a_dead_workers_tenant_counts_are_kept(snapdir: str) -> None:
    slots = TenantSlots(snapdir, 5)
    slots.offer(["ten_a"])
    slots.write()
    s = Stats()
    s.tenants.apply(5, frozenset({"ten_a"}))
    s.tenants.request_done("ten_a", 200, 200, 0.01, 3, 4)
    s.tenants.websocket("ten_a", 1)
    write_snapshot(s, snapdir, 1)
    forget_worker(snapdir, 1)
    merged = read_merged(snapdir)
    assert merged.tenants["ten_a"].classes[2] == 1 and merged.tenants["ten_a"].bytes_out == 4
    assert merged.tenant_websockets == {}  # a gauge goes with its worker


def test_a_malformed_tenant_row_skips_the_file() -> None:
    snap = Stats().snapshot()
    snap["tenants"]["rows"] = [["ten_a", [1, 2], 0, 0, [0] * 18, 0.0]]
    assert not Merged.empty().add(snap)


def test_an_odd_database_name_is_escaped_in_the_text() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from odoo_router.ops.metrics_text import families, render

    odd = 'ten_"we\\ird\nx'
    s = Stats()
    s.tenants.apply(5, frozenset({odd}))
    s.tenants.request_done(odd, 200, 200, 0.01, 1, 1)
    merged = Merged.empty()
    assert merged.add(s.snapshot())
    merged.fold_tenants({odd})
    text = render(families(merged)).decode()
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = [x for x in parsed["odoo_router_tenant_requests"].samples if x.value]
    assert sample.labels == {"db": odd, "status_class": "2xx"}


def test_stats_counts_a_tenant_as_tenant_stats_does() -> None:
    """Stats.request_done's inline tenant count (one call per request) is TenantStats'."""
    inline, alone = Stats(), TenantStats()
    for s in (inline.tenants, alone):
        s.apply(5, frozenset({"ten_a"}))
    for db, status, up, total in (
        ("ten_a", 200, 200, 0.003),
        ("ten_b", 404, 0, 2.0),
        ("ten_c", 200, 200, 0.1),  # a candidate, with the pool that answered it
        (ADMIN, 0, 0, 9e9),
    ):
        inline.request_done("h", "r", "p", status, total, None, 7, 9, db, up)
        alone.request_done(db, status, up, total, 7, 9, "p")
    assert inline.tenants.snapshot() == alone.snapshot()
    assert alone.snapshot()["candidates"] == [["ten_c", "p"]]
    before = inline.tenants.snapshot()
    inline.request_done("h", "r", "p", 200, 0.1, None, 1, 1)  # tenant None: not counted
    assert inline.tenants.snapshot() == before
