"""Find the stacks and the files the migration needs, with where each finding came from.

Rules (no stack, service or file name is assumed):
- A compose project is a directory under ``--stacks`` (three levels deep at most) holding
  ``compose.yaml``, ``compose.yml``, ``docker-compose.yaml`` or ``docker-compose.yml``
  (compose's own order of preference).
- The nginx router is the service that mounts an nginx configuration (under
  ``/etc/nginx``) that sets ``X-Odoo-dbfilter``; its configuration is read through its
  mounts: ``nginx.conf`` when mounted, else ``conf.d/*.conf``, includes followed.
- Odoo is the service whose configuration file (``-c``/``--config``, ``ODOO_RC``, else
  ``/etc/odoo/odoo.conf``) is mounted from the host and has an ``[options]`` section; when
  several are, the one the nginx router proxies to.
- Traefik is the service running the ``traefik`` image.
- ``stacks:`` / ``services:`` in the inputs file settle what the tree leaves ambiguous.
Every file read is recorded with its sha256 (the plan's inputs: apply refuses a stale plan).
"""

from __future__ import annotations

import configparser
import fnmatch
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from .compose_extras import Merged, check_merged
from .composefile import (
    COMPOSE_NAMES,
    OVERRIDE_NAMES,
    ComposeError,
    ComposeFile,
    Service,
    load_compose,
)
from .facts import Fact
from .fsops import sha256_bytes
from .inputs import Inputs
from .layout import Layout
from .nginx_parse import Resolver
from .nginxconf import NginxError, NginxFacts, read_nginx
from .traefik_sources import is_traefik

MAX_DEPTH = 3
DEFAULT_ODOO_CONF = "/etc/odoo/odoo.conf"


class Reader:
    """Reads files once and remembers each one's sha256 (None: it does not exist)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.inputs: dict[str, str | None] = {}
        self._cache: dict[Path, bytes | None] = {}

    def read(self, path: Path) -> bytes | None:
        if path not in self._cache:
            try:
                data: bytes | None = path.read_bytes() if path.is_file() else None
            except OSError:
                data = None
            self._cache[path] = data
            self.inputs[self.layout.rel(path)] = None if data is None else sha256_bytes(data)
        return self._cache[path]

    def text(self, path: Path) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "replace")

    def show(self, path: Path) -> str:
        """The name reports use: relative to the stacks directory when inside it."""
        try:
            return str(path.relative_to(self.layout.stacks))
        except ValueError:
            return self.layout.rel(path)


@dataclass
class Role:
    cf: ComposeFile
    svc: Service
    why: str

    @property
    def source(self) -> str:
        return f"{self.cf.rel}:{self.svc.line} (service {self.svc.name}: {self.why})"

    def host_of(self, target: str) -> Path | None:
        """The host path behind container path ``target`` (a bind mount), or None."""
        m = self.svc.mount_at(target)
        base = m.host_path(self.cf.dir) if m is not None else None
        if m is None or base is None:
            return None
        rest = target[len(m.target.rstrip("/")) :].lstrip("/")
        return base / rest if rest else base


@dataclass
class Tree:
    composes: list[ComposeFile] = field(default_factory=list)
    overrides: list[Path] = field(default_factory=list)
    odoo: Role | None = None
    router: Role | None = None
    traefik: Role | None = None
    odoo_conf: Path | None = None  # host path
    odoo_conf_target: str = DEFAULT_ODOO_CONF
    odoo_options: dict[str, str] = field(default_factory=dict)
    odoo_option_lines: dict[str, int] = field(default_factory=dict)
    nginx: NginxFacts | None = None
    nginx_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def find_composes(stacks: Path) -> list[tuple[Path, list[Path]]]:
    """(compose file, override files) of every project under ``stacks``."""
    out: list[tuple[Path, list[Path]]] = []
    for dirpath, dirnames, filenames in os.walk(stacks):
        here = Path(dirpath)
        depth = len(here.relative_to(stacks).parts)
        dirnames[:] = (
            sorted(d for d in dirnames if not d.startswith(".")) if depth < MAX_DEPTH else []
        )
        names = set(filenames)
        main = next((n for n in COMPOSE_NAMES if n in names), None)
        if main is not None:
            out.append((here / main, [here / n for n in OVERRIDE_NAMES if n in names]))
            dirnames[:] = []  # a project's own subdirectories hold its data, not projects
    return out


def load_projects(reader: Reader, tree: Tree) -> dict[str, str]:
    """Parse every compose file; returns {shown name: error} for those that fail."""
    broken: dict[str, str] = {}
    for path, overrides in find_composes(reader.layout.stacks):
        rel = reader.show(path)
        env = reader.text(path.parent / ".env")
        try:
            tree.composes.append(load_compose(path, rel, reader.text(path) or "", env))
        except ComposeError as exc:
            broken[rel] = str(exc)
        for o in overrides:
            reader.read(o)
            tree.overrides.append(o)
    return broken


def _conf_target(svc: Service) -> str:
    args = svc.command
    for i, a in enumerate(args):
        if a in ("-c", "--config") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
        if a.startswith("-c") and len(a) > 2 and not a.startswith("--"):
            return a[2:]
    return svc.environment.get("ODOO_RC") or DEFAULT_ODOO_CONF


def nginx_sources(role: Role, reader: Reader) -> tuple[list[tuple[str, str]], Resolver] | None:
    """The router's configuration as nginx loads it, and the include resolver; None when the
    service mounts nothing under /etc/nginx."""
    if not any(m.target.rstrip("/").startswith("/etc/nginx") for m in role.svc.mounts):
        return None

    def resolve(pattern: str) -> list[tuple[str, str]]:
        """Container path pattern -> the host files behind it, in nginx's (sorted) order."""
        target = pattern if pattern.startswith("/") else f"/etc/nginx/{pattern}"
        found: dict[str, Path] = {}
        for m in role.svc.mounts:  # files mounted one by one
            src = m.host_path(role.cf.dir)
            if src is not None and fnmatch.fnmatchcase(m.target, target):
                found[m.target] = src
        folder, name = os.path.split(target)
        host_dir = role.host_of(folder)
        if host_dir is not None and host_dir.is_dir():
            for p in glob.glob(str(host_dir / name)):
                found.setdefault(f"{folder}/{os.path.basename(p)}", Path(p))
        out = []
        for _, path in sorted(found.items()):
            text = reader.text(path)
            if text is not None:
                out.append((reader.show(path), text))
        return out

    main = resolve("/etc/nginx/nginx.conf") or resolve("/etc/nginx/conf.d/*.conf")
    return main, resolve


