"""Split the Odoo service into odoo-tenant and odoo-admin: surgical edits (yamltext), every
byte outside the changed nodes kept.

Pass 1 copies the old service, as written (comments, quoting, aliases, merge keys), as
odoo-admin next to it. Pass 2 renames the old one to odoo-tenant in place and edits both:
- each copy gets its own conf: a file-mounted conf is replaced by the new file; a conf read
  from a mounted directory is chosen with ``-c`` in the command, else ``ODOO_RC``;
- container names: ``odoo-tenant``/``odoo-admin`` when the old service had one; host ports
  the old service published stay with odoo-tenant only (two services cannot bind them);
- Traefik labels go, ``traefik.enable=false`` comes, in the file's own form (list or mapping):
  routing is the router's job, and a stray label would bring the duplicate routes back
  (labels that already say just that stay as written, comments included);
- the networks Traefik is attached to go from the Odoo services: only the router is
  reachable from Traefik (their top-level declarations stay: compose ignores a network no
  service uses, and the project may own one Traefik's stack joins);
- ``depends_on`` on the old service points at odoo-tenant; the filestore volume is
  declared ``external: true`` under its real name (``down -v`` or a rollback cannot delete
  it).
A key a merge (``<<: *anchor``) brings in is overridden by an explicit key in the new
service, never edited in the anchor other services still use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .composefile import parse_mount
from .yamltext import Quoted, YamlError, YamlText

TENANT, ADMIN = "odoo-tenant", "odoo-admin"
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class SplitSpec:
    service: str  # the old service's key
    conf_target: str  # where Odoo reads its conf in the container
    conf_by_file: bool  # the conf is a file mount (else it comes with a mounted directory)
    tenant_conf: tuple[str, str]  # (mount source as written, container path)
    admin_conf: tuple[str, str]
    drop_networks: tuple[str, ...] = ()  # network keys the new services leave (Traefik's)
    filestore: tuple[str, str] | None = None  # (volume key, real name) to declare external


def labels_dict(labels: Any) -> dict[str, str]:
    """Compose labels in either form as a dict."""
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    out: dict[str, str] = {}
    for item in labels or ():
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def explicit(y: YamlText, path: Path_) -> bool:
    """The node is written at ``path`` itself (not brought in by a merge or an alias)."""
    return y.has(path) and not y.span(path).shared


def set_key(y: YamlText, base: Path_, key: str, value: Any) -> None:
    """``key: value`` in the mapping at ``base``: in place when written there, else a new
    entry (which overrides a value a merge key brings in)."""
    path = (*base, key)
    if explicit(y, path):
        if y.span(path).kind == "scalar" and isinstance(value, str | int | bool):
            y.set_scalar(path, value)
        else:
            y.replace(path, value)
    else:
        y.insert(base, key, value)


def label_form(data: dict[str, Any], service: str) -> str:
    """ "list" or "map": the old service's, else the file's most common, else list."""
    services = data.get("services") or {}
    own = (services.get(service) or {}).get("labels")
    if isinstance(own, dict | list):
        return "map" if isinstance(own, dict) else "list"
    forms = [
        isinstance(s.get("labels"), dict)
        for s in services.values()
        if isinstance(s, dict) and s.get("labels")
    ]
    return "map" if forms and sum(forms) * 2 > len(forms) else "list"


def _labels(old: Any, form: str) -> Any:
    kept = {k: v for k, v in labels_dict(old).items() if not k.lower().startswith("traefik.")}
    if form == "map":
        return {"traefik.enable": Quoted("false"), **kept}
    return ["traefik.enable=false", *(f"{k}={v}" for k, v in kept.items())]


def _label_values(labels: Any) -> dict[str, str]:
    """What compose makes of the labels: a YAML boolean is ``true``/``false``, null empty."""
    if isinstance(labels, dict):
        return {
            str(k): str(v).lower() if isinstance(v, bool) else "" if v is None else str(v)
            for k, v in labels.items()
        }
    return labels_dict(labels)


def _conf(y: YamlText, base: Path_, spec: SplitSpec, conf: tuple[str, str]) -> None:
    source, target = conf
    svc = y.data["services"][base[-1]]
    vols = list(svc.get("volumes") or ())
    if spec.conf_by_file:
        for i, v in enumerate(vols):
            m = parse_mount(v, 0, {})
            if m is None or m.target != spec.conf_target:
                continue
            short = f"{source}:{spec.conf_target}:ro"
            if explicit(y, (*base, "volumes", i)) and not isinstance(v, dict):
                y.set_scalar((*base, "volumes", i), short)
            elif explicit(y, (*base, "volumes", i)):
                set_key(y, (*base, "volumes", i), "source", source)
            else:  # the volumes come from a merge: the service gets its own list
                vols[i] = (
                    {**v, "source": source, "read_only": True} if isinstance(v, dict) else short
                )
                y.insert(base, "volumes", vols)
            return
        raise ValueError(f"no volume of {spec.service} mounts {spec.conf_target}")
    command = svc.get("command")
    if isinstance(command, list):
        for i, arg in enumerate(command):
            if arg in ("-c", "--config") and i + 1 < len(command):
                return _replace_item(y, base, "command", command, i + 1, target)
            if str(arg).startswith("--config="):
                return _replace_item(y, base, "command", command, i, f"--config={target}")
    elif isinstance(command, str) and ("-c " in command or "--config" in command):
        raise ValueError(
            f"{spec.service}: cannot rewrite the conf in the command string {command!r}"
        )
    env = svc.get("environment")
    if explicit(y, (*base, "environment")):
        y.set_pair((*base, "environment"), "ODOO_RC", target)
    elif isinstance(env, dict):
        y.insert(base, "environment", {**env, "ODOO_RC": target})
    else:
        y.insert(
            base,
            "environment",
            [*(e for e in env or () if not str(e).startswith("ODOO_RC=")), f"ODOO_RC={target}"],
        )


def _replace_item(y: YamlText, base: Path_, key: str, items: list[Any], i: int, value: str) -> None:
    if explicit(y, (*base, key, i)):
        y.set_scalar((*base, key, i), value)
    else:
        y.insert(base, key, [*items[:i], value, *items[i + 1 :]])


def _networks(y: YamlText, base: Path_, drop: Sequence[str]) -> None:
    nets = y.data["services"][base[-1]].get("networks")
    if not nets or not any(n in drop for n in nets):
        return
    keep = (
        [n for n in nets if n not in drop]
        if isinstance(nets, list)
        else {k: v for k, v in nets.items() if k not in drop}
    )
    if not explicit(y, (*base, "networks")):
        y.insert(base, "networks", keep)
        return
    for i, n in enumerate(nets):
        if n in drop:
            y.delete((*base, "networks", i if isinstance(nets, list) else n))


def copy_service(text: str, name: str, service: str) -> str:
    """Pass 1: the old service copied, as written, under the admin name next to it (pass 2
    renames the old one to odoo-tenant in place: the smallest diff)."""
    y = YamlText(text, name)
    for key in (TENANT, ADMIN):
        if y.has(("services", key)):
            raise ValueError(f"{name}: a service {key} exists already")
    admin = "admin host only (allowlisted): same image, same filestore as odoo-tenant"
    y.insert_copy(("services",), ADMIN, ("services", service), after=service, comment=admin)
    return y.render()


def split_edits(y: YamlText, spec: SplitSpec) -> None:
    """Pass 2 on the copied text: the copies, the old service, references, volumes."""
    data = y.data
    form = label_form(data, spec.service)
    old = data["services"][spec.service]
    for key, conf in ((spec.service, spec.tenant_conf), (ADMIN, spec.admin_conf)):
        base: Path_ = ("services", key)
        if "container_name" in (old or {}):
            set_key(y, base, "container_name", TENANT if key == spec.service else key)
        _conf(y, base, spec, conf)
        labels = _labels(old.get("labels"), form)
        if _label_values(labels) != _label_values(old.get("labels")):  # else as written
            set_key(y, base, "labels", labels)
        _networks(y, base, spec.drop_networks)
    if (old or {}).get("ports"):
        _unpublish(y, ("services", ADMIN))
    y.rename_key(("services", spec.service), TENANT)
    for name, svc in (data.get("services") or {}).items():
        if name in (ADMIN, spec.service) or not isinstance(svc, dict):
            continue
        _references(y, name, svc, spec.service)
    if spec.filestore is not None:
        key, real = spec.filestore
        vol = (data.get("volumes") or {}).get(key)
        if not (isinstance(vol, dict) and vol.get("external")):
            y.insert(("volumes", key), "external", True)
            if not (isinstance(vol, dict) and vol.get("name")):
                y.insert(("volumes", key), "name", real)


def _unpublish(y: YamlText, base: Path_) -> None:
    """odoo-admin publishes no host port: the copy of the old service's ``ports`` would
    bind the same host ports as odoo-tenant, and ``compose up`` fails on the second one
    during the downtime (the admin container is reached through the router only)."""
    if explicit(y, (*base, "ports")):
        y.delete((*base, "ports"))
    else:  # brought by a merge key: an explicit empty list overrides it
        y.insert(base, "ports", [])


def _references(y: YamlText, name: str, svc: dict[str, Any], old: str) -> None:
    deps = svc.get("depends_on")
    base: Path_ = ("services", name, "depends_on")
    if isinstance(deps, list) and old in deps:
        if not explicit(y, base):
            raise ValueError(
                f"service {name} depends on {old} through a merge key: edit it by hand"
            )
        y.set_scalar((*base, deps.index(old)), TENANT)
    elif isinstance(deps, dict) and old in deps:
        if not explicit(y, base):
            raise ValueError(
                f"service {name} depends on {old} through a merge key: edit it by hand"
            )
        y.rename_key((*base, old), TENANT)
    for key in ("links", "volumes_from", "extends", "network_mode"):
        value = svc.get(key)
        if value is not None and old in str(value).replace("service:", " ").split():
            raise ValueError(f"service {name} names {old} in {key}: the split leaves it dangling")


__all__ = [
    "ADMIN",
    "TENANT",
    "SplitSpec",
    "YamlError",
    "copy_service",
    "explicit",
    "label_form",
    "labels_dict",
    "set_key",
    "split_edits",
]
