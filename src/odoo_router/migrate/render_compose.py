"""Split the Odoo service of odoo18-prod/docker-compose.yml into odoo-tenant and odoo-admin.

A round-trip edit (comments and the other services untouched). Both new services are copies
of the old one with their own odoo.conf and container name; they keep the old service's data
volume, so the filestore and sessions carry over and stay shared. Their Traefik labels are
replaced by ``traefik.enable=false`` in the form the file used (list or mapping): routing is
the router's job now, and a stray label would bring the duplicate routes back.
"""

from __future__ import annotations

import copy
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString as DQ

from .yamledit import YamlDoc, move_trailing_comment

ODOO_CONF_TARGET = "/etc/odoo/odoo.conf"
TENANT, ADMIN = "odoo-tenant", "odoo-admin"


def labels_dict(labels: Any) -> dict[str, str]:
    """Compose labels in either form as a dict."""
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    out: dict[str, str] = {}
    for item in labels or ():
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def _volume_target(entry: Any) -> str | None:
    if isinstance(entry, dict):
        return str(entry.get("target")) if entry.get("target") else None
    parts = str(entry).split(":")
    return parts[1] if len(parts) >= 2 else None


def find_odoo_service(services: dict[str, Any]) -> str | None:
    """The service that mounts an odoo.conf at /etc/odoo/odoo.conf."""
    for name, svc in services.items():
        if isinstance(svc, dict):
            for v in svc.get("volumes") or ():
                if _volume_target(v) == ODOO_CONF_TARGET:
                    return str(name)
    return None


def _without_traefik(labels: Any) -> Any:
    if isinstance(labels, dict):
        out = CommentedMap((k, v) for k, v in labels.items() if not str(k).startswith("traefik."))
        out.insert(0, "traefik.enable", DQ("false"))
        return out
    seq = CommentedSeq([DQ("traefik.enable=false")])
    seq += [x for x in labels or () if not str(x).startswith("traefik.")]
    return seq


def _variant(web: Any, container: str, conf_rel: str) -> CommentedMap:
    svc: CommentedMap = copy.deepcopy(web)
    svc["container_name"] = container
    vols = svc.get("volumes")
    for i, v in enumerate(vols or ()):
        if _volume_target(v) == ODOO_CONF_TARGET:
            if isinstance(v, dict):
                v["source"] = conf_rel
                v["read_only"] = True
            else:
                vols[i] = f"{conf_rel}:{ODOO_CONF_TARGET}:ro"
    svc["labels"] = _without_traefik(web.get("labels"))
    svc.ca.items.pop("labels", None)  # the comment about the removed routes goes with them
    return svc


def split_odoo_compose(doc: YamlDoc) -> str:
    services = doc.data.get("services")
    if not isinstance(services, CommentedMap):
        raise ValueError(f"{doc.name}: no services mapping")
    web_key = find_odoo_service(services)
    if web_key is None:
        if TENANT in services and ADMIN in services:
            return doc.dump()  # already split: nothing to do
        raise ValueError(f"{doc.name}: no service mounts {ODOO_CONF_TARGET}")
    web = services[web_key]
    tenant = _variant(web, TENANT, "./config/odoo-tenant.conf")
    admin = _variant(web, ADMIN, "./config/odoo-admin.conf")
    # The blank line that followed the old service follows each new one.
    move_trailing_comment(copy.deepcopy(web), tenant)
    move_trailing_comment(web, admin)
    new = CommentedMap()
    for k, v in services.items():
        if k == web_key:
            new[TENANT] = tenant
            new[ADMIN] = admin
        else:
            new[k] = v
    for k in services.ca.items:
        if k != web_key and k in new:
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
    return doc.dump()
