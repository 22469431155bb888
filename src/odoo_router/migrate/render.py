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

from ..configuration.validate import ConfigError
from .composefile import ComposeFile
from .render_compose import ADMIN, TENANT, SplitSpec, copy_service, split_edits
from .render_odoo import render_admin_conf, render_tenant_conf
from .render_router import RouterComposeSpec, RouterSpec, edit_router_service, render_router_yaml
from .render_traefik import EdgeEdits, EdgeSpec, edit_edge
from .simulate import build_table, static_settings, traefik_version
from .survey import Survey
from .tomltext import TomlError
from .traefik_files import aimed_at, dynamic_doc
from .traefik_model import qualify
from .traefik_providers import normalize
from .yamltext import YamlError, YamlText

ROUTER_DIR = "odoo-router"


@dataclass(frozen=True)
class Settings:
    router_image: str = "odoo-router:latest"
    router_command: tuple[str, ...] = ()  # () keeps the image's ENTRYPOINT/CMD
    router_health_interval: str | None = None  # None keeps the service's own
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
    backends: frozenset[str] = frozenset()  # Traefik services that reach Odoo or the router

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
        health_body=nginx.health_body if nginx else "OK",
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
    tenant, admin = (
        render_tenant_conf(conf_text, admin_hash),
        render_admin_conf(conf_text, admin_hash),
    )
    out.add("tenant_conf", conf_dir / "odoo-tenant.conf", tenant, t.odoo_conf)
    out.add("admin_conf", conf_dir / "odoo-admin.conf", admin, t.odoo_conf)
    spec = out.router = router_spec(s)
    try:
        text = render_router_yaml(s.routing, spec)
        out.add("router_yaml", t.router.cf.dir / ROUTER_DIR / "router.yaml", text)
    except ConfigError as exc:
        out.problems.append(f"the rendered router.yaml does not validate:\n{exc}")
    edges = _edge(s, out)
    try:
        _compose(s, settings, out, edges)
        _dynamic(s, out, edges)
    except (YamlError, ValueError) as exc:
        out.problems.append(str(exc))
    out.problems += edges.problems
    return out


def _names(cf: ComposeFile, service: str) -> set[str]:
    svc = cf.services[service]
    return {service, cf.container(service)} | (
        {svc.container_name} if svc.container_name else set()
    )


def _router_service(s: Survey, port: int) -> tuple[str, str | None]:
    """The Traefik service that reaches the router (qualified), and its URL when it must be
    created: a file service aimed at the router's names, else one its labels define."""
    router = s.tree.router
    assert router is not None and s.edge is not None
    names = _names(router.cf, router.svc.name)
    for path in s.edge.dynamic_files:
        data = dynamic_doc(s.text(path), s.show(path)).data
        services = ((data or {}).get("http") or {}).get("services") or {}
        for name, body in services.items():
            for server in ((body or {}).get("loadBalancer") or {}).get("servers") or ():
                url = str((server or {}).get("url", ""))
                host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
                if host in names:
                    return f"{name}@file", None
    for key in router.svc.labels:
        parts = key.split(".")
        if len(parts) > 4 and [p.lower() for p in parts[:3]] == ["traefik", "http", "services"]:
            return f"{parts[3]}@docker", None
    container = router.cf.container(router.svc.name)
    return "odoo-router-service@file", f"http://{container}:{port}"


def _backends(s: Survey, names: set[str]) -> frozenset[str]:
    """The Traefik services (qualified) that reach Odoo or the router: file services aimed at
    one of ``names``, and the docker services of those two compose services."""
    t, out = s.tree, set()
    assert s.edge is not None
    for path in s.edge.dynamic_files:
        data = dynamic_doc(s.text(path), s.show(path)).data
        for name, body in (((data or {}).get("http") or {}).get("services") or {}).items():
            lb = (body or {}).get("loadBalancer") or {}
            if any(
                aimed_at(str((x or {}).get("url", "")), tuple(names))
                for x in lb.get("servers") or ()
            ):
                out.add(f"{name}@file")
    for role in (t.odoo, t.router):
        if role is None:
            continue
        out.add(normalize(f"{role.svc.name}_{role.cf.project}") + "@docker")
        for key in role.svc.labels:
            parts = key.split(".")
            if len(parts) > 4 and [p.lower() for p in parts[:3]] == ["traefik", "http", "services"]:
                out.add(f"{parts[3]}@docker")
    return frozenset(out)


def _label_owners(s: Survey) -> dict[str, tuple[Path, str]]:
    """Which compose service defines each label router and middleware (name@docker), and
    the default router Traefik makes for a service without router labels (named like its
    docker service: ``<service>-<project>``)."""
    out: dict[str, tuple[Path, str]] = {}
    for cf in s.tree.composes:
        for svc in cf.services.values():
            out.setdefault(normalize(f"{svc.name}_{cf.project}") + "@docker", (cf.path, svc.name))
            for key in svc.labels:
                parts = key.split(".")
                if (
                    len(parts) > 4
                    and parts[1].lower() == "http"
                    and parts[2].lower() in ("routers", "middlewares")
                ):
                    out.setdefault(f"{parts[3]}@docker", (cf.path, svc.name))
    return out


