"""The operator's inputs file (``--inputs FILE``): what the files cannot say, typed.

Every key is optional except ``admin.allow`` (no silent default for who may reach the
admin host). What the inputs repeat from the files must agree with them (facts.py merges
and refuses a disagreement naming both). Every problem names the file, the line and the
key, all problems at once::

    inputs.yaml:7: admin.allow[1]: '10.0.0.0/33' is not an address or CIDR range

See config/migrate-inputs.example.yaml for a commented example.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..configuration.yamlmarks import load_marked
from .facts import DEFAULT_SUB_CHARS, Fact, SubdomainRule, TenantUI

ROLES = ("odoo", "router", "traefik")
_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_DB = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
_KEYS = (
    "stacks", "services", "traefik_version", "admin", "tenants", "tenant_ui",
    "master_password", "trusted_proxies",
)  # fmt: skip


class InputsError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Inputs:
    name: str = "inputs"
    stacks: dict[str, Fact[str]] = field(default_factory=dict)  # role -> directory
    services: dict[str, Fact[str]] = field(default_factory=dict)  # role -> compose service
    traefik_version: Fact[str] | None = None
    admin_hosts: list[Fact[str]] | None = None
    admin_allow: Fact[tuple[str, ...]] | None = None
    admin_allow_at: tuple[str, ...] = ()  # each range's own line
    subdomains: list[Fact[SubdomainRule]] | None = None
    hosts: dict[str, Fact[str]] | None = None
    tenant_ui: Fact[TenantUI] | None = None
    tenant_ui_sources: dict[str, str] = field(default_factory=dict)  # redirect, login_redirect
    master_password: Fact[str] | None = None  # "generate", or the path of a file
    trusted_proxies: Fact[tuple[str, ...]] | None = None


class _Read:
    def __init__(self, name: str, lines: dict[str, int]) -> None:
        self.name, self.lines = name, lines
        self.problems: list[str] = []

    def where(self, key: str) -> str:
        probe = key
        while probe and probe not in self.lines:
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return f"{self.name}:{self.lines.get(probe, 1)}"

    def src(self, key: str) -> str:
        return f"{self.where(key)} ({key})"

    def error(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where(key)}: {key}: {message}")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {_kind(value)}")
            return None
        for k in value:
            if k not in allowed:
                close = difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(allowed)}"
                self.error(f"{key}.{k}" if key else str(k), f"unknown key ({hint})")
        return value

    def string(self, value: Any, key: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(key, f"expected a string, got {_kind(value)}")
            return None
        return value.strip()

    def host(self, value: Any, key: str) -> str | None:
        text = self.string(value, key)
        if text is None:
            return None
        host = text.lower().rstrip(".")
        if not _HOST.match(host):
            self.error(key, f"{text!r} is not a host name")
            return None
        return host

    def hosts(self, value: Any, key: str) -> list[Fact[str]] | None:
        if not isinstance(value, list) or not value:
            self.error(key, f"expected a list of host names, got {_kind(value)}")
            return None
        out = []
        for i, v in enumerate(value):
            h = self.host(v, f"{key}[{i}]")
            if h is not None:
                out.append(Fact(h, self.src(f"{key}[{i}]")))
        return out

    def networks(self, value: Any, key: str) -> Fact[tuple[str, ...]] | None:
        if not isinstance(value, list) or not value:
            self.error(key, f"expected a list of CIDR ranges, got {_kind(value)}")
            return None
        out = []
        for i, v in enumerate(value):
            try:
                out.append(str(ipaddress.ip_network(str(v).strip(), strict=False)))
            except ValueError:
                self.error(f"{key}[{i}]", f"{v!r} is not an address or CIDR range")
        return Fact(tuple(out), self.src(key))

    def url(self, value: Any, key: str) -> str | None:
        text = self.string(value, key)
        if text is not None and not re.match(r"^https?://[^\s/]+", text):
            self.error(key, f"{text!r} is not an http(s) URL")
            return None
        return text


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def parse_inputs(text: str, name: str) -> Inputs:
    """Validate ``text``; InputsError listing every problem with its line."""
    try:
        marked = load_marked(text, name)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise InputsError(
            [f"{name}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from exc
    r = _Read(name, marked.lines)
    for key, line in marked.duplicate_keys:
        r.problems.append(f"{name}:{line}: {key}: duplicate key")
    data = marked.data if marked.data is not None else {}
    top = r.mapping(data, "", _KEYS)
    inp = Inputs(name=name)
    if top is None:
        raise InputsError(r.problems)
    for section, target in (("stacks", inp.stacks), ("services", inp.services)):
        if section in top:
            m = r.mapping(top[section], section, ROLES)
            for role, v in (m or {}).items():
                s = r.string(v, f"{section}.{role}")
                if s is not None and role in ROLES:
                    target[role] = Fact(s.rstrip("/"), r.src(f"{section}.{role}"))
    if "traefik_version" in top:
        v = top["traefik_version"]
        if isinstance(v, float | int) and not isinstance(v, bool):
            r.error(
                "traefik_version",
                f'{v}: write the version in quotes, e.g. "2.10" (unquoted, YAML reads 2.10 '
                "as the number 2.1)",
            )
        elif (s := r.string(v, "traefik_version")) is not None:
            if not _VERSION.match(s):
                r.error("traefik_version", f'{s!r}: expected a version such as "3.7" or "2.11.3"')
            else:
                inp.traefik_version = Fact(s.lstrip("v"), r.src("traefik_version"))
    _admin(r, top, inp)
    _tenants(r, top, inp)
    _tenant_ui(r, top, inp)
    _master_password(r, top, inp)
    if "trusted_proxies" in top:
        inp.trusted_proxies = r.networks(top["trusted_proxies"], "trusted_proxies")
    if r.problems:
        raise InputsError(r.problems)
    return inp


def _admin(r: _Read, top: dict[str, Any], inp: Inputs) -> None:
    admin = r.mapping(top["admin"], "admin", ("hosts", "allow")) if "admin" in top else {}
    if admin is None:
        return
    if "hosts" in admin:
        inp.admin_hosts = r.hosts(admin["hosts"], "admin.hosts")
    typo = any(k != "allow" and difflib.get_close_matches(str(k), ["allow"]) for k in admin)
    if "allow" not in admin and not typo:  # a misspelt allow is reported as such
        r.error(
            "admin.allow",
            "missing: the address ranges allowed on the admin host (office, VPN); "
            "there is no default",
        )
    elif "allow" in admin:
        inp.admin_allow = r.networks(admin["allow"], "admin.allow")
        if inp.admin_allow is not None:
            n = len(inp.admin_allow.value)
            inp.admin_allow_at = tuple(r.src(f"admin.allow[{i}]") for i in range(n))


def _tenants(r: _Read, top: dict[str, Any], inp: Inputs) -> None:
    if "tenants" not in top:
        return
    t = r.mapping(top["tenants"], "tenants", ("subdomains", "hosts"))
    if t is None:
        return
    if "subdomains" in t:
        raw = t["subdomains"]
        items = raw if isinstance(raw, list) else [raw]
        inp.subdomains = []
        for i, item in enumerate(items):
            key = f"tenants.subdomains[{i}]" if isinstance(raw, list) else "tenants.subdomains"
            m = r.mapping(item, key, ("domain", "db_prefix", "chars"))
            if m is None:
                continue
            domain = r.host(m.get("domain"), f"{key}.domain")
            prefix = m.get("db_prefix", "")
            if not isinstance(prefix, str) or (prefix and not _DB.match(prefix)):
                r.error(f"{key}.db_prefix", f"{prefix!r} cannot start a database name")
                continue
            chars = m.get("chars", DEFAULT_SUB_CHARS)
            try:
                re.compile(str(chars))
            except re.error as exc:
                r.error(f"{key}.chars", f"not a regex: {exc}")
                continue
            if domain is not None:
                rule = SubdomainRule(domain, prefix + "{sub}", str(chars))
                inp.subdomains.append(Fact(rule, r.src(key)))
    if "hosts" in t:
        hosts = t["hosts"]
        if not isinstance(hosts, dict):
            r.error("tenants.hosts", f"expected a mapping host: database, got {_kind(hosts)}")
            return
        inp.hosts = {}
        for host, db in hosts.items():
            key = f"tenants.hosts.{host}"
            h = r.host(host, key)
            if not isinstance(db, str) or not _DB.match(db):
                r.error(key, f"{db!r} is not a database name")
            elif h is not None:
                inp.hosts[h] = Fact(db, r.src(key))


def _tenant_ui(r: _Read, top: dict[str, Any], inp: Inputs) -> None:
    if "tenant_ui" not in top:
        return
    v = top["tenant_ui"]
    if v == "proxy":
        inp.tenant_ui = Fact(TenantUI(None, None), r.src("tenant_ui"))
        return
    if isinstance(v, str):
        r.error("tenant_ui", f"{v!r}: expected proxy or a mapping with redirect/login_redirect")
        return
    m = r.mapping(v, "tenant_ui", ("redirect", "login_redirect"))
    if m is None:
        return
    if "redirect" not in m:
        r.error("tenant_ui.redirect", "missing: where / and the UI paths go (or tenant_ui: proxy)")
        return
    redirect = r.url(m["redirect"], "tenant_ui.redirect")
    login = (
        r.url(m["login_redirect"], "tenant_ui.login_redirect")
        if "login_redirect" in m
        else redirect
    )
    inp.tenant_ui = Fact(TenantUI(redirect, login), r.src("tenant_ui"))
    login_key = "tenant_ui.login_redirect" if "login_redirect" in m else "tenant_ui.redirect"
    inp.tenant_ui_sources = {
        "redirect": r.src("tenant_ui.redirect"),
        "login_redirect": r.src(login_key),
    }


def _master_password(r: _Read, top: dict[str, Any], inp: Inputs) -> None:
    if "master_password" not in top:
        return
    v = top["master_password"]
    if v == "generate":
        inp.master_password = Fact("generate", r.src("master_password"))
        return
    m = r.mapping(v, "master_password", ("file",)) if not isinstance(v, str) else None
    if isinstance(v, str):
        r.error("master_password", f"{v!r}: expected generate or {{file: /path/to/file}}")
    elif m is not None:
        path = r.string(m.get("file"), "master_password.file")
        if path is not None:
            inp.master_password = Fact(path, r.src("master_password.file"))
