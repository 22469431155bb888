"""The I/O half of planning: secrets, the dbfilter module, disk space, staging the plan."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .context import Context
from .coverage import discovered, fingerprint
from .fsops import write_atomic
from .inventory import Inventory, gather
from .plan import Facts, Plan, build_plan
from .render_odoo import DBFILTER_MODULE, generate_password, hash_admin_password, read_options
from .runner import CommandError


def load_secrets(ctx: Context) -> tuple[str, str]:
    """(password, hash); generated once and kept (0600) so that plan is repeatable."""
    path = ctx.layout.secrets_file
    given = None
    if ctx.password_file:
        given = Path(ctx.password_file).read_text("utf-8").strip()
    if path.exists():
        data = json.loads(path.read_text("utf-8"))
        if given is None or given == data["admin_passwd"]:
            return str(data["admin_passwd"]), str(data["admin_passwd_hash"])
    password = given if given is not None else generate_password()
    if not password or password in ("changeme",):
        return password, ""  # plan refuses; nothing stored
    secret = {
        "admin_passwd": password,
        "admin_passwd_hash": hash_admin_password(password),
        "generated": given is None,  # apply shows a generated one once, on a terminal
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, (json.dumps(secret, indent=2) + "\n").encode(), mode=0o600)
    os.chmod(path, 0o600)
    return password, str(secret["admin_passwd_hash"])


def find_dbfilter_module(ctx: Context, inv: Inventory) -> tuple[str | None, str | None]:
    """Where dbfilter_from_header lives: a bind-mounted addons dir on the host, or the image."""
    conf = inv.files["odoo_conf"]
    if conf.data is None:
        return None, "no odoo.conf"
    paths = [
        p.strip() for p in read_options(conf.text).get("addons_path", "").split(",") if p.strip()
    ]
    mounts: dict[str, Path] = {}
    for svcs in inv.compose_services.values():
        for s in svcs:
            if s.container_name != inv.odoo_container:
                continue
            for v in s.volumes:
                parts = v.split(":")
                if len(parts) >= 2 and parts[0].startswith((".", "/")):
                    src = parts[0]
                    host = ctx.layout.odoo_dir / src if src.startswith(".") else Path(src)
                    mounts[parts[1].rstrip("/")] = host
    for p in paths:
        for target, host in mounts.items():
            if p == target or p.startswith(target + "/"):
                candidate = (
                    host / p[len(target) :].lstrip("/") / DBFILTER_MODULE / "__manifest__.py"
                )
                if candidate.is_file():
                    return ctx.layout.rel(candidate.parent), None
    image = inv.odoo_image
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


def backup_estimate(ctx: Context, inv: Inventory) -> tuple[int | None, int | None]:
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


def make_plan(ctx: Context) -> tuple[Plan, Inventory]:
    inv = gather(ctx.layout, ctx.docker, ctx.pg, ctx.traefik, ctx.traefik_version)
    if "docker" not in inv.errors:
        # No registry pull in the middle of the downtime: the router image must be here.
        image = ctx.settings.router_image
        inv.images[image] = ctx.docker.image_exists(image)
    password, pw_hash = load_secrets(ctx)
    module, module_error = find_dbfilter_module(ctx, inv)
    need, free = backup_estimate(ctx, inv)
    facts = Facts(password, pw_hash, module, module_error, need, free)
    plan = build_plan(ctx.layout, inv, facts, ctx.settings)
    # Every file apply's backup copies and its stale check compares (coverage.py): each
    # stack's compose files and .env, Traefik's static config, every watched file.
    found = fingerprint(ctx.layout, discovered(ctx.layout, plan.watched))
    plan.inputs = dict(sorted({**found, **plan.inputs}.items()))
    return plan, inv


def stage(ctx: Context, plan: Plan) -> None:
    """Rendered files into the staging folder, then the plan file (last: it commits)."""
    staging = ctx.layout.staging
    staging.mkdir(parents=True, exist_ok=True)
    for role, data in plan.rendered.items():
        write_atomic(staging / role, data, mode=0o600)
    write_atomic(ctx.layout.plan_file, plan.to_json().encode(), mode=0o600)
