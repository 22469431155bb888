"""End to end on a real Docker engine and a real PostgreSQL: plan, apply, verify, rollback,
kills at every step, a failed verification, a stale plan, the lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.backup import check_manifest
from odoo_router.migrate.journal import hold_lock
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.runner import SubprocessRunner

from .servers import DockerEngine, PgServer
from .stack import DATA_FILE, Stack, old_stack

pytestmark = [pytest.mark.docker, pytest.mark.postgres]

NEW = ("odoo-tenant", "odoo-admin", "seisei-odoo-router")
OLD = ("odoo18-prod-web", "odoo-redis", "seisei-odoo-router")
# Files the backups and the stale check cover besides those the migration edits.
COVERED = (
    "/srv/stacks/odoo18-prod/.env",
    "/srv/stacks/odoo18-prod/config/odoo.conf",
    "/srv/stacks/seisei-odoo/nginx/default.conf",
    "/srv/stacks/edge-traefik/docker-compose.yml",
    "/srv/stacks/edge-traefik/dynamic/middlewares.yml",
    "/srv/stacks/edge-traefik/dynamic/services.yml",
)


@pytest.fixture
def stack(tree: Path, docker_engine: DockerEngine, pg_server: PgServer) -> Iterator[Stack]:
    if docker_engine.compose is None:
        pytest.skip("no compose implementation (docker compose plugin or docker-compose v2)")
    with old_stack(tree, docker_engine, pg_server) as s:
        yield s


def _pg(stack: Stack) -> Pg:
    p = stack.pg
    return Pg(
        SubprocessRunner(), [], ["-U", p.user, "-h", p.host, "-p", str(p.port)], f"{p.bindir}/"
    )


def _backup_folder(stack: Stack) -> Path:
    folders = sorted((stack.root / "mnt/backup").glob("odoo-router-migrate-*"))
    complete = [f for f in folders if (f / "MANIFEST.json").exists()]
    assert complete, folders
    return complete[-1]


def _assert_old_stack_back(stack: Stack, before: dict[str, str]) -> None:
    assert stack.digest() == before  # every file byte-identical (and same mode)
    assert stack.state("odoo18-prod-web") == "running"
    assert stack.state("odoo-tenant") is None and stack.state("odoo-admin") is None
    img = stack.engine.docker("inspect", "-f", "{{.Config.Image}}", "seisei-odoo-router").strip()
    assert img == "nginx:alpine"


def _assert_dumps_restorable(stack: Stack) -> None:
    folder = _backup_folder(stack)
    assert check_manifest(folder) == []
    pg = _pg(stack)
    for db in ("ten_testodoo", "ten_acme", "ten_00000001"):
        assert pg.restore_list(folder / "db" / f"{db}.dump") > 0


def test_inventory_reads_the_current_state(stack: Stack) -> None:
    code, out = stack.run("inventory")
    assert code == X.OK
    inv = json.loads(out)
    assert inv["errors"] == {}
    assert inv["traefik_version"] == "3.1.2"
    assert inv["odoo_container"] == "odoo18-prod-web"
    assert inv["projects"] == {"odoo": "odoo18-prod", "router": "seisei-odoo"}
    assert set(inv["networks"]) == {"seisei-odoo-network", "edge"}
    assert all(inv["networks"].values())  # subnets read
    assert inv["data_volume"] == "odoo18-prod_odoo18-prod-data" in inv["volumes"]
    assert inv["databases"] == ["ten_00000001", "ten_acme", "ten_testodoo"]
    # the routers Traefik's API lists (the fake computes them from files and labels)
    assert {"odoo-qr@file", "dify@file", "odoo18-nagashiro@docker"} <= set(inv["traefik_routers"])
    assert any(f.startswith("Odoo service: odoo18-prod/docker-compose.yml:9") for f in inv["facts"])
    assert any(h.startswith("@docker and @file: admin.erp.seisei.tokyo") for h in inv["hazards"])
    assert "  admin.erp.seisei.tokyo: odoo-tenant@file" in inv["routing"]
    assert inv["odoo_conf"]["admin_passwd"] == "changeme"  # shown: it is the hazard
    assert inv["odoo_conf"]["db_password"] == "<set>"
    names = {c["name"] for c in inv["containers"]}
    assert {"odoo18-prod-web", "odoo-redis", "seisei-odoo-router"} <= names
    # a standalone backup: write-once folder, manifest, volume archive
    code, out = stack.run("backup")
    assert code == X.OK
    folder = Path(out.strip())
    assert check_manifest(folder) == []
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["volume"]["name"] == "odoo18-prod_odoo18-prod-data"
    assert set(COVERED) <= set(manifest["tree"])  # the same coverage as apply's backup
    env = folder / "files/srv/stacks/odoo18-prod/.env"
    assert env.read_bytes() == (stack.stacks / "odoo18-prod/.env").read_bytes()


def test_plan_twice_identical_stale_plan_and_lock(stack: Stack) -> None:
    code1, out1 = stack.run("plan")
    plan1 = (stack.root / "var/lib/odoo-router-migrate/plan.json").read_bytes()
    code2, out2 = stack.run("plan")
    plan2 = (stack.root / "var/lib/odoo-router-migrate/plan.json").read_bytes()
    assert (code1, code2) == (X.OK, X.OK), out1
    assert out1 == out2 and plan1 == plan2
    assert "pre-flight: OK" in out1 and "expected downtime" in out1
    # another apply running
    with hold_lock(Layout.make(stack.root)):
        code, _ = stack.run("apply")
    assert code == X.LOCKED
    plan = json.loads(plan1)
    assert set(COVERED) <= set(plan["inputs"])
    assert plan["watched"] == ["/srv/stacks/edge-traefik/dynamic"]
    # a stale plan: a file added to Traefik's dynamic/ after planning, an edited .env
    late = stack.stacks / "edge-traefik/dynamic/late.yml"
    late.write_text("http: {}\n")
    before = stack.digest()
    code, _ = stack.run("apply")
    assert code == X.STALE_PLAN
    assert stack.digest() == before and stack.state("odoo18-prod-web") == "running"
    late.unlink()
    env = stack.stacks / "odoo18-prod/.env"
    env.write_text(env.read_text() + "EXTRA=1\n")
    assert stack.run("apply")[0] == X.STALE_PLAN
    assert stack.run("status", "--json")[1].count('"state": "planned"') == 1  # no run started


def test_apply_verify_then_rollback_restores_everything(stack: Stack) -> None:
    (stack.stacks / "odoo18-prod/config/odoo.conf").chmod(0o640)  # holds secrets
    before = stack.digest()
    assert stack.run("plan")[0] == X.OK
    code, out = stack.run("verify")
    assert code == X.VERIFY_FAILED  # the old stack does not pass: its checks prove nothing
    assert "FAIL F0 container odoo-tenant running" in out
    code, out = stack.run("apply", "--verify-restore")
    assert code == X.OK, out
    for name in NEW:
        assert stack.state(name) == "running"
    assert stack.state("odoo18-prod-web") is None
    # tenant and admin share the old data volume: filestore and sessions carried over
    for name in ("odoo-tenant", "odoo-admin"):
        assert stack.engine.docker("exec", name, "cat", DATA_FILE).strip() == "filestore"
    tenant_conf = stack.stacks / "odoo18-prod/config/odoo-tenant.conf"
    assert tenant_conf.stat().st_mode & 0o777 == 0o640  # as odoo.conf
    conf = stack.engine.docker("exec", "odoo-admin", "cat", "/etc/odoo/odoo.conf")
    assert "dbfilter_from_header" in conf and "list_db = True" in conf
    assert (stack.stacks / "seisei-odoo/odoo-router/router.yaml").exists()
    code, out = stack.run("verify")
    assert code == X.OK, out
    assert stack.run("apply") == (X.OK, "")  # applied already: no second downtime
    code, out = stack.run("status", "--json")
    status = json.loads(out)
    assert status["state"] == "applied" and set(status["steps"].values()) == {"done"}
    assert status["next"].startswith("`odoo-router-migrate verify`")
    manifest = json.loads((_backup_folder(stack) / "MANIFEST.json").read_text())
    assert set(COVERED) <= set(manifest["tree"])
    assert manifest["databases"]["ten_acme"]["restore"]["rows"] == 10 + 1 + 3 + 1
    assert manifest["volume"]["members"] >= 4
    # a v2 key slipped into a v3 file: Traefik drops the file, verify sees it
    mw = stack.stacks / "edge-traefik/dynamic/middlewares.yml"
    mw.write_text(
        mw.read_text() + "    legacy:\n      ipWhiteList:\n        sourceRange: [10.0.0.0/8]\n"
    )
    code, out = stack.run("verify")
    assert code == X.VERIFY_FAILED
    assert "FAIL F1 router odoo-admin@file loaded" in out
    # a later plan (of the migrated tree) does not change what rollback undoes
    stack.run("plan")
    # a change after the migration, then rollback with the databases
    stack.pg.psql("DELETE FROM res_partner", "ten_acme")
    code, out = stack.run("rollback", "--restore-databases")
    assert code == X.OK, out
    _assert_old_stack_back(stack, before)
    assert stack.pg.psql("SELECT count(*) FROM res_partner", "ten_acme").strip() == "11"
    (run,) = (stack.root / "var/lib/odoo-router-migrate/runs").iterdir()
    (kept,) = (run / "displaced").iterdir()  # the hand edit is not lost
    assert kept.name.startswith("dynamic:middlewares.") and b"legacy:" in kept.read_bytes()
    _assert_dumps_restorable(stack)


def test_failed_verification_rolls_back(
    tree: Path, docker_engine: DockerEngine, pg_server: PgServer
) -> None:
    if docker_engine.compose is None:
        pytest.skip("no compose implementation (docker compose plugin or docker-compose v2)")
    with old_stack(tree, docker_engine, pg_server, broken_router=True) as stack:
        before = stack.digest()
        assert stack.run("plan")[0] == X.OK
        code, _ = stack.run("apply")
        assert code == X.ROLLED_BACK
        _assert_old_stack_back(stack, before)
        status = json.loads(stack.run("status", "--json")[1])
        assert status["state"] == "rolled-back" and status["steps"]["verify"] == "failed"
        assert status["steps"]["start-router"] == "undone"


def test_plan_refuses_without_the_dbfilter_module(stack: Stack) -> None:
    """Not in the bind-mounted addons and not in the image: Odoo would ignore the header."""
    import shutil

    shutil.rmtree(stack.stacks / "odoo18-prod/community/dbfilter_from_header")
    code, out = stack.run("plan")
    assert code == X.REFUSED
    assert "dbfilter_from_header is not available to the Odoo image" in out
    assert not (stack.root / "var/lib/odoo-router-migrate/plan.json").exists()


def test_traefik_v2_is_rendered_and_verified_in_its_own_syntax(
    tree: Path, docker_engine: DockerEngine, pg_server: PgServer
) -> None:
    if docker_engine.compose is None:
        pytest.skip("no compose implementation (docker compose plugin or docker-compose v2)")
    # a v2 tree: its file routers written in v2 syntax (a v3 regex matches nothing on v2)
    services = tree / "srv/stacks/edge-traefik/dynamic/services.yml"
    v3 = "HostRegexp(`^[a-z0-9]+\\\\.erp\\\\.seisei\\\\.tokyo$`)"
    v2 = "HostRegexp(`{sub:[a-z0-9]+}.erp.seisei.tokyo`)"
    assert v3 in services.read_text()
    services.write_text(services.read_text().replace(v3, v2))
    with old_stack(tree, docker_engine, pg_server, traefik_version="2.10.7") as stack:
        before = stack.digest()
        code, out = stack.run("plan")
        assert code == X.OK, out
        assert stack.run("apply")[0] == X.OK
        dynamic = stack.stacks / "edge-traefik/dynamic"
        assert "ipWhiteList:" in (dynamic / "middlewares.yml").read_text()
        assert v2 in (dynamic / "services.yml").read_text()
        assert stack.run("verify")[0] == X.OK
        assert stack.run("rollback")[0] == X.OK
        _assert_old_stack_back(stack, before)


def test_a_failed_backup_changes_nothing(stack: Stack) -> None:
    before = stack.digest()
    assert stack.run("plan")[0] == X.OK
    code, _ = stack.run("apply", "--helper-image", "no-such-image:never")
    assert code == X.BACKUP_FAILED
    assert stack.digest() == before and stack.state("odoo18-prod-web") == "running"
    (folder,) = (stack.root / "mnt/backup").iterdir()
    assert not (folder / "MANIFEST.json").exists()  # kept, visibly incomplete
    status = json.loads(stack.run("status", "--json")[1])
    assert status["state"] == "rolled-back" and status["steps"]["backup"] == "failed"
