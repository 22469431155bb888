"""Command line: argv -> validated Config -> action. The only place that exits the process.

odoo-router --config router.yaml                 serve (also: odoo-router serve ...)
odoo-router check --config router.yaml           validate, print every problem, exit 0/2
odoo-router explain --config F HOST PATH [...]   print the routing decision
odoo-router routes --config F                    print the routing table
odoo-router reload --pid-file F                  send SIGHUP to a running master
odoo-router hash-password                        make a basic-auth hash for router.yaml
odoo-router probe [URL]                          health probe for Docker (exit 0/1)
odoo-router maintenance on|off|list --config F [DB ...] [--until TIME]
                                                 take tenants out (503) and back
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys

from ..configuration.validate import Config, ConfigError, load_config

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        sys.exit(EXIT_CONFIG)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="odoo-router", description="Odoo-aware multi-tenant reverse proxy"
    )
    p.add_argument("--config", help="router.yaml to serve")
    p.add_argument("--pid-file", help="write the master's pid here (for reload)")
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="serve (the default)")
    s.add_argument("--config", required=True)
    s.add_argument("--pid-file")
    c = sub.add_parser("check", help="validate a config and exit 0, or 2 with every problem")
    c.add_argument("--config", required=True)
    e = sub.add_parser("explain", help="print the decision for a host and path")
    e.add_argument("--config", required=True)
    e.add_argument("host")
    e.add_argument("path")
    e.add_argument("--method", default="GET")
    e.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    e.add_argument("--client-ip", default="127.0.0.1", help="the connecting peer's address")
    r = sub.add_parser("routes", help="print the routing table")
    r.add_argument("--config", required=True)
    rl = sub.add_parser("reload", help="ask a running router to reload its config (SIGHUP)")
    rl.add_argument("--pid-file", required=True)
    sub.add_parser("hash-password", help="hash a basic-auth password for router.yaml")
    m = sub.add_parser("maintenance", help="take tenants out of service (503) and back in")
    m.add_argument("action", choices=("on", "off", "list"))
    m.add_argument("databases", nargs="*", metavar="DB")
    m.add_argument("--config", required=True)
    m.add_argument("--until", metavar="TIME", help="ISO 8601 with offset, or 30m, 2h, 1d")
    m.add_argument("--force", action="store_true", help="on: a database no host routes to")
    m.add_argument("--all", action="store_true", help="off: every tenant")
    pr = sub.add_parser("probe", help="exit 0 when URL answers 200 (Docker HEALTHCHECK)")
    pr.add_argument("url", nargs="?", default="http://127.0.0.1/nginx-health")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "serve":
        if not args.config:
            _parser().error("--config is required")
        from .app import ListenError, block_signals, run

        block_signals()  # first: a signal during start-up is handled once serving, not fatal
        config = _load(args.config)
        try:
            code = run(config, args.config, args.pid_file)
        except ListenError as exc:
            print(f"odoo-router: {exc}", file=sys.stderr)
            sys.exit(EXIT_CONFIG)
        sys.exit(code)
    if command == "check":
        config = _load(args.config)
        hosts = len(config.hosts)
        routes = sum(len(h.routes) for h in config.hosts)
        print(f"{args.config}: ok ({hosts} host rules, {routes} routes, {len(config.pools)} pools)")
        sys.exit(EXIT_OK)
    if command == "explain":
        from ..routing.explain import explain

        try:
            print(
                explain(
                    _load(args.config),
                    args.host,
                    args.path,
                    args.method,
                    args.header,
                    args.client_ip,
                )
            )
        except ValueError as exc:
            print(f"explain: {exc}", file=sys.stderr)
            sys.exit(EXIT_CONFIG)
        sys.exit(EXIT_OK)
    if command == "routes":
        from ..routing.explain import render_routes

        print(render_routes(_load(args.config)))
        sys.exit(EXIT_OK)
    if command == "reload":
        try:
            with open(args.pid_file, encoding="ascii") as fh:
                pid = int(fh.read().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            print(f"reload: {exc}", file=sys.stderr)
            sys.exit(EXIT_FAIL)
        sys.exit(EXIT_OK)
    if command == "hash-password":
        from ..security.passwords import hash_password

        password = (
            getpass.getpass("password: ")
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\n")
        )
        if not password:
            print("hash-password: empty password", file=sys.stderr)
            sys.exit(EXIT_FAIL)
        print(hash_password(password))
        sys.exit(EXIT_OK)
    if command == "maintenance":
        from .maintenance import StateError
        from .maintenance_cli import MaintenanceError, run_maintenance

        config = _load(args.config)
        try:
            run_maintenance(
                config,
                args.action,
                args.databases,
                args.until,
                args.force,
                print,
                every=args.all,
            )
        except (MaintenanceError, StateError) as exc:
            print(f"maintenance: {exc}", file=sys.stderr)
            sys.exit(EXIT_FAIL)
        sys.exit(EXIT_OK)
    if command == "probe":
        from .probe import main as probe_main

        sys.exit(probe_main([args.url]))


if __name__ == "__main__":
    main()
