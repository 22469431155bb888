"""``odoo-router-migrate upgrade`` (phase G) with a recording fake of the Docker engine and
PostgreSQL: each tenant in maintenance exactly while its upgrade runs, in order; a failure
leaves that tenant in maintenance, touches none after it and says how to get out; refused
before an applied run, for unknown databases and without a maintenance file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.cli import cmd_upgrade
from odoo_router.migrate.context import Context
from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.exitcodes import MigrateError
from odoo_router.migrate.journal import new_run
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.runner import CommandError, Result
from odoo_router.ops.maintenance import read_state

ROUTER_YAML = "/srv/stacks/seisei-odoo/odoo-router/router.yaml"
ROUTER = """\
pools:
  tenant: {servers: ["odoo-tenant:8069"]}
hosts:
  - name: shops
    exact: [a.example.org]
    dbfilter: ten_a
    routes: [{name: all, prefix: /, proxy: {pool: tenant}}]
  - name: b
    exact: [b.example.org]
    dbfilter: ten_b
    routes: [{name: all, prefix: /, proxy: {pool: tenant}}]
  - name: c
    exact: [c.example.org]
    dbfilter: ten_c
    routes: [{name: all, prefix: /, proxy: {pool: tenant}}]
  - name: default
    default: true
    routes: [{name: all, prefix: /, respond: {status: 421}}]
"""
MAINTENANCE = "maintenance: {file: state/maintenance.yaml}\n"


class Engine:
    """Answers psql with the server's databases; at each ``docker exec`` records which
    tenants the maintenance file holds, and fails for ``fail``."""

    def __init__(self, state: Path, fail: str | None = None) -> None:
        self.state = state
        self.fail = fail
        self.execs: list[tuple[list[str], list[str]]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input_text: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        if "psql" in argv:
            return Result(list(argv), 0, "ten_a\nten_b\nten_c\nscratch\n", "")
        assert argv[:2] == ["docker", "exec"], argv
        self.execs.append((list(argv), sorted(read_state(str(self.state)))))
        if self.fail is not None and self.fail in argv:
            raise CommandError(argv, 1, "odoo.modules.loading: module sale: ParseError")
        return Result(list(argv), 0, "", "")

    def run_to_file(self, argv: Sequence[str], out: Path, *, timeout: float | None = None) -> None:
        raise AssertionError("not used")

    def run_from_file(
        self, argv: Sequence[str], src: Path, *, timeout: float | None = None
    ) -> Result:
        raise AssertionError("not used")


def _setup(
    root: Path,
    router: str = ROUTER + MAINTENANCE,
    applied: bool = True,
    container: str = "odoo-tenant",
) -> Layout:
    layout = Layout.make(root)
    conf = root / ROUTER_YAML.lstrip("/")
    (conf.parent / "state").mkdir(parents=True)
    conf.write_text(router)
    layout.staging.mkdir(parents=True)
    plan = {
        "plan_id": "p1",
        "steps": [],
        "files": [{"role": "router_yaml", "path": ROUTER_YAML}],
        "verify": {"odoo_containers": [container, "odoo-admin"]},
    }
    layout.plan_file.write_text(json.dumps(plan))
    j = new_run(layout, "p1")
    if applied:
        j.append("apply-started")
        j.append("applied")
    return layout


def _upgrade(root: Path, engine: Engine, *dbs: str) -> int:
    ctx = Context(Layout.make(root), engine, Docker(engine), Pg(engine), None, yes=True)
    args = argparse.Namespace(
        databases=list(dbs),
        settle=0.0,
        upgrade_command="odoo -u all -d {db} --stop-after-init --no-http",
        upgrade_timeout=60.0,
    )
    return cmd_upgrade(ctx, args)


def _state(root: Path) -> Path:
    return root / ROUTER_YAML.lstrip("/").replace("router.yaml", "state/maintenance.yaml")


def test_each_tenant_is_in_maintenance_while_it_is_upgraded(tmp_path: Path) -> None:
    _setup(tmp_path)
    engine = Engine(_state(tmp_path))
    assert _upgrade(tmp_path, engine, "ten_b", "ten_a") == X.OK
    assert engine.execs == [
        (
            ["docker", "exec", "-i", "odoo-tenant", "odoo", "-u", "all", "-d", "ten_b",
             "--stop-after-init", "--no-http"],
            ["ten_b"],
        ),
        (
            ["docker", "exec", "-i", "odoo-tenant", "odoo", "-u", "all", "-d", "ten_a",
             "--stop-after-init", "--no-http"],
            ["ten_a"],
        ),
    ]  # fmt: skip
    assert read_state(str(_state(tmp_path))) == {}


def test_without_databases_every_routed_one(tmp_path: Path) -> None:
    _setup(tmp_path)
    engine = Engine(_state(tmp_path))
    assert _upgrade(tmp_path, engine) == X.OK
    assert [dbs for _, dbs in engine.execs] == [["ten_a"], ["ten_b"], ["ten_c"]]


def test_a_failure_keeps_that_tenant_out_and_stops(tmp_path: Path) -> None:
    _setup(tmp_path)
    engine = Engine(_state(tmp_path), fail="ten_b")
    with pytest.raises(MigrateError) as err:
        _upgrade(tmp_path, engine)
    message = str(err.value)
    assert "upgrade of ten_b failed" in message and "ParseError" in message
    assert "ten_b stays in maintenance (its hosts answer 503)" in message
    assert f"odoo-router maintenance off --config {tmp_path}{ROUTER_YAML} ten_b" in message
    assert "odoo-router-migrate upgrade ten_b" in message
    assert message.endswith("; not started: ten_c")
    assert [dbs for _, dbs in engine.execs] == [["ten_a"], ["ten_b"]]
    entries = read_state(str(_state(tmp_path)))
    assert list(entries) == ["ten_b"] and entries["ten_b"].by == "odoo-router-migrate upgrade"


@pytest.mark.parametrize(
    ("dbs", "message"),
    [
        (("ten_x",), "no such database on the server: ten_x"),
        (("ten a",), "not a database name: 'ten a'"),
    ],
)
def test_bad_databases_are_refused_before_anything(
    tmp_path: Path, dbs: tuple[str, ...], message: str
) -> None:
    _setup(tmp_path)
    engine = Engine(_state(tmp_path))
    with pytest.raises(MigrateError, match=message):
        _upgrade(tmp_path, engine, *dbs)
    assert engine.execs == [] and not _state(tmp_path).exists()


def test_refused_before_an_applied_run(tmp_path: Path) -> None:
    _setup(tmp_path, applied=False)
    with pytest.raises(MigrateError, match="upgrade is phase G, after apply and verify") as err:
        _upgrade(tmp_path, Engine(_state(tmp_path)))
    assert err.value.code == X.REFUSED


def test_refused_without_a_maintenance_file(tmp_path: Path) -> None:
    _setup(tmp_path, router=ROUTER)
    with pytest.raises(MigrateError, match="has no maintenance file: add `maintenance:"):
        _upgrade(tmp_path, Engine(_state(tmp_path)))


def test_an_unwritable_state_directory_upgrades_nothing(tmp_path: Path) -> None:
    _setup(tmp_path)
    state = _state(tmp_path)
    state.parent.rmdir()
    engine = Engine(state)
    with pytest.raises(MigrateError, match=r"cannot put ten_a in maintenance .* nothing was"):
        _upgrade(tmp_path, engine)
    assert engine.execs == []
