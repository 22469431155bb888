"""The dynamic files as render_traefik edits them: read on demand, edited through YamlText
(``.yml``/``.yaml``) or TomlText (``.toml``, the same calls), keys matched
case-insensitively as Traefik does; the allowlist middleware's place (and the ipStrategy
of the allowlists it replaces), the router's Traefik service, services and transports left
unused by the migration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tomltext import TomlText
from .traefik_model import MiddlewareEntry, RouterEntry, RoutingTable
from .yamltext import YamlText

DynDoc = YamlText | TomlText


def dynamic_doc(text: str, name: str) -> DynDoc:
    """The editor for a dynamic file, by its extension as Traefik picks the decoder."""
    return TomlText(text, name) if name.lower().endswith(".toml") else YamlText(text, name)


@dataclass
class EdgeEdits:
    """The editor of each dynamic file touched, and the label operations on the router
    service (("set", key, value) or ("delete", key, ""))."""

    docs: dict[Path, DynDoc] = field(default_factory=dict)
    labels: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def ci(mapping: Any, key: str) -> str | None:
    """The key as written, matched case-insensitively (Traefik's keys are)."""
    if not isinstance(mapping, dict):
        return None
    return next((str(k) for k in mapping if str(k).lower() == key), None)


class Files:
    """The dynamic files, read as needed, each edited in its own format."""

    def __init__(self, texts: dict[Path, str], shown: dict[str, Path], edits: EdgeEdits) -> None:
        self.texts, self.shown, self.edits = texts, shown, edits
        self.dropped: dict[tuple[Path, tuple[str, ...]], set[str]] = {}
        self.filled: set[tuple[Path, tuple[str, ...]]] = set()

    def doc(self, path: Path) -> DynDoc:
        if path not in self.edits.docs:
            self.edits.docs[path] = dynamic_doc(self.texts[path], str(path))
        return self.edits.docs[path]

    def drop(self, path: Path, key: tuple[str, ...]) -> None:
        """Delete the entry at ``key`` (applied by ``finish``)."""
        self.dropped.setdefault((path, key[:-1]), set()).add(key[-1])

    def add(self, path: Path, base: tuple[str, ...], key: str, value: Any, **kw: Any) -> None:
        """A new entry in the mapping at ``base`` (it keeps that mapping from emptying)."""
        self.filled.add((path, base))
        self.doc(path).insert(base, key, value, **kw)

    def finish(self) -> None:
        """The recorded deletions. A mapping they would empty goes itself (Traefik refuses
        ``routers: {}`` as a standalone element), up to the file's top."""
        for (path, parent), keys in sorted(self.dropped.items(), key=lambda x: -len(x[0][1])):
            y = self.doc(path)
            node: Any = y.data
            for k in parent:
                node = node[k]
            while parent and keys >= {str(k) for k in node} and (path, parent) not in self.filled:
                keys = {parent[-1]} | self.dropped.get((path, parent[:-1]), set())
                self.dropped[(path, parent[:-1])] = keys
                parent = parent[:-1]
                node = y.data
                for k in parent:
                    node = node[k]
            for k in sorted(keys):
                if y.has((*parent, k)):
                    y.delete((*parent, k))
            self.dropped[(path, parent)] = set()

    def file_of(self, source: str) -> Path | None:
        return self.shown.get(source.rsplit(":", 1)[0])

    def section(self, path: Path, name: str) -> tuple[str, ...] | None:
        """The path of http.<name> in that file, keys as written."""
        data = self.doc(path).data
        h = ci(data, "http")
        s = ci(data.get(h) if h else None, name.lower())
        return (h, s) if h and s else None


def section_key(files: Files, path: Path, section: str, name: str) -> tuple[str, ...] | None:
    base = files.section(path, section)
    if base is None:
        return None
    data = files.doc(path).data[base[0]][base[1]]
    key = ci(data, name.lower()) if name not in data else name
    return (*base, key) if key is not None else None


def home_file(files: Files, table: RoutingTable, sibling: RouterEntry | None) -> Path | None:
    """The file that holds the Odoo routers (a new router's place), else one with routers,
    else the first file (YAML first)."""
    if sibling is not None and sibling.provider == "file":
        path = files.file_of(sibling.source)
        if path is not None:
            return path
    for r in table.routers:
        if r.provider == "file" and (path := files.file_of(r.source)) is not None:
            return path
    ordered = sorted(files.texts, key=lambda p: p.suffix.lower() == ".toml")
    return next(iter(ordered), None)


def sibling_fields(files: Files, sibling: RouterEntry | None) -> dict[str, Any]:
    """entryPoints and tls of the router a new one stands beside."""
    if sibling is None or sibling.provider != "file":
        return (
            {"entryPoints": list(sibling.entry_points)} if sibling and sibling.entry_points else {}
        )
    path = files.file_of(sibling.source)
    key = section_key(files, path, "routers", sibling.name.split("@")[0]) if path else None
    if path is None or key is None:
        return {}
    body = files.doc(path).data
    for k in key:
        body = body[k]
    out = {}
    for name in ("entryPoints", "tls"):
        found = ci(body, name.lower())
        if found is not None and body[found] is not None:
            out[name] = body[found]
    return out


def define_allowlist(
    files: Files, name: str, body: dict[str, Any], home: Path | None, first: list[Path | None]
) -> None:
    """The allowlist middleware ``name`` in a file that already holds middlewares (the one the
    removed dbfilter middlewares were in, first), else in ``home``."""
    with_mw = [p for p in files.texts if files.section(p, "middlewares") is not None]
    target = next((p for p in first if p in with_mw), None) or (with_mw[0] if with_mw else home)
    if target is None:
        return
    y = files.doc(target)
    base = files.section(target, "middlewares")
    if base is None:
        h = ci(y.data, "http")
        if h is None:
            y.insert((), "http", {"middlewares": {name: body}})
        else:
            y.insert((h,), "middlewares", {name: body})
        return
    if y.has((*base, name)):
        y.replace((*base, name), body)
    else:
        files.add(
            target,
            base,
            name,
            body,
            comment="admin host: office/VPN ranges only (odoo-router-migrate)",
        )


def is_allowlist(table: RoutingTable, name: str, ours: str) -> bool:
    """``name`` is an allowlist middleware other than ``ours``."""
    m = table.middlewares.get(name)
    return m is not None and m.source_range is not None and name != ours


def ip_strategy(replaced: list[MiddlewareEntry], edits: EdgeEdits) -> dict[str, Any] | None:
    """The ``ipStrategy`` of the allowlists the admin routers had (behind a CDN or a load
    balancer it says which X-Forwarded-For entry is the client): carried over."""
    found: dict[str, dict[str, Any]] = {}
    for m in replaced:
        strategy: dict[str, Any] = {}
        for key, value in m.config.items():
            head, _, rest = key.partition(".")
            if head.lower() != "ipstrategy":
                continue
            if isinstance(value, dict):
                strategy.update(value)
            elif rest:  # a label: ipstrategy.depth=1
                strategy[rest] = int(value) if str(value).isdigit() else value
        if strategy:
            found[m.name] = strategy
    if len({repr(sorted(v.items())) for v in found.values()}) > 1:
        edits.problems.append(
            "the admin routers' allowlists differ in ipStrategy ("
            + ", ".join(sorted(found))
            + "): say which X-Forwarded-For entry is the client by hand"
        )
        return None
    return next(iter(found.values()), None)


def services(
    files: Files,
    old_hosts: tuple[str, ...],
    service: str,
    url: str | None,
    home: Path | None,
    used: set[str],
) -> None:
    """Services aimed at the old container go when no router will use them (``used``: the
    file services the routers use after the edits); the router's is created if none."""
    transports: dict[str, tuple[Path, tuple[str, ...]]] = {}
    defined: set[str] = set()
    for path in files.texts:
        data = files.doc(path).data
        http = (data or {}).get(ci(data, "http") or "") or {}
        defined |= {str(k) for k in http.get(ci(http, "services") or "") or {}}
    for path in list(files.texts):
        base = files.section(path, "services")
        if base is None:
            continue
        y = files.doc(path)
        for name, body in list((y.data[base[0]][base[1]] or {}).items()):
            lb = (body or {}).get(ci(body, "loadbalancer") or "") or {}
            urls = [str((s or {}).get("url", "")) for s in lb.get(ci(lb, "servers") or "") or ()]
            if str(name) not in used and any(aimed_at(u, old_hosts) for u in urls):
                files.drop(path, (*base, str(name)))
                t = lb.get(ci(lb, "serverstransport") or "")
                if t:
                    transports[str(t).split("@")[0]] = (path, base)
    unused_transports(files, transports)
    short = service.split("@")[0]
    if url is not None and service.endswith("@file") and short not in defined and home:
        y = files.doc(home)
        body = {"loadBalancer": {"servers": [{"url": url}]}}
        base = files.section(home, "services")
        if base is None:
            y.insert((ci(y.data, "http") or "http",), "services", {short: body})
        else:
            files.add(home, base, short, body)


def unused_transports(files: Files, gone: dict[str, tuple[Path, tuple[str, ...]]]) -> None:
    for name in gone:
        for path in files.texts:
            base = files.section(path, "serversTransports")
            if base is not None and name in (files.doc(path).data[base[0]][base[1]] or {}):
                still = any(name in files.texts[p] and p != path for p in files.texts)
                if not still:
                    files.drop(path, (*base, name))


def aimed_at(url: str, hosts: tuple[str, ...]) -> bool:
    m = re.match(r"^[a-z]+://([^/:]+)", url)
    return m is not None and m.group(1) in hosts
