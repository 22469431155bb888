"""``odoo-router-migrate upgrade`` against the real (private) Docker engine: the upgrade runs
in the tenant container through ``docker exec``, and that container sees its tenant in the
maintenance file (mounted read-only into it) while it runs; a failing upgrade leaves the
tenant there. The database list comes from a stand-in for PostgreSQL (test_upgrade.py has
the rest of the rules on fakes)."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.cli import cmd_upgrade
from odoo_router.migrate.context import Context
from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.exitcodes import MigrateError
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.runner import SubprocessRunner
from odoo_router.ops.maintenance import read_state

from .servers import TEST_IMAGE, DockerEngine
from .test_upgrade import _setup, _state

pytestmark = [pytest.mark.docker]

# In the container: the tenant must be in the maintenance file, else exit 7; ten_c fails.
COMMAND = (
    'sh -c \'case "$(cat /state/maintenance.yaml)" in *"{db}:"*) ;; *) exit 7;; esac; '
    "echo {db} >> /tmp/upgraded; test {db} != ten_c'"
)


class ServerDatabases(Pg):
    def databases(self) -> list[str]:
        return ["ten_a", "ten_b", "ten_c"]


@pytest.fixture
def tenant(tmp_path: Path, docker_engine: DockerEngine) -> Iterator[str]:
    name = f"odoo-tenant-{uuid.uuid4().hex[:8]}"
    _setup(tmp_path, container=name)
    state_dir = _state(tmp_path).parent
    docker_engine.docker("run", "-d", "--name", name, "-v", f"{state_dir}:/state:ro", TEST_IMAGE)
    try:
        yield name
    finally:
        docker_engine.docker("rm", "-f", name, check=False)


def _upgrade(root: Path, engine: DockerEngine, *dbs: str) -> int:
    runner = SubprocessRunner(env=engine.env())
    ctx = Context(Layout.make(root), runner, Docker(runner), ServerDatabases(runner), None)
    ctx.yes = True
    args = argparse.Namespace(
        databases=list(dbs), settle=0.0, upgrade_command=COMMAND, upgrade_timeout=60.0
    )
    return cmd_upgrade(ctx, args)


def test_upgrades_run_in_the_tenant_container_under_maintenance(
    tmp_path: Path, docker_engine: DockerEngine, tenant: str
) -> None:
    assert _upgrade(tmp_path, docker_engine, "ten_a", "ten_b") == X.OK
    assert docker_engine.docker("exec", tenant, "cat", "/tmp/upgraded") == "ten_a\nten_b\n"
    assert read_state(str(_state(tmp_path))) == {}


def test_a_failed_upgrade_leaves_the_tenant_in_maintenance(
    tmp_path: Path, docker_engine: DockerEngine, tenant: str
) -> None:
    with pytest.raises(MigrateError) as err:
        _upgrade(tmp_path, docker_engine)
    assert "upgrade of ten_c failed" in str(err.value)
    assert "ten_c stays in maintenance" in str(err.value)
    assert docker_engine.docker("exec", tenant, "cat", "/tmp/upgraded") == "ten_a\nten_b\nten_c\n"
    assert list(read_state(str(_state(tmp_path)))) == ["ten_c"]
