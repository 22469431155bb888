"""What the nginx router does with one request (host, path), pure: a small interpreter.

Rules (nginx's documented semantics, the subset a database router uses):
- Server: exact ``server_name``, then the longest ``*.x`` wildcard, the longest ``x.*``,
  the first matching ``~regex``, else the ``default_server``, else the first server.
- Location: ``= path``; else the longest prefix, which wins at once when ``^~``; else the
  first matching ``~``/``~*`` regex (those nested in the longest prefix first); else the
  longest prefix. ``@name`` only by ``try_files``/``error_page`` jumps.
- Rewrite phase, server level first then the location's, in order: ``set``, ``if``,
  ``return``, ``rewrite``, ``break``. A true ``if`` runs its own directives; its content
  handler (``proxy_pass``, ``try_files``) replaces the location's.
- ``proxy_set_header`` is inherited from the enclosing level only when the level itself has
  none. A header whose value is empty is not sent at all; a header nginx does not set is
  passed on as the client sent it (``dbfilter=None`` below).
- ``map`` matches exact keys (case-insensitively for hosts), then with ``hostnames`` the
  longest ``*.x`` and ``x.*`` masks, then the first regex, else ``default``; named captures
  of a map regex become variables; ``$1``.. refer to the last regex matched.
- Files never exist: ``try_files`` goes to its last argument, ``-f`` is false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .nginx_parse import Directive
from .nginx_vars import Request, Step, Variables, capture, host_mask_match, pcre_to_python, read_map


@dataclass(frozen=True)
class Outcome:
    kind: str  # proxy | return | static
    where: str  # the directive that decided (proxy_pass, return, rewrite)
    upstream: str | None = None  # proxy: upstream name, or host:port
    dbfilter: str | None = None  # proxy: X-Odoo-dbfilter sent; "" cleared; None client's
    header_where: str | None = None  # where that header is set
    status: int | None = None  # return
    text: str | None = None  # return: redirect target or body
    trace: tuple[Step, ...] = ()

    @property
    def redirect(self) -> str | None:
        return self.text if self.status in (301, 302, 303, 307, 308) else None


@dataclass
class NginxConfig(Variables):
    """The http context: maps, upstreams, servers."""

    directives: list[Directive] = field(default_factory=list)
    upstreams: dict[str, tuple[list[str], Directive]] = field(default_factory=dict)
    servers: list[Directive] = field(default_factory=list)
    http: list[Directive] = field(default_factory=list)

    @classmethod
    def build(cls, directives: list[Directive]) -> NginxConfig:
        http_blocks = [d for d in directives if d.name == "http" and d.block is not None]
        body = [x for h in http_blocks for x in h.block or ()] if http_blocks else directives
        cfg = cls(directives=directives, http=body)
        for d in body:
            if d.name == "map" and d.block is not None:
                m = read_map(d)
                cfg.maps[m.var] = m
            elif d.name == "upstream" and d.block is not None and d.args:
                servers = [s.args[0] for s in d.children("server") if s.args]
                cfg.upstreams[d.args[0]] = (servers, d)
            elif d.name == "server" and d.block is not None:
                cfg.servers.append(d)
        return cfg

    # ------------------------------------------------------------------ selection
    def server(self, host: str, port: int | None = None) -> Directive | None:
        servers = [s for s in self.servers if port is None or port in _ports(s)]
        if not servers:
            servers = list(self.servers)
        exact, wild_pre, wild_suf, regex = [], [], [], []
        for s in servers:
            for d in s.children("server_name"):
                for name in d.args:
                    n = name.lower()
                    if n.startswith("~"):
                        regex.append((s, name[1:]))
                    elif n.startswith(("*.", ".")):
                        wild_pre.append((s, n))
                    elif n.endswith(".*"):
                        wild_suf.append((s, n))
                    elif n == host:
                        exact.append(s)
        if exact:
            return exact[0]
        for group in (wild_pre, wild_suf):
            found = [(s, n) for s, n in group if host_mask_match(n, host)]
            if found:
                return max(found, key=lambda x: len(x[1]))[0]
        for s, rx in regex:
            if re.search(pcre_to_python(rx), host):
                return s
        defaults = [
            s for s in servers if any("default_server" in d.args for d in s.children("listen"))
        ]
        pick = defaults or servers
        return pick[0] if pick else None

    def _server_captures(self, req: Request, server: Directive) -> None:
        for d in server.children("server_name"):
            for name in d.args:
                if name.startswith("~"):
                    mt = re.search(pcre_to_python(name[1:]), req.host)
                    if mt:
                        capture(req, mt)
                        req.server_name = name
                        return
                elif name.lower() == req.host:
                    req.server_name = name
                    return

    def location(self, req: Request, block: list[Directive], path: str) -> Directive | None:
        locs = [d for d in block if d.name == "location" and d.block is not None and d.args]
        for d in locs:
            if d.args[0] == "=" and len(d.args) > 1 and d.args[1] == path:
                return d
        prefixes = []
        for d in locs:
            if len(d.args) == 1 and not d.args[0].startswith("@"):
                prefixes.append((d, d.args[0], False))
            elif len(d.args) == 2 and d.args[0] == "^~":
                prefixes.append((d, d.args[1], True))
        matching = [x for x in prefixes if path.startswith(x[1])]
        longest = max(matching, key=lambda x: len(x[1])) if matching else None
        if longest is not None and longest[2]:
            return longest[0]
        if longest is not None:
            nested = self._regex_location(req, longest[0].block or [], path)
            if nested is not None:
                return nested
        found = self._regex_location(req, locs, path)
        if found is not None:
            return found
        return longest[0] if longest is not None else None

    def _regex_location(self, req: Request, locs: list[Directive], path: str) -> Directive | None:
        for d in locs:
            if d.name != "location" or len(d.args) != 2 or d.args[0] not in ("~", "~*"):
                continue
            flags = re.I if d.args[0] == "~*" else 0
            mt = re.search(pcre_to_python(d.args[1]), path, flags)
            if mt:
                capture(req, mt)
                return d
        return None

    def named(self, server: Directive, name: str) -> Directive | None:
        return next((d for d in server.children("location") if d.args == [name]), None)

    # ------------------------------------------------------------------ running
    def request(self, host: str, path: str, port: int | None = None) -> Outcome:
        req = Request(host, path)
        server = self.server(req.host, port)
        if server is None:
            return Outcome("return", "", status=444, text="no server block")
        self._server_captures(req, server)
        levels: list[list[Directive]] = [self.http, server.block or []]
        early = self._rewrite(req, server.block or [], levels)
        if isinstance(early, Outcome):
            return early
        if early is not None:
            return self._follow(req, server, early, levels, 0)
        return self._in_location(req, server, self.location(req, server.block or [], path), levels)

    def _in_location(
        self,
        req: Request,
        server: Directive,
        loc: Directive | None,
        levels: list[list[Directive]],
        hops: int = 0,
    ) -> Outcome:
        if hops > 10:
            return Outcome("return", server.where, status=500, text="rewrite or jump loop")
        if loc is None:
            return Outcome("static", server.where, trace=tuple(req.trace))
        here = [*levels, loc.block or []]
        early = self._rewrite(req, loc.block or [], here)
        if isinstance(early, Outcome):
            return early
        if early is not None:
            return self._follow(req, server, early, here, hops)
        return self._content(req, server, loc.block or [], here, levels, hops)

    def _follow(
        self,
        req: Request,
        server: Directive,
        jump: _Jump,
        here: list[list[Directive]],
        hops: int,
    ) -> Outcome:
        levels = [self.http, server.block or []]
        if jump.if_block is not None:
            block = jump.if_block.block or []
            return self._content(req, server, block, [*here, block], levels, hops)
        return self._in_location(req, server, self.named(server, jump.name or ""), levels, hops + 1)

    def _content(
        self,
        req: Request,
        server: Directive,
        block: list[Directive],
        here: list[list[Directive]],
        levels: list[list[Directive]],
        hops: int,
    ) -> Outcome:
        for d in block:
            if d.name == "try_files" and d.args:
                last = d.args[-1]
                if last.startswith("@"):
                    req.trace.append(Step(d.where, f"try_files -> {last}"))
                    target = self.named(server, last)
                    return self._in_location(req, server, target, levels, hops + 1)
                if last.startswith("=") and last[1:].isdigit():
                    status = int(last[1:])
                    return Outcome("return", d.where, status=status, trace=tuple(req.trace))
            if d.name == "proxy_pass" and d.args:
                return self._proxy(req, d, here)
        return Outcome("static", server.where, trace=tuple(req.trace))

    def _proxy(self, req: Request, d: Directive, here: list[list[Directive]]) -> Outcome:
        url = self.expand(req, d.args[0])
        target = re.sub(r"^[a-z]+://", "", url).split("/", 1)[0]
        headers: list[Directive] = []
        for level in reversed(here):
            headers = [h for h in level if h.name == "proxy_set_header"]
            if headers:
                break
        value: str | None = None
        header_where = None
        for h in headers:
            if len(h.args) == 2 and h.args[0].lower() == "x-odoo-dbfilter":
                value, header_where = self.expand(req, h.args[1]), h.where
        return Outcome(
            "proxy", d.where, upstream=target, dbfilter=value, header_where=header_where,
            trace=tuple(req.trace),
        )  # fmt: skip

    def _rewrite(
        self, req: Request, block: list[Directive], here: list[list[Directive]]
    ) -> Outcome | _Jump | None:
        """Run the rewrite-phase directives of ``block``: an Outcome ends the request, a
        _Jump goes on elsewhere, None goes on to the content phase."""
        for d in block:
            if d.name == "set" and len(d.args) == 2:
                req.vars[d.args[0].lstrip("$")] = self.expand(req, d.args[1])
            elif d.name == "break":
                return None
            elif d.name == "return" and d.args:
                return self._return(req, d, here)
            elif d.name == "rewrite" and len(d.args) >= 2:
                out = self._rewrite_one(req, d)
                if out is not None:
                    return out
            elif d.name == "if" and d.block is not None and self._condition(req, d):
                req.trace.append(Step(d.where, f"if ({' '.join(d.args).strip('()')}) is true"))
                early = self._rewrite(req, d.block, [*here, d.block])
                if early is not None:
                    return early
                if any(x.name in ("proxy_pass", "try_files") for x in d.block):
                    return _Jump(if_block=d)
        return None

    def _return(self, req: Request, d: Directive, here: list[list[Directive]]) -> Outcome | _Jump:
        first = d.args[0]
        if not first.isdigit():
            target = self.expand(req, first)
            return Outcome("return", d.where, status=302, text=target, trace=tuple(req.trace))
        status = int(first)
        for level in reversed(here):
            for e in level:
                if e.name == "error_page" and str(status) in e.args and e.args[-1].startswith("@"):
                    req.trace.append(Step(e.where, f"error_page {status} -> {e.args[-1]}"))
                    return _Jump(name=e.args[-1])
        text = self.expand(req, d.args[1]) if len(d.args) > 1 else None
        return Outcome("return", d.where, status=status, text=text, trace=tuple(req.trace))

    def _rewrite_one(self, req: Request, d: Directive) -> Outcome | None:
        mt = re.search(pcre_to_python(d.args[0]), req.path)
        if not mt:
            return None
        req.captures = tuple(g or "" for g in mt.groups())
        target = self.expand(req, d.args[1])
        flag = d.args[2] if len(d.args) > 2 else ""
        if flag in ("redirect", "permanent") or target.startswith(("http://", "https://")):
            status = 301 if flag == "permanent" else 302
            return Outcome("return", d.where, status=status, text=target, trace=tuple(req.trace))
        req.path = target.split("?", 1)[0]
        return None

    def _condition(self, req: Request, d: Directive) -> bool:
        args = list(d.args)
        if args:
            args[0] = args[0].lstrip("(")
            args[-1] = args[-1].rstrip(")")
        args = [a for a in args if a != ""]
        if len(args) == 1:
            a = args[0]
            return self.expand(req, a) not in ("", "0")
        if len(args) == 2 and args[0] in ("-f", "-d", "-e", "-x"):
            return False
        if len(args) == 2 and args[0] in ("!-f", "!-d", "!-e", "!-x"):
            return True
        if len(args) == 3:
            left, op, right = self.expand(req, args[0]), args[1], args[2]
            if op == "=":
                return left == self.expand(req, right)
            if op == "!=":
                return left != self.expand(req, right)
            if op in ("~", "~*", "!~", "!~*"):
                flags = re.I if op.endswith("*") else 0
                mt = re.search(pcre_to_python(right), left, flags)
                if mt:
                    capture(req, mt)
                return bool(mt) != op.startswith("!")
        raise ValueError(f"{d.where}: cannot read the condition {' '.join(d.args)}")


@dataclass(frozen=True)
class _Jump:
    """Go on elsewhere: a named location (``@admin``), or the content handler of a true
    ``if`` block."""

    name: str | None = None
    if_block: Directive | None = None


def _ports(server: Directive) -> set[int]:
    out: set[int] = set()
    for d in server.children("listen"):
        if not d.args:
            continue
        addr = d.args[0]
        port = addr.rsplit(":", 1)[-1] if ":" in addr and not addr.endswith("]") else addr
        if port.isdigit():
            out.add(int(port))
        elif "ssl" not in d.args:
            out.add(80)
    return out or {80}
