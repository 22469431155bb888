"""Every file the migration writes, rendered from the survey, pure: where each one goes
(next to the files discovery found), and its new content.

Roles: ``tenant_conf``/``admin_conf`` (next to Odoo's conf), ``router_yaml`` (the router
project's ``odoo-router/`` directory), ``odoo_compose`` and ``router_compose`` (one role when
the router lives in Odoo's project), ``dynamic:<path>`` (``/`` as ``:``) for each file of Traefik's
directory that changes. The same survey and settings give the same bytes, live or offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError
from .composefile import ComposeFile
from .render_compose import ADMIN, TENANT, SplitSpec, declare_external, split_odoo_compose
from .render_odoo import render_admin_conf, render_tenant_conf
from .render_router import RouterComposeSpec, RouterSpec, edit_router_compose, render_router_yaml
from .render_traefik import EdgeSpec, OdooHosts, edit_dynamic, needs_edit
from .survey import Survey
from .yamledit import RoundTripError, YamlDoc, load_roundtrip

ROUTER_DIR = "odoo-router"


@dataclass(frozen=True)
class Settings:
    router_image: str = "odoo-router:latest"
    router_command: tuple[str, ...] = ()  # () keeps the image's ENTRYPOINT/CMD
    router_health_interval: str = "10s"
    stop_timeout: int = 30


@dataclass
class RenderedFile:
    role: str
    path: Path
    data: bytes
    like: Path | None = None  # a new file takes this file's mode and owner


@dataclass
class Rendered:
    files: dict[str, RenderedFile] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    router: RouterSpec | None = None
    router_service: str | None = None  # the Traefik service that reaches the router

    def add(self, role: str, path: Path, text: str, like: Path | None = None) -> None:
        self.files[role] = RenderedFile(role, path, text.encode("utf-8"), like)


def _rel_source(path: Path, base: Path) -> str:
    rel = os.path.relpath(path, base)
    return rel if rel.startswith("..") or rel.startswith("/") else f"./{rel}"


def router_spec(s: Survey) -> RouterSpec:
    opts = s.tree.odoo_options
    http = opts.get("http_port", "8069").strip() or "8069"
    gevent = (opts.get("gevent_port") or opts.get("longpolling_port") or "8072").strip()
    nginx = s.tree.nginx
    return RouterSpec(
        pools={
            "tenant": (f"{TENANT}:{http}",),
            "tenant_lp": (f"{TENANT}:{gevent}",),
            "admin": (f"{ADMIN}:{http}",),
            "admin_lp": (f"{ADMIN}:{gevent}",),
        },
        listen_port=nginx.listen_port if nginx else 80,
        health_path=nginx.health_path.value if nginx and nginx.health_path else "/nginx-health",
        client_max_body_size=(nginx.client_max_body_size if nginx else None) or "50m",
        nginx_files=tuple(s.tree.nginx_files),
    )


def render_all(s: Survey, settings: Settings, admin_hash: str) -> Rendered:
    out = Rendered()
    t = s.tree
    if t.odoo is None or t.router is None or t.odoo_conf is None or t.nginx is None:
        return out  # discovery said why
    conf_dir = t.odoo_conf.parent
    conf_text = s.text(t.odoo_conf)
    out.add(
        "tenant_conf",
        conf_dir / "odoo-tenant.conf",
        render_tenant_conf(conf_text, admin_hash),
        t.odoo_conf,
    )
    out.add(
        "admin_conf",
        conf_dir / "odoo-admin.conf",
        render_admin_conf(conf_text, admin_hash),
        t.odoo_conf,
    )
    spec = out.router = router_spec(s)
    router_yaml = t.router.cf.dir / ROUTER_DIR / "router.yaml"
    try:
        out.add("router_yaml", router_yaml, render_router_yaml(s.routing, spec))
    except ConfigError as exc:
        out.problems.append(f"the rendered router.yaml does not validate:\n{exc}")
    _compose(s, settings, out)
    if s.edge is not None and s.version is not None:
        _dynamic(s, out)
    return out


def _load(s: Survey, cf: ComposeFile) -> YamlDoc:
    return load_roundtrip(s.text(cf.path), cf.rel)


def _compose(s: Survey, settings: Settings, out: Rendered) -> None:
    t = s.tree
    assert t.odoo is not None and t.router is not None and t.odoo_conf is not None
    odoo, router = t.odoo, t.router
    mount = odoo.svc.mount_at(t.odoo_conf_target)
    by_file = mount is not None and mount.target == t.odoo_conf_target
    target_dir = os.path.dirname(t.odoo_conf_target)
    traefik_nets = set(s.edge.networks) if s.edge is not None else set()
    drop = tuple(n for n in odoo.svc.networks if odoo.cf.network_name(n) in traefik_nets)
    keep = {odoo.cf.network_name(n) for n in odoo.svc.networks if n not in drop}
    shared = keep & {router.cf.network_name(n) for n in router.svc.networks}
    if drop and not shared:
        out.problems.append(
            f"{odoo.cf.rel}: Odoo shares no network with the router except Traefik's "
            f"({', '.join(sorted(traefik_nets))}): give them a network of their own first"
        )
        drop = ()
    split = SplitSpec(
        service=odoo.svc.name,
        conf_target=t.odoo_conf_target,
        conf_by_file=by_file,
        tenant_conf=(
            _rel_source(t.odoo_conf.parent / "odoo-tenant.conf", odoo.cf.dir),
            f"{target_dir}/odoo-tenant.conf",
        ),
        admin_conf=(
            _rel_source(t.odoo_conf.parent / "odoo-admin.conf", odoo.cf.dir),
            f"{target_dir}/odoo-admin.conf",
        ),
        drop_networks=drop,
    )
    spec = out.router
    assert spec is not None
    rspec = RouterComposeSpec(
        service=router.svc.name,
        image=settings.router_image,
        command=settings.router_command,
        config_dir=_rel_source(router.cf.dir / ROUTER_DIR, router.cf.dir),
        healthcheck=tuple(spec.healthcheck()),
        interval=settings.router_health_interval,
    )
    same = odoo.cf.path == router.cf.path
    try:
        doc = _load(s, odoo.cf)
        split_odoo_compose(doc, split)
        fs = s.filestore
        if fs is not None and fs.kind == "volume" and not fs.external:
            declare_external(doc, fs.key, fs.name)
        if same:
            edit_router_compose(doc, rspec)
        out.add("odoo_compose", odoo.cf.path, doc.dump())
        if not same:
            rdoc = _load(s, router.cf)
            edit_router_compose(rdoc, rspec)
            out.add("router_compose", router.cf.path, rdoc.dump())
    except (RoundTripError, ValueError) as exc:
        out.problems.append(str(exc))


def _names(cf: ComposeFile, service: str) -> set[str]:
    svc = cf.services[service]
    return {service, cf.container(service)} | (
        {svc.container_name} if svc.container_name else set()
    )


def _router_service(s: Survey, port: int, plain: dict[str, str]) -> tuple[str, str | None]:
    """The Traefik service that reaches the router, and its URL when it must be created."""
    from .yamledit import load_plain

    router = s.tree.router
    assert router is not None
    names = _names(router.cf, router.svc.name)
    for text in plain.values():
        services = ((load_plain(text) or {}).get("http") or {}).get("services") or {}
        for name, body in services.items():
            for server in ((body or {}).get("loadBalancer") or {}).get("servers") or ():
                url = str((server or {}).get("url", ""))
                host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
                if host in names:
                    return str(name), None
    for key in router.svc.labels:
        parts = key.split(".")
        if len(parts) > 4 and parts[:3] == ["traefik", "http", "services"]:
            return f"{parts[3]}@docker", None
    container = router.cf.container(router.svc.name)
    return "odoo-router-service", f"http://{container}:{port}"


def _dynamic(s: Survey, out: Rendered) -> None:
    edge, version = s.edge, s.version
    assert edge is not None and version is not None and s.tree.odoo is not None
    hosts = OdooHosts.from_routing(s.routing)
    plain: dict[str, str] = {}
    for path in edge.dynamic_files:
        plain[s.show(path)] = s.text(path)
    if not plain:
        out.problems.append("Traefik has no dynamic file to carry the allowlist and the routes")
        return
    spec = out.router
    assert spec is not None
    service, url = _router_service(s, spec.listen_port, plain)
    out.router_service = service
    odoo = s.tree.odoo
    edge_spec = EdgeSpec(
        hosts=hosts,
        version=version.value,
        allow=s.routing.admin_allow.value if s.routing.admin_allow is not None else (),
        service=service,
        service_url=url,
        old_hosts=tuple(sorted(_names(odoo.cf, odoo.svc.name))),
    )
    wanted = [
        n for n, text in plain.items() if n.endswith((".yml", ".yaml")) and needs_edit(text, hosts)
    ]
    if not wanted:
        wanted = [next(n for n in plain if n.endswith((".yml", ".yaml")))]
    try:
        docs = {n: load_roundtrip(plain[n], n) for n in wanted}
        texts = edit_dynamic(docs, plain, edge_spec)
    except (RoundTripError, ValueError) as exc:
        out.problems.append(str(exc))
        return
    by_show = {s.show(p): p for p in edge.dynamic_files}
    assert edge.dynamic_dir is not None
    for name, text in texts.items():
        path = by_show[name]
        # a flat role: it names files in the run's staging and originals folders
        role = "dynamic:" + str(path.relative_to(edge.dynamic_dir)).replace("/", ":")
        out.add(role, path, text)
