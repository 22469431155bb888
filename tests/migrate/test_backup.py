"""Backups against a real PostgreSQL: custom-format dumps checked with pg_restore --list,
restored into a scratch database with equal row counts, failures caught, folders write-once."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.backup import MANIFEST, check_manifest, run_backup
from odoo_router.migrate.context import Context
from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.exitcodes import MigrateError
from odoo_router.migrate.inputs import Inputs
from odoo_router.migrate.inventory import Inventory
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.merge import Overrides
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.runner import CommandError, SubprocessRunner
from odoo_router.migrate.survey import survey

from .conftest import DATABASES
from .servers import PgServer
from .test_units import Recorder

pytestmark = [pytest.mark.postgres]


def _ctx(tree: Path, pg_server: PgServer, verify_restore: bool = True) -> Context:
    p = pg_server
    runner = SubprocessRunner()
    pg = Pg(runner, [], ["-U", p.user, "-h", p.host, "-p", str(p.port)], f"{p.bindir}/")
    return Context(
        Layout.make(tree),
        runner,
        Docker(Recorder({"ps -a": ""})),
        pg,
        None,
        verify_restore=verify_restore,
    )


def _inv(ctx: Context, dbs: list[str]) -> Inventory:
    s = survey(ctx.layout, Inputs(), Overrides(admin_allow=("198.51.100.0/24",)))
    return Inventory(survey=s, databases=dbs)


def test_backup_dumps_verified_and_write_once(tree: Path, pg_server: PgServer) -> None:
    ctx = _ctx(tree, pg_server)
    services = ctx.layout.stacks / "edge-traefik/dynamic/services.yml"
    tenant_conf = ctx.layout.stacks / "odoo18-prod/config/odoo-tenant.conf"
    touched = [ctx.layout.rel(services), ctx.layout.rel(tenant_conf)]
    first = run_backup(ctx, _inv(ctx, DATABASES), touched)
    ctx.verify_restore = False
    second = run_backup(ctx, _inv(ctx, DATABASES), touched)
    assert first != second  # a re-run never overwrites
    manifest = json.loads((first / MANIFEST).read_text())
    assert manifest["databases"]["ten_acme"]["restore"] == {"tables": 2, "rows": 15}
    assert manifest["tree"]["/srv/stacks/odoo18-prod/config/odoo-tenant.conf"] is None
    assert (
        first / "files/srv/stacks/edge-traefik/dynamic/services.yml"
    ).read_bytes() == services.read_bytes()
    assert b"CREATE ROLE odoo" in (first / "db/globals.sql").read_bytes()
    assert check_manifest(first) == []
    # binary content survives (no TTY in the way): a restore gives the same bytes back
    ctx.pg.drop_db("scratch_bytes")
    ctx.pg.create_db("scratch_bytes")
    ctx.pg.restore_into(first / "db/ten_acme.dump", "scratch_bytes")
    assert (
        pg_server.psql(
            "SELECT encode(data, 'hex') FROM ir_attachment LIMIT 1", "scratch_bytes"
        ).strip()
        == "00ff0d0a"
    )
    ctx.pg.drop_db("scratch_bytes")
    # tampering shows in the manifest; a cut dump fails --list (head) or the restore (tail:
    # --list reads only the table of contents, which is why --verify-restore exists)
    victim = first / "db/ten_acme.dump"
    victim.chmod(0o600)
    data = victim.read_bytes()
    victim.write_bytes(data[:-40])
    assert check_manifest(first) == [f"{victim}: sha256 differs from the manifest"]
    ctx.pg.drop_db("scratch_cut")
    ctx.pg.create_db("scratch_cut")
    with pytest.raises(CommandError):
        ctx.pg.restore_into(victim, "scratch_cut")
    ctx.pg.drop_db("scratch_cut")
    victim.write_bytes(data[:100])
    with pytest.raises(CommandError):
        ctx.pg.restore_list(victim)


def test_a_failed_dump_stops_the_backup_and_leaves_no_manifest(
    tree: Path, pg_server: PgServer
) -> None:
    ctx = _ctx(tree, pg_server, verify_restore=False)
    with pytest.raises(MigrateError) as exc:
        run_backup(ctx, _inv(ctx, ["ten_acme", "ten_missing"]), [])
    assert exc.value.code == X.BACKUP_FAILED and "ten_missing" in str(exc.value)
    (folder,) = (tree / "mnt/backup").iterdir()
    assert not (folder / MANIFEST).exists()
    assert check_manifest(folder) == [f"{folder}: no {MANIFEST} (an interrupted backup)"]


def test_globals_without_superuser_fall_back_to_no_role_passwords(
    tree: Path, pg_server: PgServer
) -> None:
    pg_server.psql(
        "DO $$ BEGIN CREATE ROLE limited LOGIN; EXCEPTION WHEN duplicate_object THEN END $$"
    )
    ctx = _ctx(tree, pg_server, verify_restore=False)
    ctx.pg.conn = ["-U", "limited", "-h", pg_server.host, "-p", str(pg_server.port)]
    folder = run_backup(ctx, _inv(ctx, []), [])
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["globals"] == "without role passwords (not a superuser)"
    assert b"CREATE ROLE limited" in (folder / "db/globals-no-role-passwords.sql").read_bytes()


def test_a_bind_mounted_data_dir_is_archived_too(tree: Path, pg_server: PgServer) -> None:
    data = tree / "var/odoo-data"
    (data / "filestore/ten_acme/ab").mkdir(parents=True)
    (data / "filestore/ten_acme/ab/abcdef").write_bytes(b"\x00\xff\r\n")
    (data / "sessions").mkdir()
    ctx = _ctx(tree, pg_server, verify_restore=False)
    inv = _inv(ctx, ["ten_acme"])
    inv.data_bind, inv.odoo_container = str(data), "odoo18-prod-web"
    folder = run_backup(ctx, inv, [])
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["volume"] == {"bind": str(data), "members": 6}
    with tarfile.open(folder / "volume/data_dir.tar") as tf:
        member = tf.extractfile("./filestore/ten_acme/ab/abcdef")
        assert member is not None and member.read() == b"\x00\xff\r\n"
