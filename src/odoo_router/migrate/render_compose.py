"""Split the Odoo service of its compose file into odoo-tenant and odoo-admin, round trip.

Both new services are copies of the old one (comments and the other services untouched)
with their own odoo.conf: a file-mounted conf is replaced by the new file; a conf read
from a mounted directory is chosen with ``-c`` in the command, or ``ODOO_RC`` when the
command does not name one. They keep the old service's data volume, so the filestore and
sessions carry over and stay shared. Their Traefik labels are replaced by
``traefik.enable=false`` in the form the file uses (list or mapping): routing is the
router's job now, and a stray label would bring the duplicate routes back. Other services
that depended on the old one depend on odoo-tenant.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString as DQ

from .composefile import parse_mount
from .yamledit import YamlDoc, move_trailing_comment

TENANT, ADMIN = "odoo-tenant", "odoo-admin"


@dataclass(frozen=True)
class SplitSpec:
    service: str  # the old service's key
    conf_target: str  # where Odoo reads its conf in the container
    conf_by_file: bool  # the conf is a file mount (else it comes with a mounted directory)
    tenant_conf: tuple[str, str]  # (mount source as written, container path)
    admin_conf: tuple[str, str]
    drop_networks: tuple[str, ...] = ()  # network keys the new services leave (Traefik's)


def labels_dict(labels: Any) -> dict[str, str]:
    """Compose labels in either form as a dict."""
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    out: dict[str, str] = {}
    for item in labels or ():
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def _without_traefik(labels: Any, mapping: bool) -> Any:
    if isinstance(labels, dict) or (labels is None and mapping):
        out = CommentedMap(
            (k, v) for k, v in (labels or {}).items() if not str(k).startswith("traefik.")
        )
        out.insert(0, "traefik.enable", DQ("false"))
        return out
    seq = CommentedSeq([DQ("traefik.enable=false")])
    seq += [x for x in labels or () if not str(x).startswith("traefik.")]
    return seq


def _conf_choice(svc: CommentedMap, spec: SplitSpec, source: str, target: str) -> None:
    if spec.conf_by_file:
        vols = svc.get("volumes")
        for i, v in enumerate(vols or ()):
            m = parse_mount(v, 0, {})
            if m is not None and m.target == spec.conf_target:
                if isinstance(v, dict):
                    v["source"] = source
                    v["read_only"] = True
                else:
                    vols[i] = f"{source}:{spec.conf_target}:ro"
        return
    command = svc.get("command")
    if isinstance(command, list):
        for i, arg in enumerate(command):
            if arg in ("-c", "--config") and i + 1 < len(command):
                command[i + 1] = target
                return
            if str(arg).startswith("--config="):
                command[i] = f"--config={target}"
                return
    env = svc.get("environment")
    if isinstance(env, dict):
        env["ODOO_RC"] = target
    elif isinstance(env, list):
        env[:] = [e for e in env if not str(e).startswith("ODOO_RC=")] + [f"ODOO_RC={target}"]
    else:
        svc["environment"] = CommentedMap([("ODOO_RC", target)])


def _variant(
    web: Any, name: str, conf: tuple[str, str], spec: SplitSpec, mapping: bool
) -> CommentedMap:
    svc: CommentedMap = copy.deepcopy(web)
    if "container_name" in svc:
        svc["container_name"] = name
    _conf_choice(svc, spec, *conf)
    svc["labels"] = _without_traefik(web.get("labels"), mapping)
    svc.ca.items.pop("labels", None)  # the comment about the removed routes goes with them
    nets = svc.get("networks")
    if isinstance(nets, list):
        nets[:] = [n for n in nets if str(n) not in spec.drop_networks]
    elif isinstance(nets, dict):
        for n in spec.drop_networks:
            nets.pop(n, None)
    return svc


def split_odoo_compose(doc: YamlDoc, spec: SplitSpec) -> None:
    services = doc.data.get("services")
    if not isinstance(services, CommentedMap) or spec.service not in services:
        raise ValueError(f"{doc.name}: no service {spec.service}")
    web = services[spec.service]
    mapping = any(isinstance((s or {}).get("labels"), dict) for s in services.values())
    tenant = _variant(web, TENANT, spec.tenant_conf, spec, mapping)
    admin = _variant(web, ADMIN, spec.admin_conf, spec, mapping)
    # The blank line that followed the old service follows each new one.
    move_trailing_comment(copy.deepcopy(web), tenant)
    move_trailing_comment(web, admin)
    new = CommentedMap()
    for k, v in services.items():
        if k == spec.service:
            new[TENANT] = tenant
            new[ADMIN] = admin
        else:
            new[k] = v
            _depends(v, spec.service)
    for k in services.ca.items:
        if k != spec.service and k in new:
            new.ca.items[k] = services.ca.items[k]
    new.yaml_set_comment_before_after_key(
        TENANT,
        before="tenants: the database comes from the router's X-Odoo-dbfilter header",
        indent=2,
    )
    new.yaml_set_comment_before_after_key(
        ADMIN, before="admin host only (allowlisted); same image, same data volume", indent=2
    )
    doc.data["services"] = new


def _depends(svc: Any, old: str) -> None:
    deps = svc.get("depends_on") if isinstance(svc, dict) else None
    if isinstance(deps, list):
        deps[:] = [TENANT if str(d) == old else d for d in deps]
    elif isinstance(deps, dict) and old in deps:
        value = deps.pop(old)
        deps[TENANT] = value


def declare_external(doc: YamlDoc, key: str, name: str) -> None:
    """The filestore volume: ``external: true`` under its real name, so that ``down -v`` or a
    rollback can never delete it."""
    vols = doc.data.get("volumes")
    if not isinstance(vols, CommentedMap):
        return
    spec = vols.get(key)
    if isinstance(spec, dict) and spec.get("external"):
        return
    body = spec if isinstance(spec, CommentedMap) else CommentedMap()
    body["external"] = True
    body["name"] = name
    vols[key] = body
