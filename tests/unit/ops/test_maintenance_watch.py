"""The worker's watch of the maintenance file (ops/maintenance_watch.py) on a real
WorkerState: a change read at the next poll, a broken file keeping the last good state
and logged once, ``until`` ending it without a change of the file, a reload naming another
file or none, websockets of the tenants that enter closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from odoo_router.configuration.model import Config, MaintenanceSettings
from odoo_router.configuration.validate import build_config
from odoo_router.datapath.state import WorkerState
from odoo_router.ops.maintenance import Entry, write_state
from odoo_router.ops.maintenance_watch import MaintenanceWatch

NOW = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)
T = NOW.timestamp()
BASE = """\
pools:
  tenant: {servers: ["127.0.0.1:8069"]}
hosts:
  - name: default
    default: true
    dbfilter: ten_a
    routes: [{name: all, prefix: /, proxy: {pool: tenant}}]
"""


def _config(path: Path | None) -> Config:
    config = build_config(BASE)
    return replace(config, maintenance=MaintenanceSettings(str(path) if path else None))


class Tunnel:
    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        self.restarted = 0

    def going_away(self) -> None:
        raise AssertionError("not on maintenance")

    def restart(self) -> None:
        self.restarted += 1


class Conn:
    peer = "127.0.0.1"
    closed = False
    transport = None
    exchange = None

    def __init__(self, tunnel: Tunnel | None) -> None:
        self.tunnel = tunnel
        self.queue: list[object] = []

    def close(self) -> None:
        pass

    def tick(self, now: float) -> None:
        pass


def _watch(path: Path | None) -> tuple[WorkerState, MaintenanceWatch, list[str]]:
    state = WorkerState(_config(path))
    logged: list[str] = []
    return state, MaintenanceWatch(state, logged.append), logged


def test_changes_are_read_at_the_next_poll(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    state, watch, logged = _watch(path)
    watch.poll(T)
    assert state.maintenance == {}
    write_state(str(path), {"ten_a": Entry(NOW)})
    watch.poll(T)
    assert state.maintenance == {"ten_a": 0.0}
    write_state(str(path), {})
    watch.poll(T)
    assert state.maintenance == {}
    assert logged == ["maintenance on: ten_a", "maintenance off: ten_a"]


def test_a_broken_file_keeps_the_last_good_state_and_logs_once(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    write_state(str(path), {"ten_a": Entry(NOW)})
    state, watch, logged = _watch(path)
    watch.poll(T)
    path.write_text("ten_a: [\n")
    for _ in range(3):
        watch.poll(T)
    assert state.maintenance == {"ten_a": 0.0}
    assert logged[1:] == [
        f"maintenance file: {path}:2: not valid YAML: expected the node content, "
        "but found '<stream end>'; keeping the last good state"
    ]
    path.write_text("ten_a: {since: x}\n")  # broken otherwise: logged again
    watch.poll(T)
    assert "ten_a.since: 'x' is not an ISO 8601 time" in logged[-1]
    write_state(str(path), {"ten_b": Entry(NOW)})
    watch.poll(T)
    assert state.maintenance == {"ten_b": 0.0}
    assert logged[-3:] == [
        f"maintenance file: {path} is readable again",
        "maintenance on: ten_b",
        "maintenance off: ten_a",
    ]


def test_until_ends_it_without_a_change_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    until = NOW + timedelta(seconds=30)
    write_state(str(path), {"ten_a": Entry(NOW, until), "ten_b": Entry(NOW)})
    state, watch, _ = _watch(path)
    watch.poll(T)
    assert state.maintenance == {"ten_a": until.timestamp(), "ten_b": 0.0}
    watch.poll(T + 29.9)
    assert "ten_a" in state.maintenance
    watch.poll(T + 30)
    assert state.maintenance == {"ten_b": 0.0}


def test_a_missing_file_is_no_maintenance_and_no_error(tmp_path: Path) -> None:
    state, watch, logged = _watch(tmp_path / "none.yaml")
    watch.poll(T)
    watch.poll(T)
    assert state.maintenance == {} and logged == []


def test_a_reload_may_name_another_file_or_none(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    write_state(str(first), {"ten_a": Entry(NOW)})
    write_state(str(second), {"ten_b": Entry(NOW)})
    state, watch, _ = _watch(first)
    watch.poll(T)
    assert list(state.maintenance) == ["ten_a"]
    state.swap(_config(second))
    watch.poll(T)
    assert list(state.maintenance) == ["ten_b"]
    state.swap(_config(None))
    watch.poll(T)
    assert state.maintenance == {}


def test_websockets_of_tenants_entering_are_restarted(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    state, watch, _ = _watch(path)
    tunnels = [Tunnel("ten_a"), Tunnel("ten_b"), Tunnel(None)]
    for tunnel in [*tunnels, None]:
        state.connections.add(Conn(tunnel))
    watch.poll(T)
    write_state(str(path), {"ten_a": Entry(NOW)})
    watch.poll(T)
    assert [t.restarted for t in tunnels] == [1, 0, 0]
    write_state(str(path), {"ten_a": Entry(NOW), "ten_b": Entry(NOW)})
    watch.poll(T)
    assert [t.restarted for t in tunnels] == [1, 1, 0], "only those that entered"
