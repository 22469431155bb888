"""The I/O half of planning: the inputs file, the master password, the live checks (the
dbfilter module, disk space, networks, the router image), staging the plan.

``make_plan`` (live) and ``make_offline_plan`` run the same survey and the same render;
the live one adds what only the server can tell. Neither writes anything: ``stage`` (live)
and offline.py do, once the plan is known to pass.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
from pathlib import Path
from typing import Any

from . import exitcodes as X
from .context import Context
from .coverage import discovered, fingerprint
from .edge import RouterDef
from .exitcodes import MigrateError
from .facts import Fact, allowlist_problems
from .fsops import sha256_file, write_atomic
from .inputs import Inputs, InputsError, parse_inputs
from .inventory import Inventory, gather
from .plan import LiveFacts, Plan, Secret, build_plan
from .render_odoo import DBFILTER_MODULE, generate_password, hash_admin_password
from .runner import CommandError
from .survey import Survey, survey
from .traefik_model import RoutingTable


def load_inputs(ctx: Context) -> Inputs:
    """The inputs file, or no inputs at all; exit 3 with every problem of a bad file."""
    if not ctx.inputs_file:
        return Inputs()
    path = Path(ctx.inputs_file)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise MigrateError(f"{path}: cannot read the inputs file: {exc}", X.REFUSED) from exc
    try:
        return parse_inputs(text, path.name)
    except InputsError as exc:
        raise MigrateError(str(exc), X.REFUSED) from exc


def load_secret(ctx: Context, inputs: Inputs, live: bool) -> tuple[Secret, dict[str, Any] | None]:
    """(the secret, what to store in secrets.json once the plan passes, None: nothing).

    A generated password is generated once and kept (0600): ``plan`` is repeatable and the
    operator reads it there. A password file is read under ``--root``; offline, an unreadable
    file gives a throwaway hash (the staged confs are for review) and a warning."""
    path = ctx.layout.secrets_file
    kept: dict[str, Any] = {}
    if path.is_file():
        kept = json.loads(path.read_text("utf-8"))
    file_name = ctx.overrides.master_password_file
    source = "--master-password-file"
    if (
        file_name is None
        and inputs.master_password is not None
        and inputs.master_password.value != "generate"
    ):
        file_name, source = inputs.master_password.value, inputs.master_password.source
    if file_name is None:
        if kept.get("admin_passwd") and kept.get("generated") is True:
            return Secret(
                kept["admin_passwd"],
                kept["admin_passwd_hash"],
                f"generated, kept in {ctx.layout.rel(path)}",
            ), None
        password = generate_password()
        digest = hash_admin_password(password)
        new = {"admin_passwd": password, "admin_passwd_hash": digest, "generated": True}
        return Secret(password, digest, f"generated, kept in {ctx.layout.rel(path)}"), new
    host = _password_path(ctx, file_name, source)
    try:
        password = host.read_text("utf-8").strip()
    except OSError as exc:
        if live:
            raise MigrateError(f"{source}: cannot read {file_name}: {exc}", X.REFUSED) from exc
        throwaway = generate_password()
        return Secret(
            throwaway,
            hash_admin_password(throwaway),
            f"{file_name} (not readable here: a throwaway hash is staged)",
        ), None
    where = f"{file_name} ({source})"
    if kept.get("admin_passwd") == password and kept.get("admin_passwd_hash"):
        return Secret(password, kept["admin_passwd_hash"], where), None
    digest = hash_admin_password(password)
    new = {"admin_passwd": password, "admin_passwd_hash": digest, "generated": False}
    return Secret(password, digest, where), new


def _password_path(ctx: Context, name: str, source: str) -> Path:
    """A path on this machine: relative ones from the inputs file's folder (or the working
    directory for the command-line option)."""
    path = Path(name)
    if path.is_absolute():
        return path
    if source != "--master-password-file" and ctx.inputs_file:
        return Path(ctx.inputs_file).parent / path
    return Path.cwd() / path


def store_secret(ctx: Context, new: dict[str, Any] | None) -> None:
    if new is None:
        return
    path = ctx.layout.secrets_file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, (json.dumps(new, indent=2) + "\n").encode(), mode=0o600)
    os.chmod(path, 0o600)


def dbfilter_on_host(s: Survey) -> str | None:
    """Where dbfilter_from_header is in a host directory mounted on an addons_path entry."""
    t = s.tree
    if t.odoo is None:
        return None
    paths = [p.strip() for p in t.odoo_options.get("addons_path", "").split(",") if p.strip()]
    for p in paths:
        host = t.odoo.host_of(p.rstrip("/"))
        if host is not None and (host / DBFILTER_MODULE / "__manifest__.py").is_file():
            return s.show(host / DBFILTER_MODULE)
    return None


def _dbfilter_in_image(ctx: Context, s: Survey, image: str | None) -> tuple[str | None, str | None]:
    paths = [p.strip() for p in s.tree.odoo_options.get("addons_path", "").split(",") if p.strip()]
    if image is None:
        return None, "the Odoo image is unknown (is the container there?)"
    try:
        if ctx.docker.image_has_file(
            image, [f"{p}/{DBFILTER_MODULE}/__manifest__.py" for p in paths]
        ):
            return f"{image}:{DBFILTER_MODULE}", None
    except (CommandError, OSError) as exc:
        return None, str(exc)
    return None, f"not in {', '.join(paths)} (host mounts nor image {image})"


def _backup_estimate(ctx: Context, inv: Inventory) -> tuple[int | None, int | None]:
    need = sum(inv.db_sizes.values())
    if inv.data_bind:
        for dirpath, _, names in os.walk(inv.data_bind):
            need += sum((Path(dirpath) / n).lstat().st_size for n in names)
    image = ctx.helper_image or inv.odoo_image
    if inv.data_volume and image:
        try:
            need += ctx.docker.volume_kib(inv.data_volume, image) * 1024
        except (CommandError, OSError, ValueError):
            return None, None
    probe = ctx.layout.backups
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return need, shutil.disk_usage(probe).free


def _live_checks(ctx: Context, inv: Inventory) -> LiveFacts:
    s = inv.survey
    live = LiveFacts(databases=inv.databases, projects=inv.projects, odoo_image=inv.odoo_image)
    live.problems += [
        f"{src}: {inv.errors[src]}" for src in ("docker", "postgres") if src in inv.errors
    ]
    module = dbfilter_on_host(s)
    error = None
    if module is None and "docker" not in inv.errors:
        module, error = _dbfilter_in_image(ctx, s, inv.odoo_image)
    live.dbfilter_module, live.dbfilter_error = module, error
    if module is None:
        live.problems.append(
            f"dbfilter_from_header is not available to the Odoo image ({error or 'not found'}): "
            "without it Odoo ignores X-Odoo-dbfilter and every host sees every database"
        )
    live.backup_bytes, live.free_bytes = _backup_estimate(ctx, inv)
    if live.backup_bytes is not None and live.free_bytes is not None:
        need = int(live.backup_bytes * 1.2) + (64 << 20)
        if live.free_bytes < need:
            live.problems.append(
                f"too little disk for the backups: {live.free_bytes >> 20} MiB free in "
                f"{ctx.layout.rel(ctx.layout.backups)}, about {need >> 20} MiB needed"
            )
    if "docker" not in inv.errors:
        image = ctx.settings.router_image
        if not ctx.docker.image_exists(image):
            live.problems.append(
                f"image {image} is not on this host: build it before the downtime "
                f"(docker build -t {image} . in an odoo-router checkout)"
            )
        live.problems += _network_problems(inv, s, ctx.overrides.allow_broad_allowlist)
    fs = s.filestore
    if fs is not None and fs.kind == "volume" and inv.data_volume and inv.data_volume != fs.name:
        live.problems.append(
            f"filestore: the compose file says volume {fs.name} ({fs.source}) but the running "
            f"container uses {inv.data_volume}"
        )
    return live


def _network_problems(inv: Inventory, s: Survey, broad_ok: bool) -> list[str]:
    """Traefik reaches the router over the networks they share: unless those are trusted
    proxies the router takes Traefik's address for the client's; and the allowlist must not
    cover them (published ports show the bridge gateway as the client)."""
    out: list[str] = []
    t, r = s.tree, s.routing
    if t.router is None or t.traefik is None:
        return out
    shared = {t.router.cf.network_name(n) for n in t.router.svc.networks} & {
        t.traefik.cf.network_name(n) for n in t.traefik.svc.networks
    }
    trusted = [ipaddress.ip_network(n, strict=False) for n in r.trusted_proxies.value]
    for net in sorted(shared):
        subnets = inv.networks.get(net)
        if subnets is None:
            out.append(f"docker network {net} does not exist (the compose files use it)")
            continue
        for sub in subnets:
            n = ipaddress.ip_network(sub, strict=False)
            if not any(n.version == x.version and n.subnet_of(x) for x in trusted):  # type: ignore[arg-type]
                out.append(
                    f"docker network {net} ({sub}) is not within the trusted proxies "
                    f"({r.trusted_proxies.source}): add it to trusted_proxies in the inputs"
                )
    traefik_nets = {t.traefik.cf.network_name(n) for n in t.traefik.svc.networks}
    edge_nets = {n: v for n, v in inv.networks.items() if n in traefik_nets and v}
    if r.admin_allow is not None:
        found = allowlist_problems(
            r.admin_allow.value, r.admin_allow.source, edge_nets, broad_ok, r.admin_allow_at
        )
        out += [p for p in found if p not in s.problems]
    return out


def make_plan(ctx: Context) -> tuple[Plan, Inventory, dict[str, Any] | None]:
    """The live plan; (plan, inventory, the secret to store once the plan passes)."""
    inputs = load_inputs(ctx)
    inv = gather(
        ctx.layout, ctx.docker, ctx.pg, ctx.traefik, ctx.traefik_version, inputs, ctx.overrides
    )
    secret, new = load_secret(ctx, inputs, live=True)
    plan = build_plan(inv.survey, ctx.settings, secret, _live_checks(ctx, inv), inv.traefik_table)
    _record_password_file(ctx, inputs, plan)
    # Every file apply's backup copies and its stale check compares (coverage.py): each
    # stack's compose files and .env, Traefik's static config, every watched file.
    found = fingerprint(ctx.layout, discovered(ctx.layout, plan.watched))
    plan.inputs = dict(sorted({**found, **plan.inputs}.items()))
    return plan, inv, new


def make_offline_plan(
    ctx: Context, snap: tuple[Fact[str], list[RouterDef], RoutingTable] | None
) -> tuple[Plan, Survey]:
    """The same plan without a server: no Docker, no PostgreSQL, no Traefik API. ``snap``:
    the snapshot's version, routers and table (``--traefik-snapshot``)."""
    inputs = load_inputs(ctx)
    running, _, table = snap if snap is not None else (None, None, None)
    s = survey(ctx.layout, inputs, ctx.overrides, running)
    secret, _ = load_secret(ctx, inputs, live=False)
    plan = build_plan(s, ctx.settings, secret, None, table)
    if dbfilter_on_host(s) is None:
        plan.warnings.append(
            "dbfilter_from_header was not found in the host's addons directories: the live "
            "plan looks for it inside the Odoo image"
        )
    return plan, s


def _record_password_file(ctx: Context, inputs: Inputs, plan: Plan) -> None:
    name = ctx.overrides.master_password_file
    if (
        name is None
        and inputs.master_password is not None
        and inputs.master_password.value != "generate"
    ):
        name = inputs.master_password.value
    if name is not None:
        src = "--master-password-file" if ctx.overrides.master_password_file else "inputs"
        path = _password_path(ctx, name, src)
        plan.inputs[ctx.layout.rel(path)] = sha256_file(path)


def stage(ctx: Context, plan: Plan) -> None:
    """Rendered files into the staging folder, then the plan file (last: it commits)."""
    staging = ctx.layout.staging
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    for role, data in plan.rendered.items():
        write_atomic(staging / role, data, mode=0o600)
    write_atomic(ctx.layout.plan_file, plan.to_json().encode(), mode=0o600)
