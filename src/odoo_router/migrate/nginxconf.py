"""Read the routing facts out of the nginx database router (default.conf), pure.

Only what the migration needs: the host maps (which hosts are admin, which name a tenant
database, the subdomain pattern), the tenant UI redirects and the upstream servers. A
config that does not have this shape is reported, not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class NginxParseError(Exception):
    pass


@dataclass(frozen=True)
class RouterFacts:
    admin_hosts: tuple[str, ...]
    named: tuple[tuple[str, str], ...]  # (host, database)
    subdomain_regex: str | None  # Python syntax, named group(s)
    subdomain_dbfilter: str | None  # template: "ten_{subdomain}"
    login_redirect: str | None
    root_redirect: str | None
    default_redirect: str | None
    upstreams: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


def _map(text: str, var: str) -> list[tuple[str, str]]:
    m = re.search(r"map\s+\$host\s+\$" + re.escape(var) + r"\s*\{(.*?)\n\s*\}", text, re.S)
    if m is None:
        raise NginxParseError(f"no `map $host ${var}` block")
    entries = []
    for raw in m.group(1).split(";"):
        parts = raw.split()
        if len(parts) == 2:
            key, value = parts
            entries.append((key, value.strip("\"'")))
        elif parts:
            raise NginxParseError(f"map ${var}: cannot read entry {raw.strip()!r}")
    return entries


def _redirect(text: str, location: str) -> str | None:
    m = re.search(location + r"\s*\{(.*?)\n    \}", text, re.S)
    if m is None:
        return None
    r = re.search(
        r"if\s*\(\$is_tenant_subdomain\s*=\s*1\)\s*\{\s*return\s+30[12]\s+(\S+?);", m.group(1)
    )
    return r.group(1) if r else None


def parse_router_conf(text: str) -> RouterFacts:
    body = _strip_comments(text)
    tenant_db = _map(body, "tenant_db")
    is_admin = _map(body, "is_admin")
    admin_hosts = tuple(
        k for k, v in is_admin if v == "1" and k != "default" and not k.startswith("~")
    )
    if not admin_hosts:
        raise NginxParseError("map $is_admin names no admin host")
    named: list[tuple[str, str]] = []
    sub_regex = sub_filter = None
    for key, value in tenant_db:
        if key == "default" or key in admin_hosts:
            continue
        if key.startswith("~"):
            # PCRE named groups (?<name>...) -> Python (?P<name>...); $name -> {name}
            sub_regex = re.sub(r"\(\?<(\w+)>", r"(?P<\1>", key[1:])
            sub_filter = re.sub(r"\$(\w+)", r"{\1}", value)
            try:
                re.compile(sub_regex)
            except re.error as exc:
                raise NginxParseError(
                    f"map $tenant_db: regex {key!r} is not portable: {exc}"
                ) from exc
        elif value:
            named.append((key, value))
    upstreams: dict[str, tuple[str, ...]] = {}
    for m in re.finditer(r"upstream\s+(\w+)\s*\{(.*?)\}", body, re.S):
        upstreams[m.group(1)] = tuple(re.findall(r"server\s+(\S+?);", m.group(2)))
    return RouterFacts(
        admin_hosts=admin_hosts,
        named=tuple(named),
        subdomain_regex=sub_regex,
        subdomain_dbfilter=sub_filter,
        login_redirect=_redirect(body, r"location\s*=\s*/web/login"),
        root_redirect=_redirect(body, r"location\s*=\s*/"),
        default_redirect=_redirect(body, r"location\s+/"),
        upstreams=upstreams,
    )
