"""odoo-router-migrate: argv -> Context -> one subcommand; the only sys.exit.

Exit codes: see exitcodes.py and docs/migrate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import exitcodes as X
from .apply import apply, decide, password_notice
from .backup import backup_now
from .console import confirm, error, say
from .context import Context
from .docker_api import Docker, detect_compose
from .exitcodes import MigrateError
from .inventory import gather
from .journal import hold_lock, latest_run
from .layout import Layout
from .merge import Overrides
from .offline import check_out, read_snap, stage_tree
from .pg import Pg
from .plan import load_plan_file
from .preflight import load_inputs, make_offline_plan, make_plan, stage, store_secret
from .render import Settings
from .report import format_plan
from .rollback import rollback
from .runner import CommandError, SubprocessRunner
from .runstate import APPLIED, ROLLED_BACK
from .status import format_status, status
from .traefik import TraefikAPI, TraefikError, write_snapshot
from .upgrade import UPGRADE_COMMAND, databases, target, upgrade
from .verify import format_checks, run_checks

CRASH_ENV = "ODOO_ROUTER_MIGRATE_CRASH_AT"  # tests only: "step-id:before|after|undo", ...


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("where")
    g.add_argument(
        "--root", default="/", help="every path below is under this root (tests: a temp copy)"
    )
    g.add_argument("--stacks", default="/srv/stacks")
    g.add_argument("--state-dir", default="/var/lib/odoo-router-migrate")
    g.add_argument(
        "--backup-dir", default="/mnt/backup", help="parent of the write-once backup folders"
    )
    d = common.add_argument_group("docker and postgres")
    d.add_argument("--docker", default="docker")
    d.add_argument(
        "--compose",
        default=None,
        help="compose command (default: docker compose, else docker-compose)",
    )
    d.add_argument(
        "--pg-exec",
        choices=("docker", "local"),
        default="docker",
        help="docker: `docker exec -i CONTAINER tool`; local: run the tools here",
    )
    d.add_argument("--pg-container", default="seisei-db")
    d.add_argument("--pg-user", default="odoo")
    d.add_argument("--pg-host", default=None)
    d.add_argument("--pg-port", default=None)
    d.add_argument("--pg-bindir", default="", help="directory of pg_dump & co (local mode)")
    d.add_argument(
        "--helper-image",
        default=None,
        help="image with tar/du for the data volume (default: Odoo's)",
    )
    d.add_argument("--stop-timeout", type=int, default=30)
    d.add_argument("--health-timeout", type=float, default=120.0)
    d.add_argument(
        "--verify-timeout",
        type=float,
        default=180.0,
        help="apply's verify step retries this long before rolling back",
    )
    t = common.add_argument_group("traefik and router")
    t.add_argument("--traefik-api", default="http://127.0.0.1:8888")
    t.add_argument("--router-url", default=None, help="default: the router container's address")
    t.add_argument("--router-image", default=Settings.router_image)
    t.add_argument("--router-command", default="", help="default: the image's own command")
    t.add_argument(
        "--router-health-interval", default=None, help="default: the service's own interval"
    )
    i = common.add_argument_group(
        "operator inputs", "the inputs file, and overrides of its keys (docs/migrate.md)"
    )
    i.add_argument("--inputs", default=None, metavar="FILE", help="the inputs file (YAML)")
    i.add_argument(
        "--admin-allow", action="append", default=None, help="CIDR, repeatable: admin.allow"
    )
    i.add_argument(
        "--trusted-proxy", action="append", default=None, help="CIDR, repeatable: trusted_proxies"
    )
    i.add_argument("--traefik-version", default=None, help="overrides the detected version")
    i.add_argument("--master-password-file", default=None, help="master_password: {file: ...}")
    i.add_argument(
        "--allow-broad-allowlist",
        action="store_true",
        help="accept an allowlist overlapping 172.16.0.0/12 or Traefik's networks",
    )
    o = common.add_argument_group("behaviour")
    o.add_argument("--yes", action="store_true", help="do not ask (non-interactive runs)")
    o.add_argument("--json", action="store_true", help="machine-readable output")

    p = argparse.ArgumentParser(
        prog="odoo-router-migrate",
        description="Split the Odoo container and replace the nginx router by odoo-router, safely.",
        epilog="exit codes: " + "; ".join(f"{k} {v}" for k, v in X.DESCRIPTIONS.items()),
    )
    sub = p.add_subparsers(dest="command", required=True)
    inv = sub.add_parser("inventory", parents=[common], help="read the current state")
    inv.add_argument(
        "--snapshot", default=None, metavar="SNAP", help="write Traefik's API bodies to SNAP"
    )
    pl = sub.add_parser(
        "plan", parents=[common], help="pre-flight, render, diff, steps (read-only)"
    )
    pl.add_argument(
        "--offline",
        action="store_true",
        help="contact no Docker engine, PostgreSQL or Traefik API (review a copied tree)",
    )
    pl.add_argument(
        "--stage", default=None, metavar="OUT", help="offline: write the tree after apply to OUT"
    )
    pl.add_argument(
        "--traefik-snapshot",
        default=None,
        metavar="SNAP",
        help="offline: Traefik's version and routers from `inventory --snapshot SNAP`",
    )
    b = sub.add_parser("backup", parents=[common], help="a verified, write-once backup")
    b.add_argument("--verify-restore", action="store_true")
    a = sub.add_parser("apply", parents=[common], help="run or resume the plan")
    a.add_argument("--verify-restore", action="store_true")
    sub.add_parser("verify", parents=[common], help="F1-F5 against the running stack")
    r = sub.add_parser("rollback", parents=[common], help="undo the last run")
    r.add_argument(
        "--restore-databases", action="store_true", help="also pg_restore every database"
    )
    sub.add_parser("status", parents=[common], help="where the run stands")
    u = sub.add_parser(
        "upgrade",
        parents=[common],
        help="phase G: each tenant in maintenance while its modules are upgraded",
    )
    u.add_argument("databases", nargs="*", metavar="DB", help="default: every routed database")
    u.add_argument(
        "--upgrade-command",
        default=UPGRADE_COMMAND,
        help="run in the tenant container, {db} replaced (default: %(default)s)",
    )
    u.add_argument("--upgrade-timeout", type=float, default=3600.0, help="seconds per database")
    u.add_argument(
        "--settle", type=float, default=1.0, help="seconds between maintenance on and the upgrade"
    )
    return p


def _abs(path: str) -> str:
    return path if os.path.isabs(path) else os.path.abspath(path)


def build_context(args: argparse.Namespace) -> Context:
    layout = Layout.make(args.root, _abs(args.stacks), args.state_dir, args.backup_dir)
    runner = SubprocessRunner()
    compose = shlex.split(args.compose) if args.compose else None
    docker = Docker(runner, args.docker, compose or ["docker", "compose"], args.stop_timeout)
    if compose is None and args.command in ("apply", "rollback"):
        docker.compose_cmd = detect_compose(runner, args.docker)
    conn = ["-U", args.pg_user]
    if args.pg_exec == "local":
        if args.pg_host:
            conn += ["-h", args.pg_host]
        if args.pg_port:
            conn += ["-p", str(args.pg_port)]
        bindir = args.pg_bindir.rstrip("/") + "/" if args.pg_bindir else ""
        pg = Pg(runner, [], conn, bindir)
    else:
        pg = Pg(runner, docker.exec_argv(args.pg_container, []), conn)
    settings = Settings(
        router_image=args.router_image,
        router_command=tuple(shlex.split(args.router_command)),
        router_health_interval=args.router_health_interval,
        stop_timeout=args.stop_timeout,
    )
    overrides = Overrides(
        admin_allow=tuple(args.admin_allow or ()),
        trusted_proxies=tuple(args.trusted_proxy or ()),
        traefik_version=args.traefik_version,
        master_password_file=args.master_password_file,
        allow_broad_allowlist=args.allow_broad_allowlist,
    )
    return Context(
        layout=layout,
        runner=runner,
        docker=docker,
        pg=pg,
        traefik=TraefikAPI(args.traefik_api) if args.traefik_api else None,
        settings=settings,
        overrides=overrides,
        inputs_file=_abs(args.inputs) if args.inputs else None,
        helper_image=args.helper_image,
        router_url=args.router_url,
        health_timeout=args.health_timeout,
        verify_timeout=args.verify_timeout,
        verify_restore=getattr(args, "verify_restore", False),
        yes=args.yes,
        crash_at=os.environ.get(CRASH_ENV),
    )


def _load_plan(ctx: Context) -> dict[str, Any]:
    if not ctx.layout.plan_file.exists():
        raise MigrateError(f"no plan at {ctx.layout.plan_file}: run plan first", X.STALE_PLAN)
    return load_plan_file(ctx.layout.plan_file)


def cmd_inventory(ctx: Context, args: argparse.Namespace) -> int:
    inv = gather(
        ctx.layout,
        ctx.docker,
        ctx.pg,
        ctx.traefik,
        ctx.traefik_version,
        load_inputs(ctx),
        ctx.overrides,
    )
    print(json.dumps(inv.to_json(), indent=2, sort_keys=True, default=str))
    if args.snapshot:
        if ctx.traefik is None:
            raise MigrateError("--snapshot needs --traefik-api", X.USAGE)
        try:
            write_snapshot(ctx.traefik, Path(_abs(args.snapshot)))
        except TraefikError as exc:
            raise MigrateError(f"cannot take the snapshot: {exc}") from exc
        say(f"Traefik snapshot written to {args.snapshot}")
    return X.OK


def cmd_plan(ctx: Context, args: argparse.Namespace) -> int:
    if args.offline:
        return _plan_offline(ctx, args)
    if args.stage or args.traefik_snapshot:
        raise MigrateError("--stage and --traefik-snapshot go with --offline", X.USAGE)
    with hold_lock(ctx.layout, "plan"):
        plan, _, secret = make_plan(ctx)
        print(plan.to_json() if args.json else format_plan(plan), end="")
        if plan.problems:
            return X.REFUSED
        store_secret(ctx, secret)
        stage(ctx, plan)
    say(f"plan written to {ctx.layout.plan_file}")
    return X.OK


def _plan_offline(ctx: Context, args: argparse.Namespace) -> int:
    out = Path(_abs(args.stage)) if args.stage else None
    if out is not None:
        check_out(out)
    snap = read_snap(Path(_abs(args.traefik_snapshot))) if args.traefik_snapshot else None
    plan, survey = make_offline_plan(ctx, snap)
    source = survey.version.source if survey.version is not None else ""
    print(plan.to_json() if args.json else format_plan(plan, source), end="")
    if plan.problems:
        return X.REFUSED
    if out is not None:
        for note in stage_tree(survey, plan, out):
            say(note)
        say(f"the tree after apply is in {out}")
    return X.OK


def cmd_backup(ctx: Context, args: argparse.Namespace) -> int:
    with hold_lock(ctx.layout, "backup"):
        folder = backup_now(ctx)
    print(folder)
    return X.OK


def cmd_apply(ctx: Context, args: argparse.Namespace) -> int:
    plan = _load_plan(ctx)
    if plan.get("problems"):
        raise MigrateError("the plan was refused at pre-flight; fix and plan again", X.REFUSED)
    decision, last = decide(ctx, plan)  # refuses (and says what to run) before asking
    if decision == "applied" and last is not None:
        # Running it again would stop the new stack for nothing.
        say(f"plan {plan['plan_id']} was applied by run {last.run_id}: nothing to do")
        return X.OK
    if not confirm(f"apply plan {plan['plan_id']} (downtime expected)?", ctx.yes):
        return X.ABORTED
    with hold_lock(ctx.layout, "apply"):
        j = apply(ctx, plan)
    print(f"run {j.run_id} applied")
    password_notice(ctx, j)
    return X.OK


def cmd_verify(ctx: Context, args: argparse.Namespace) -> int:
    last = latest_run(ctx.layout)
    # What the last applied run set up is what must hold; otherwise the current plan's.
    plan = last.plan() if last is not None and last.state.state == APPLIED else _load_plan(ctx)
    checks = run_checks(ctx, plan["verify"])
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        print(format_checks(checks))
    return X.OK if all(c.ok for c in checks) else X.VERIFY_FAILED


def cmd_rollback(ctx: Context, args: argparse.Namespace) -> int:
    with hold_lock(ctx.layout, "rollback"):
        j = latest_run(ctx.layout)
        if j is None or j.state.state == ROLLED_BACK:
            say("nothing to roll back")
            return X.OK
        if not confirm(f"roll back run {j.run_id} (state {j.state.state})?", ctx.yes):
            return X.ABORTED
        # the run's own plan: a later plan does not change what it undoes
        rollback(ctx, j, restore_databases=args.restore_databases)
    print(f"run {j.run_id} rolled back")
    return X.OK


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    out = status(ctx)
    print(
        json.dumps(out, indent=2) if args.json else format_status(out),
        end="\n" if args.json else "",
    )
    return X.OK


def cmd_upgrade(ctx: Context, args: argparse.Namespace) -> int:
    last = latest_run(ctx.layout)
    if last is None or last.state.state != APPLIED:
        now = "no run" if last is None else f"run {last.run_id} is {last.state.state}"
        raise MigrateError(f"upgrade is phase G, after apply and verify: {now}", X.REFUSED)
    with hold_lock(ctx.layout, "upgrade"):
        t = target(ctx.layout, last.plan())
        dbs = databases(t, ctx.pg, args.databases)
        if not confirm(f"upgrade the modules of {', '.join(dbs)}?", ctx.yes):
            return X.ABORTED
        upgrade(
            t,
            dbs,
            ctx.docker,
            ctx.runner,
            say,
            args.settle,
            args.upgrade_command,
            args.upgrade_timeout,
        )
    print(f"upgraded: {', '.join(dbs)}")
    return X.OK


COMMANDS = {
    "inventory": cmd_inventory,
    "plan": cmd_plan,
    "backup": cmd_backup,
    "apply": cmd_apply,
    "verify": cmd_verify,
    "rollback": cmd_rollback,
    "status": cmd_status,
    "upgrade": cmd_upgrade,
}


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        ctx = build_context(args)
        return COMMANDS[args.command](ctx, args)
    except MigrateError as exc:
        error(str(exc))
        return exc.code
    except CommandError as exc:
        error(str(exc))
        return X.ERROR


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