def _odoo_conf(cf: ComposeFile, svc: Service, reader: Reader) -> tuple[Path | None, str]:
    target = _conf_target(svc)
    host = Role(cf, svc, "").host_of(target)
    if host is None:
        return None, target
    text = reader.text(host)
    return (host if text is not None and "[options]" in text else None), target


def _pick(
    what: str, found: list[Role], named: Fact[str] | None, hint: str, tree: Tree
) -> Role | None:
    if len(found) == 1:
        return found[0]
    if not found:
        tree.problems.append(f"no {what} found{' in ' + named.source if named else ''}; {hint}")
        return None
    tree.problems.append(
        f"{len(found)} services could be the {what}: "
        + "; ".join(r.source for r in found)
        + f"; {hint}"
    )
    return None


def _restrict(found: list[Role], role: str, inputs: Inputs, stacks: Path) -> list[Role]:
    d, s = inputs.stacks.get(role), inputs.services.get(role)
    if d is not None:
        want = (stacks / d.value).resolve()
        found = [r for r in found if r.cf.dir.resolve() == want]
    if s is not None:
        found = [r for r in found if r.svc.name == s.value]
    return found


def discover(layout: Layout, inputs: Inputs, reader: Reader) -> Tree:
    tree = Tree()
    broken = load_projects(reader, tree)
    stacks = layout.stacks
    for role in ("odoo", "router", "traefik"):
        d = inputs.stacks.get(role)
        if d is not None and not any(
            c.dir.resolve() == (stacks / d.value).resolve() for c in tree.composes
        ):
            tree.problems.append(
                f"{d.source}: no compose project in {d.value!r} under {layout.rel(stacks)}"
            )
    traefiks, routers, odoos = [], [], []
    sources: dict[int, tuple[list[tuple[str, str]], Resolver]] = {}
    for cf in tree.composes:
        for svc in cf.services.values():
            if is_traefik(svc):
                traefiks.append(Role(cf, svc, f"image {svc.image}"))
                continue
            src = nginx_sources(Role(cf, svc, ""), reader)
            if src is not None and any("x-odoo-dbfilter" in t.lower() for _, t in src[0]):
                router = Role(cf, svc, "nginx config " + ", ".join(n for n, _ in src[0]))
                routers.append(router)
                sources[id(router)] = src
                continue
            conf, target = _odoo_conf(cf, svc, reader)
            if conf is not None:
                odoos.append(Role(cf, svc, f"mounts {reader.show(conf)} at {target}"))
    tree.router = _pick(
        "nginx database router (a service whose nginx config sets X-Odoo-dbfilter)",
        _restrict(routers, "router", inputs, stacks),
        inputs.stacks.get("router"),
        "name it in the inputs file: stacks.router (and services.router)",
        tree,
    )
    if tree.router is not None:
        main, resolve = sources[id(tree.router)]
        tree.nginx_files = [n for n, _ in main]
        try:
            tree.nginx = read_nginx(main, resolve)
        except NginxError as exc:
            tree.problems.append(str(exc))
    odoos = _restrict(odoos, "odoo", inputs, stacks)
    if len(odoos) > 1 and tree.nginx is not None:
        upstream_hosts = {
            s.rsplit(":", 1)[0] for f in tree.nginx.upstreams.values() for s in f.value
        }
        proxied = [r for r in odoos if _names(r) & upstream_hosts]
        odoos = proxied or odoos
    tree.odoo = _pick(
        "Odoo service (one mounting an odoo.conf with [options])",
        odoos,
        inputs.stacks.get("odoo"),
        "name it in the inputs file: stacks.odoo (and services.odoo)",
        tree,
    )
    tree.traefik = _pick(
        "Traefik service (image traefik)",
        _restrict(traefiks, "traefik", inputs, stacks),
        inputs.stacks.get("traefik"),
        "name it in the inputs file: stacks.traefik",
        tree,
    )
    if tree.odoo is not None:
        _read_odoo_conf(tree, tree.odoo, reader)
    if broken and tree.problems:
        # A role not found next to a file that does not parse: the file is the news.
        missing = [p for p in tree.problems if p.startswith("no ")]
        tree.problems = [p for p in tree.problems if p not in missing] + [
            f"{msg} (so it could not be searched for the {', '.join(_roles(missing))})"
            for _, msg in sorted(broken.items())
        ]
    else:
        tree.warnings += [msg for _, msg in sorted(broken.items())]
    roles = ((tree.odoo, "Odoo"), (tree.router, "nginx router"))
    merged = Merged(
        composes=tree.composes,
        overrides=tree.overrides,
        migrated={(r.cf.dir, r.svc.name): name for r, name in roles if r is not None},
        odoo=(tree.odoo.cf, tree.odoo.svc.name) if tree.odoo is not None else None,
        roles_found=tree.odoo is not None and tree.router is not None,
        text=reader.text,
        show=reader.show,
    )
    check_merged(merged)
    tree.problems += merged.problems
    tree.warnings += merged.warnings
    return tree


