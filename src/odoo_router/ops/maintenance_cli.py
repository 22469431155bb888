"""``odoo-router maintenance on|off|list --config FILE [DB ...] [--until TIME] [--force|--all]``.

Rules
-----
* The file is router.yaml's ``maintenance.file``; without that key there is nothing to do
  (an error saying which key to add).
* Every input is checked before anything is written; a refusal changes nothing.
* A database name no host rule of router.yaml routes to is refused (``--force`` takes it
  anyway, e.g. a tenant about to be added): a typo would otherwise leave the real tenant
  online while the operator believes it is out. Whether a rule routes to it is read from
  the host rules' ``dbfilter``: a literal name, or a template (``ten_{sub}``) whose
  placeholders stand for any text.
* ``off`` takes the databases named, or every one with ``--all`` (never by default).
* ``--until`` in the past is refused (the tenant would not be in maintenance at all).
"""

from __future__ import annotations

import errno
import getpass
import os
import re
import socket
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ..configuration.model import Config
from .maintenance import (
    DB_NAME,
    Entry,
    active,
    now_utc,
    parse_time,
    read_state,
    switch_off,
    switch_on,
)

Say = Callable[[str], None]
T = TypeVar("T")


class MaintenanceError(Exception):
    """Bad input or an unwritable file: the message says which; nothing was changed."""


def known_databases(config: Config) -> tuple[set[str], list[re.Pattern[str]]]:
    """The databases router.yaml routes to: literal names, and the templates' patterns."""
    names: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for rule in config.hosts:
        template = rule.dbfilter
        if not template:
            continue
        if "{" not in template:
            names.add(template)
            continue
        parts = re.split(r"\{[^{}]*\}", template)
        patterns.append(re.compile(".+".join(re.escape(p) for p in parts)))
    return names, patterns


def check_names(config: Config, dbs: list[str], force: bool) -> None:
    bad = [db for db in dbs if DB_NAME.fullmatch(db) is None]
    if bad:
        raise MaintenanceError(
            f"not a database name: {', '.join(repr(b) for b in bad)} "
            "(letters, digits, _ . - ; at most 63)"
        )
    names, patterns = known_databases(config)
    unknown = [db for db in dbs if db not in names and not any(p.fullmatch(db) for p in patterns)]
    if unknown and not force:
        raise MaintenanceError(
            f"no host rule of {config.source} routes to {', '.join(unknown)} "
            "(check the name; --force to take it anyway)"
        )


def operator() -> str:
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"{user}@{socket.gethostname()}"


def describe(db: str, e: Entry, now: datetime) -> str:
    parts = [db, f"since {e.since.isoformat()}"]
    if e.until is not None:
        left = int((e.until - now).total_seconds())
        parts.append(
            f"until {e.until.isoformat()} (in {left // 60}m{left % 60:02d}s)"
            if left > 0
            else f"until {e.until.isoformat()} (over: back online)"
        )
    if e.by:
        parts.append(f"by {e.by}")
    return "  ".join(parts)


def run_maintenance(
    config: Config,
    action: str,
    dbs: list[str],
    until: str | None,
    force: bool,
    say: Say,
    now: datetime | None = None,
    every: bool = False,
) -> None:
    """The subcommand; raises MaintenanceError (or StateError) with nothing changed."""
    path = config.maintenance.file
    if path is None:
        raise MaintenanceError(
            f"{config.source} has no maintenance file: add `maintenance: {{file: PATH}}`"
        )
    now = now or now_utc()
    if every and action != "off":
        raise MaintenanceError("--all goes with off")
    if force and action != "on":
        raise MaintenanceError("--force goes with on")
    if action == "list":
        if dbs or until:
            raise MaintenanceError("list takes no database and no --until")
        entries = read_state(path)
        on = active(entries, now)
        shown = [describe(db, e, now) for db, e in sorted(entries.items()) if db in on]
        say("\n".join(shown) if shown else "no tenant in maintenance")
        return
    if action == "on":
        if not dbs:
            raise MaintenanceError("on: name at least one database")
        check_names(config, dbs, force)
        end = parse_time(until, now) if until is not None else None
        if end is not None and end <= now:
            raise MaintenanceError(
                f"--until {until}: {end.isoformat()} is not in the future "
                "(the tenant would not be in maintenance at all)"
            )
        _write(path, lambda: switch_on(path, dbs, end, operator(), now))
        for db in dbs:
            say(f"{db}: in maintenance" + (f" until {end.isoformat()}" if end else ""))
        return
    if action == "off":
        if until is not None:
            raise MaintenanceError("off takes no --until")
        if not dbs and not every:
            raise MaintenanceError("off: name the databases, or --all for every tenant")
        if dbs and every:
            raise MaintenanceError("off: databases or --all, not both")
        bad = [db for db in dbs if DB_NAME.fullmatch(db) is None]
        if bad:
            raise MaintenanceError(f"not a database name: {', '.join(repr(b) for b in bad)}")
        _, missing = _write(path, lambda: switch_off(path, dbs or None, now))
        for db in dbs:
            say(f"{db}: " + ("was not in maintenance" if db in missing else "back online"))
        if not dbs:
            say("every tenant back online")
        return
    raise MaintenanceError(f"unknown action {action!r} (on, off, list)")


def _write(path: str, act: Callable[[], T]) -> T:
    try:
        return act()
    except OSError as exc:
        why = f"{exc.strerror or exc} (nothing was changed)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            why += _owner_hint(os.path.dirname(os.path.abspath(path)))
        raise MaintenanceError(f"cannot write {path}: {why}") from exc


def _owner_hint(directory: str) -> str:
    """Who owns the directory and who runs: in the container the command runs as the
    image's user (uid 10001), and a state directory Docker created for a bind mount is
    root's."""
    try:
        owner = os.stat(directory).st_uid
    except OSError:
        return ""
    me = os.geteuid()
    return (
        f"; {directory} belongs to uid {owner} and this runs as uid {me}: "
        f"make it writable for uid {me} (on the host of a container: chown {me} on the "
        "mounted directory, docs/maintenance.md)"
    )
