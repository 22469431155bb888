"""What in the operator's tree can hurt, named in the words an operator searches for.

Each hazard is one line starting with its name: ``default master password``, ``filestore``,
``exposedByDefault``, ``backup folder inside the watched directory``, ``@docker and @file``,
``unknown hosts``. The filestore fact lives here too: where Odoo keeps it (a docker volume
under its real name, or a host directory), which the migration must carry over untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .discover import Reader, Tree
from .edge import Edge
from .layout import Layout
from .render_odoo import WEAK_PASSWORDS

_BACKUP_COPY = re.compile(r"\.(ya?ml|toml)\.|\.(bak|orig|old|save|disabled)$|~$", re.I)
ODOO_DEFAULT_DATA_DIR = "/var/lib/odoo/.local/share/Odoo"  # ~/.local/share/Odoo of the image


@dataclass(frozen=True)
class Filestore:
    kind: str  # volume | bind | none
    data_dir: str  # inside the container
    target: str  # the mount's target
    key: str  # the volume key in the compose file, or the bind source as written
    name: str  # the docker volume's real name, or the host path
    external: bool
    source: str  # compose file:line of the mount
    host: Path | None = None  # the bind's host directory

    def describe(self) -> str:
        if self.kind == "volume":
            ext = ", already external" if self.external else ""
            return (
                f"docker volume {self.name} (key {self.key}{ext}) at {self.target}, "
                f"data_dir {self.data_dir} ({self.source})"
            )
        if self.kind == "bind":
            where = f"at {self.target}, data_dir {self.data_dir} ({self.source})"
            return f"host directory {self.name} {where}"
        return f"no mount holds data_dir {self.data_dir}: it lives in the container ({self.source})"


def find_filestore(tree: Tree, show: Callable[[Path], str] = str) -> Filestore | None:
    if tree.odoo is None:
        return None
    cf, svc = tree.odoo.cf, tree.odoo.svc
    data_dir = tree.odoo_options.get("data_dir", "").strip() or ODOO_DEFAULT_DATA_DIR
    m = svc.mount_at(data_dir)
    if m is None or m.kind == "tmpfs":
        return Filestore("none", data_dir, "", "", "", False, f"{cf.rel}:{svc.line}")
    where = f"{cf.rel}:{m.line}"
    if m.kind == "bind":
        host = m.host_path(cf.dir)
        name = show(host) if host is not None else m.source
        return Filestore("bind", data_dir, m.target, m.source, name, True, where, host)
    spec = (cf.data.get("volumes") or {}).get(m.source) or {}
    external = bool(isinstance(spec, dict) and spec.get("external"))
    return Filestore(
        "volume", data_dir, m.target, m.source, cf.volume_name(m.source), external, where
    )


def find_hazards(layout: Layout, tree: Tree, edge: Edge | None, reader: Reader) -> list[str]:
    out: list[str] = []
    if tree.odoo_conf is not None:
        conf = reader.show(tree.odoo_conf)
        pw = tree.odoo_options.get("admin_passwd")
        if pw is None:
            out.append(
                f"default master password: {conf} has no admin_passwd, so Odoo's built-in "
                "default (admin) guards the database manager"
            )
        elif pw.strip() in WEAK_PASSWORDS:
            line = tree.odoo_option_lines.get("admin_passwd", 1)
            out.append(
                f"default master password: admin_passwd = {pw.strip() or '(empty)'} in "
                f"{conf}:{line}; the new confs get a generated one (only its hash is written)"
            )
    fs = find_filestore(tree, reader.show)
    if fs is not None:
        out.append(f"filestore: {fs.describe()}; both new Odoo services keep it")
    if edge is not None and edge.static is not None and edge.static.docker:
        ebd = edge.static.exposed_by_default
        if ebd.value:
            out.append(
                f"exposedByDefault: true ({ebd.source}): every container without "
                "traefik.enable=false gets a Traefik route; the new services carry "
                "traefik.enable=false"
            )
    if edge is not None and edge.dynamic_dir is not None:
        for d in edge.dynamic_subdirs:
            out.append(
                f"backup folder inside the watched directory: {reader.show(d)} (Traefik loads "
                "every .yml/.yaml/.toml file below its directory, subfolders included): move it out"
            )
        for p in edge.dynamic_others:
            if _BACKUP_COPY.search(p.name):
                out.append(
                    f"backup copy inside the watched directory: {reader.show(p)} (skipped for "
                    "its extension today; a copy named .yml would be loaded)"
                )
    if tree.nginx is not None and "no X-Odoo-dbfilter" in tree.nginx.unknown_host:
        out.append(
            f"unknown hosts: nginx sends them to Odoo without a database filter "
            f"({tree.nginx.unknown_host}); odoo-router answers 421"
        )
    return out