def _roles(missing: list[str]) -> list[str]:
    names = {"Odoo service": "Odoo service", "nginx database router": "nginx router"}
    found = [v for k, v in names.items() if any(k in m for m in missing)]
    return found + (["Traefik service"] if any("Traefik" in m for m in missing) else [])


def _names(role: Role) -> set[str]:
    """Names the service answers to on its networks."""
    out = {role.svc.name, role.cf.container(role.svc.name)}
    if role.svc.container_name:
        out.add(role.svc.container_name)
    return out


def _read_odoo_conf(tree: Tree, role: Role, reader: Reader) -> None:
    conf, target = _odoo_conf(role.cf, role.svc, reader)
    tree.odoo_conf, tree.odoo_conf_target = conf, target
    if conf is None:
        return
    cp = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#", ";"))
    text = reader.text(conf) or ""
    try:
        cp.read_string(text)
    except configparser.Error as exc:
        tree.problems.append(f"{reader.show(conf)}: cannot read: {exc}")
        return
    tree.odoo_options = dict(cp["options"]) if cp.has_section("options") else {}
    section = False
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s.startswith("["):
            section = s == "[options]"
        elif section and "=" in s and not s.startswith(("#", ";")):
            tree.odoo_option_lines.setdefault(s.split("=", 1)[0].strip(), n)