def _edge(s: Survey, out: Rendered) -> EdgeEdits:
    version, t, e = traefik_version(s), s.tree, s.edge
    if version is None or e is None or t.odoo is None or t.router is None or out.router is None:
        return EdgeEdits()
    static = static_settings(s)
    table, _ = build_table(s, version, static, {})
    service, url = _router_service(s, out.router.listen_port)
    out.router_service = service
    spec = EdgeSpec(
        routing=s.routing,
        version=str(version),
        syntax=version.rule_syntax(None, static.default_rule_syntax),
        allow=s.routing.admin_allow.value if s.routing.admin_allow is not None else (),
        service=service,
        service_url=url,
        old_hosts=tuple(sorted(_names(t.odoo.cf, t.odoo.svc.name))),
        old_service=(t.odoo.cf.path, t.odoo.svc.name),
        router_service=(t.router.cf.path, t.router.svc.name),
        backends=_backends(
            s, _names(t.odoo.cf, t.odoo.svc.name) | _names(t.router.cf, t.router.svc.name)
        )
        | {service},
    )
    out.backends = spec.backends
    texts = {p: s.text(p) for p in e.dynamic_files}
    shown = {s.show(p): p for p in e.dynamic_files}
    dbfilter = [(qualify(m.name, "file"), m.where) for m in e.dbfilter_middlewares]
    try:
        return edit_edge(spec, table, texts, shown, dbfilter, _label_owners(s))
    except (YamlError, TomlError) as exc:
        return EdgeEdits(problems=[str(exc)])


def _split_spec(s: Survey, out: Rendered) -> SplitSpec:
    t = s.tree
    assert t.odoo is not None and t.router is not None and t.odoo_conf is not None
    odoo, router = t.odoo, t.router
    mount = odoo.svc.mount_at(t.odoo_conf_target)
    by_file = mount is not None and mount.target == t.odoo_conf_target
    target_dir = os.path.dirname(t.odoo_conf_target)
    traefik_nets = set(s.edge.networks) if s.edge is not None else set()
    drop = tuple(n for n in odoo.svc.networks if odoo.cf.network_name(n) in traefik_nets)
    keep = {odoo.cf.network_name(n) for n in odoo.svc.networks if n not in drop}
    if drop and not keep & {router.cf.network_name(n) for n in router.svc.networks}:
        out.problems.append(
            f"{odoo.cf.rel}: Odoo shares no network with the router except Traefik's "
            f"({', '.join(sorted(traefik_nets))}): give them a network of their own first"
        )
        drop = ()
    fs = s.filestore
    conf = t.odoo_conf.parent
    return SplitSpec(
        service=odoo.svc.name,
        conf_target=t.odoo_conf_target,
        conf_by_file=by_file,
        tenant_conf=(
            _rel_source(conf / "odoo-tenant.conf", odoo.cf.dir),
            f"{target_dir}/odoo-tenant.conf",
        ),
        admin_conf=(
            _rel_source(conf / "odoo-admin.conf", odoo.cf.dir),
            f"{target_dir}/odoo-admin.conf",
        ),
        drop_networks=drop,
        filestore=(fs.key, fs.name)
        if fs is not None and fs.kind == "volume" and not fs.external
        else None,
    )


def _labels(y: YamlText, service: str, ops: list[tuple[str, str, str]]) -> None:
    """The router service's Traefik label changes (render_traefik's decisions)."""
    base = ("services", service, "labels")
    labels = y.data["services"][service].get("labels") or {}
    keys = (
        [str(k) for k in labels]
        if isinstance(labels, dict)
        else [str(x).partition("=")[0] for x in labels]
    )
    for op, key, value in ops:
        found = next((k for k in keys if k.lower() == key.lower()), key)
        if op == "set":
            y.set_pair(base, found, value)
        else:
            for i, k in enumerate(keys):
                if k.lower() == key.lower() or (
                    op == "delete-prefix" and k.lower().startswith(key.lower())
                ):
                    y.delete((*base, k if isinstance(labels, dict) else i))


def _compose(s: Survey, settings: Settings, out: Rendered, edges: EdgeEdits) -> None:
    t = s.tree
    assert t.odoo is not None and t.router is not None and out.router is not None
    odoo, router = t.odoo, t.router
    rspec = RouterComposeSpec(
        service=router.svc.name,
        image=settings.router_image,
        command=settings.router_command,
        config_dir=_rel_source(router.cf.dir / ROUTER_DIR, router.cf.dir),
        healthcheck=tuple(out.router.healthcheck()),
        interval=settings.router_health_interval,
    )
    split = _split_spec(s, out)
    same = odoo.cf.path == router.cf.path
    y = YamlText(copy_service(s.text(odoo.cf.path), odoo.cf.rel, odoo.svc.name), odoo.cf.rel)
    split_edits(y, split)
    if same:
        edit_router_service(y, rspec)
        _labels(y, router.svc.name, edges.labels)
    out.add("odoo_compose", odoo.cf.path, y.render())
    if not same:
        y = YamlText(s.text(router.cf.path), router.cf.rel)
        edit_router_service(y, rspec)
        _labels(y, router.svc.name, edges.labels)
        out.add("router_compose", router.cf.path, y.render())


def _dynamic(s: Survey, out: Rendered, edges: EdgeEdits) -> None:
    e = s.edge
    if e is None or not e.dynamic_files:
        return
    base = e.dynamic_dir or e.dynamic_files[0].parent  # a directory, or the one file's
    for path, y in edges.docs.items():
        text = y.render()
        if text != s.text(path):
            # a flat role: it names files in the run's staging and originals folders
            role = "dynamic:" + str(path.relative_to(base)).replace("/", ":")
            out.add(role, path, text)
