"""nginx variables for the evaluator (nginx_eval.py), pure: built-ins, ``set``, captures
and ``map`` lookups, each map hit recorded with its line (the facts cite them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .nginx_parse import Directive

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Step:
    where: str
    what: str


def pcre_to_python(rx: str) -> str:
    return re.sub(r"\(\?<(\w+)>", r"(?P<\1>", rx).replace("(?'", "(?P<")


@dataclass
class MapDef:
    source: str
    var: str
    directive: Directive
    hostnames: bool = False
    exact: dict[str, tuple[str, Directive]] = field(default_factory=dict)
    masks: list[tuple[str, str, Directive]] = field(default_factory=list)  # (mask, value, d)
    regexes: list[tuple[re.Pattern[str], str, Directive]] = field(default_factory=list)
    default: tuple[str, Directive | None] = ("", None)


def read_map(d: Directive) -> MapDef:
    if len(d.args) != 2:
        raise ValueError(f"{d.where}: map takes a source and a variable")
    m = MapDef(d.args[0], d.args[1].lstrip("$"), d)
    for e in d.block or ():
        if e.name == "hostnames" and not e.args:
            m.hostnames = True
            continue
        if e.name == "volatile" and not e.args:
            continue
        if len(e.args) != 1:
            raise ValueError(f"{e.where}: map entry {e.name!r} needs exactly one value")
        key, value = e.name, e.args[0]
        if key == "default":
            m.default = (value, e)
        elif key.startswith("~"):
            flags = re.I if key.startswith("~*") else 0
            rx = key[2:] if key.startswith("~*") else key[1:]
            try:
                m.regexes.append((re.compile(pcre_to_python(rx), flags), value, e))
            except re.error as exc:
                raise ValueError(f"{e.where}: map regex {key!r} is not portable: {exc}") from exc
        elif m.hostnames and (key.startswith(("*.", ".")) or key.endswith(".*")):
            m.masks.append((key.lower(), value, e))
        else:
            m.exact.setdefault(key.removeprefix("\\").lower(), (value, e))
    return m


def host_mask_match(mask: str, host: str) -> bool:
    if mask.startswith("*."):
        return host.endswith(mask[1:])
    if mask.startswith("."):
        return host == mask[1:] or host.endswith(mask)
    if mask.endswith(".*"):
        return host.startswith(mask[:-1])
    return False


class Request:
    def __init__(self, host: str, path: str) -> None:
        self.host, self.path = host.lower(), path
        self.vars: dict[str, str] = {}
        self.captures: tuple[str, ...] = ()
        self.trace: list[Step] = []
        self.server_name = ""


def capture(req: Request, mt: re.Match[str]) -> None:
    """A regex matched: ``$1``.. and its named groups become variables."""
    req.captures = tuple(g or "" for g in mt.groups())
    req.vars.update({k: v or "" for k, v in mt.groupdict().items()})


@dataclass
class Variables:
    maps: dict[str, MapDef] = field(default_factory=dict)

    def var(self, req: Request, name: str) -> str:
        if name.isdigit():
            n = int(name)
            return req.captures[n - 1] if 0 < n <= len(req.captures) else ""
        if name in req.vars:
            return req.vars[name]
        builtin = {
            "host": req.host,
            "http_host": req.host,
            "server_name": req.server_name,
            "uri": req.path,
            "document_uri": req.path,
            "request_uri": req.path,
            "scheme": "http",
            "request_method": "GET",
        }
        if name in builtin:
            return builtin[name]
        if name in self.maps:
            value = self._lookup(req, self.maps[name])
            req.vars[name] = value
            return value
        return ""

    def expand(self, req: Request, text: str) -> str:
        return _VAR.sub(lambda m: self.var(req, m.group(1) or m.group(2)), text)

    def _lookup(self, req: Request, m: MapDef) -> str:
        src = self.expand(req, m.source)
        key = src.lower() if m.source in ("$host", "$http_host", "$server_name") else src
        hit: tuple[str, Directive | None, str] | None = None
        if key in m.exact:
            value, d = m.exact[key]
            hit = (value, d, key)
        if hit is None and m.masks:
            found = [x for x in m.masks if host_mask_match(x[0], key)]
            if found:
                mask, value, d = max(found, key=lambda x: len(x[0]))
                hit = (value, d, mask)
        saved = req.captures
        if hit is None:
            for rx, value, d in m.regexes:
                mt = rx.search(src)
                if mt:
                    capture(req, mt)
                    hit = (value, d, "~" + rx.pattern)
                    break
        if hit is None:
            hit = (m.default[0], m.default[1], "default")
        out = self.expand(req, hit[0])
        req.captures = saved
        if hit[1] is not None:
            req.trace.append(Step(hit[1].where, f"map {m.source} ${m.var}: {hit[2]} -> {out!r}"))
        return out
