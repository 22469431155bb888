"""``backup``: a write-once folder per run, every piece checked.

- one ``pg_dump -Fc`` per database (custom format: ``pg_restore --list`` can read it back,
  a plain SQL dump cannot be checked) and ``pg_dumpall --globals-only`` (roles);
- a tar of the Odoo data volume (filestore + sessions), listed back with tarfile;
- ``docker ps -a`` and ``docker inspect`` of every container;
- a copy of every covered file (coverage.py: what the migration reads or writes, each stack's
  compose files and .env, every file of Traefik's watched directory), sha256 in the manifest;
- ``--verify-restore``: each dump restored into a scratch database, row counts compared;
- MANIFEST.json with the sha256 of every file, written last: a folder without it is an
  interrupted backup and is never reused or overwritten.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

from .console import say, status
from .context import Context
from .coverage import covered
from .exitcodes import BACKUP_FAILED, MigrateError
from .fsops import sha256_bytes, sha256_file, write_new_exclusive
from .inventory import Inventory, gather
from .journal import utc_stamp
from .plan import load_plan_file
from .runner import CommandError

MANIFEST = "MANIFEST.json"
SCRATCH_PREFIX = "odoo_router_migrate_verify_"


def new_folder(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = parent / f"odoo-router-migrate-{utc_stamp()}"
    folder, n = base, 1
    while True:
        try:
            folder.mkdir(mode=0o700)  # exclusive: an existing folder is never reused
            return folder
        except FileExistsError:
            n += 1
            folder = Path(f"{base}-{n}")


def _check_tar(path: Path) -> int:
    with tarfile.open(path, "r:") as tf:
        return sum(1 for _ in tf)


def verify_restore(ctx: Context, db: str, dump: Path) -> dict[str, Any]:
    scratch = SCRATCH_PREFIX + db[:40]
    ctx.pg.drop_db(scratch)
    ctx.pg.create_db(scratch)
    try:
        ctx.pg.restore_into(dump, scratch)
        want, got = ctx.pg.row_counts(db), ctx.pg.row_counts(scratch)
    finally:
        ctx.pg.drop_db(scratch)
    if want != got:
        diff = sorted(t for t in set(want) | set(got) if want.get(t) != got.get(t))
        raise MigrateError(
            f"{db}: restored row counts differ in {', '.join(diff[:5])}", BACKUP_FAILED
        )
    return {"tables": len(want), "rows": sum(want.values())}


def backup_now(ctx: Context) -> Path:
    """The standalone ``backup``: the same coverage as apply's step 1 (the staged plan's
    files when there is one, else what is on disk)."""
    inv = gather(ctx.layout, ctx.docker, ctx.pg, None, "n/a")
    plan = load_plan_file(ctx.layout.plan_file) if ctx.layout.plan_file.exists() else None
    if plan is not None:
        with_plan(inv, plan)
    return run_backup(ctx, inv, covered(ctx.layout, plan))


def with_plan(inv: Inventory, plan: dict[str, Any]) -> None:
    """What the plan found (with the operator's inputs file) wins over a rediscovery
    without it: the Odoo container, the filestore."""
    b = plan.get("backup") or {}
    inv.odoo_container = b.get("odoo_container") or inv.odoo_container
    inv.data_volume = b.get("data_volume") or inv.data_volume
    inv.data_bind = b.get("data_bind") or inv.data_bind
    inv.odoo_image = inv.odoo_image or b.get("odoo_image")


def run_backup(ctx: Context, inv: Inventory, files: list[str]) -> Path:
    """``files``: paths as the operator knows them (/srv/stacks/...), copied under files/;
    the manifest's ``tree`` has the sha256 of each (None: it does not exist)."""
    folder = new_folder(ctx.layout.backups)
    say(f"backup folder {folder}")
    manifest: dict[str, Any] = {
        "created": utc_stamp(),
        "databases": {},
        "tree": {},
        "volume": None,
    }
    try:
        (folder / "db").mkdir()
        for n, db in enumerate(inv.databases, start=1):
            say(f"pg_dump {db} ({n}/{len(inv.databases)})")
            out = folder / "db" / f"{db}.dump"
            ctx.pg.dump(db, out)
            entries = ctx.pg.restore_list(out)
            if entries == 0:
                raise MigrateError(
                    f"{db}: pg_restore --list finds nothing in the dump", BACKUP_FAILED
                )
            info: dict[str, Any] = {"entries": entries}
            if ctx.verify_restore:
                info["restore"] = verify_restore(ctx, db, out)
            manifest["databases"][db] = info
        globals_sql = folder / "db" / "globals.sql"
        try:
            ctx.pg.dump_globals(globals_sql)
        except CommandError:
            # Not a superuser: pg_authid is out of reach, the roles without passwords are not.
            globals_sql.rename(folder / "db" / "globals.failed")
            globals_sql = folder / "db" / "globals-no-role-passwords.sql"
            ctx.pg.dump_globals(globals_sql, no_passwords=True)
            manifest["globals"] = "without role passwords (not a superuser)"
        if b"CREATE ROLE" not in globals_sql.read_bytes():
            raise MigrateError("pg_dumpall --globals-only wrote no roles", BACKUP_FAILED)
        image = ctx.helper_image or inv.odoo_image
        if inv.data_volume and image:
            (folder / "volume").mkdir()
            tar = folder / "volume" / f"{inv.data_volume}.tar"
            with status(f"archiving volume {inv.data_volume} (filestore, sessions)"):
                ctx.docker.volume_tar(inv.data_volume, tar, image)
            manifest["volume"] = {"name": inv.data_volume, "members": _check_tar(tar)}
        elif inv.data_bind:
            (folder / "volume").mkdir()
            tar = folder / "volume" / "data_dir.tar"
            with (
                status(f"archiving {inv.data_bind} (filestore, sessions)"),
                tarfile.open(tar, "x:") as tf,
            ):
                tf.add(inv.data_bind, arcname=".")
            manifest["volume"] = {"bind": inv.data_bind, "members": _check_tar(tar)}
        elif inv.odoo_container:
            raise MigrateError(
                "the Odoo data volume was not found: refusing to go on without it", BACKUP_FAILED
            )
        (folder / "docker").mkdir()
        names = [str(c.get("Names")) for c in ctx.docker.ps_all()]
        write_new_exclusive(
            folder / "docker" / "ps.json", json.dumps(ctx.docker.ps_all(), indent=1).encode()
        )
        write_new_exclusive(
            folder / "docker" / "inspect.json",
            ctx.docker.inspect_raw(names).encode() if names else b"[]",
        )
        (folder / "files").mkdir()
        for rel in files:
            path = ctx.layout.root / rel.lstrip("/")
            data = path.read_bytes() if path.is_file() else None
            if data is not None:
                dest = folder / "files" / rel.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                write_new_exclusive(dest, data)
            manifest["tree"][rel] = None if data is None else sha256_bytes(data)
    except CommandError as exc:
        raise MigrateError(
            f"backup failed, folder kept for inspection: {folder}: {exc}", BACKUP_FAILED
        ) from exc
    listing = {}
    for dirpath, _, filenames in os.walk(folder):
        for name in sorted(filenames):
            p = Path(dirpath) / name
            listing[str(p.relative_to(folder))] = {
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
            }
            os.chmod(p, 0o400)
    manifest["files"] = listing
    write_new_exclusive(
        folder / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), 0o400
    )
    say(
        f"backup complete: {len(inv.databases)} databases, {len(files)} files, "
        f"manifest {folder / MANIFEST}"
    )
    return folder


def check_manifest(folder: Path) -> list[str]:
    """Problems with a backup folder (missing manifest, changed or missing files)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        return [f"{folder}: no {MANIFEST} (an interrupted backup)"]
    problems = []
    for rel, info in manifest.get("files", {}).items():
        if sha256_file(folder / rel) != info["sha256"]:
            problems.append(f"{folder / rel}: sha256 differs from the manifest")
    return problems
