"""``odoo-router-migrate upgrade [DB ...]``: the runbook's phase G, module upgrades, one
tenant at a time, with Odoo running.

Rules / theory of operation
---------------------------
* Only after a run was applied (and verified: ``verify``); the last applied run's plan says
  where router.yaml is (its ``router_yaml`` file) and which container is the tenant Odoo.
* The maintenance file is router.yaml's ``maintenance.file`` on the host (the migration
  renders ``maintenance: {file: state/maintenance.yaml}`` and mounts ``state/`` writable
  into the router's container); it is written with the same functions as ``odoo-router
  maintenance`` (ops/maintenance.py: atomic, locked).
* Per tenant, in order: maintenance on; ``settle`` seconds for the workers to see it (they
  do within 0.1 s; in-flight requests finish); the upgrade in the tenant container through
  the Docker engine (``docker exec -i <container> odoo -u all -d DB --stop-after-init
  --no-http``: a second Odoo process that loads, upgrades and exits, while the serving one
  goes on for the other tenants and reloads its registry for this one); maintenance off.
* A failure stops there: that tenant stays in maintenance (its users see the 503 page, not
  a half-upgraded database), the tenants after it are not touched, and the error says so and
  how to get out (run again after fixing, or ``odoo-router maintenance off``, or restore the
  backup). Tenants already done stay done.
* No DB given: every database of the server that router.yaml routes to.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..configuration.model import Config, ConfigError
from ..configuration.validate import load_config
from ..ops.maintenance import DB_NAME, StateError, now_utc, switch_off, switch_on
from ..ops.maintenance_cli import known_databases
from . import exitcodes as X
from .docker_api import Docker
from .exitcodes import MigrateError
from .layout import Layout, under
from .pg import Pg
from .runner import CommandError, Runner

UPGRADE_COMMAND = "odoo -u all -d {db} --stop-after-init --no-http"
BY = "odoo-router-migrate upgrade"


@dataclass(frozen=True)
class Target:
    router_yaml: Path  # on the host
    config: Config
    state_file: str  # on the host
    container: str  # the tenant Odoo


def target(layout: Layout, plan: dict[str, Any]) -> Target:
    """Where router.yaml, its maintenance file and the tenant container are, from the
    applied run's plan."""
    rows = [f for f in plan.get("files", ()) if f.get("role") == "router_yaml"]
    if not rows:
        raise MigrateError("the applied plan wrote no router.yaml: nothing to upgrade behind")
    path = under(layout.root, rows[0]["path"])
    try:
        config = load_config(str(path))
    except ConfigError as exc:
        raise MigrateError(f"{path}: {exc.problems[0]}", X.REFUSED) from exc
    if config.maintenance.file is None:
        raise MigrateError(
            f"{path} has no maintenance file: add `maintenance: {{file: state/maintenance.yaml}}`"
            " and mount its directory writable in the router's service",
            X.REFUSED,
        )
    containers = plan.get("verify", {}).get("odoo_containers") or []
    if not containers:
        raise MigrateError("the applied plan names no tenant Odoo container", X.REFUSED)
    return Target(path, config, config.maintenance.file, str(containers[0]))


def databases(t: Target, pg: Pg, asked: Sequence[str]) -> list[str]:
    """The databases to upgrade: those asked (each checked), else every one router.yaml
    routes to."""
    bad = [db for db in asked if DB_NAME.fullmatch(db) is None]
    if bad:
        raise MigrateError(f"not a database name: {', '.join(map(repr, bad))}", X.USAGE)
    present = pg.databases()
    missing = [db for db in asked if db not in present]
    if missing:
        raise MigrateError(f"no such database on the server: {', '.join(missing)}", X.USAGE)
    names, patterns = known_databases(t.config)
    routed = [db for db in present if db in names or any(p.fullmatch(db) for p in patterns)]
    chosen = list(dict.fromkeys(asked)) if asked else routed
    if not chosen:
        raise MigrateError("no database of the server is routed by router.yaml", X.USAGE)
    return chosen


def _way_out(t: Target, db: str) -> str:
    return (
        f"{db} stays in maintenance (its hosts answer 503). Fix the cause, then run "
        f"`odoo-router-migrate upgrade {db}` again; or bring it back as it is: "
        f"`odoo-router maintenance off --config {t.router_yaml} {db}` (inside the router's "
        "container, with its own --config path, or on the host); or restore its backup"
    )


def upgrade(
    t: Target,
    dbs: Sequence[str],
    docker: Docker,
    runner: Runner,
    say: Callable[[str], None],
    settle: float = 1.0,
    command: str = UPGRADE_COMMAND,
    timeout: float = 3600.0,
) -> None:
    """Phase G for ``dbs`` (see the module's rules); MigrateError at the first failure."""
    for i, db in enumerate(dbs):
        try:
            switch_on(t.state_file, [db], None, BY, now_utc())
        except (OSError, StateError) as exc:
            raise MigrateError(
                f"cannot put {db} in maintenance ({t.state_file}): {exc}; nothing was upgraded"
                + (f" after {', '.join(dbs[:i])}" if i else "")
            ) from exc
        say(f"{db}: in maintenance, upgrading its modules")
        time.sleep(settle)
        argv = docker.exec_argv(t.container, shlex.split(command.format(db=db)))
        try:
            runner.run(argv, timeout=timeout)
        except (CommandError, OSError, subprocess.TimeoutExpired) as exc:
            left = f"; not started: {', '.join(dbs[i + 1 :])}" if i + 1 < len(dbs) else ""
            raise MigrateError(f"upgrade of {db} failed: {exc}. {_way_out(t, db)}{left}") from exc
        try:
            switch_off(t.state_file, [db], now_utc())
        except (OSError, StateError) as exc:
            raise MigrateError(
                f"{db} was upgraded but could not leave maintenance: {exc}. "
                f"`odoo-router maintenance off --config {t.router_yaml} {db}` once it is fixed"
            ) from exc
        say(f"{db}: upgraded, back online")
