"""One conformance case: the exact bytes a client sends, and the facts the comparison needs.

`make_case` derives the case classes the documented deviations key on (a Connection header
naming other headers, Proxy-Connection, an Upgrade header without Connection: upgrade).
"""

from __future__ import annotations

from dataclasses import dataclass, field

LIMIT = 50 * 1024 * 1024  # client_max_body_size 50M
HOP_BY_HOP = frozenset({"close", "keep-alive", "upgrade"})


@dataclass(frozen=True)
class HostForm:
    name: str
    hosts: tuple[str, ...]  # Host header values sent, in order (none, one, or a duplicate)
    absolute: str | None = None  # authority of an absolute-form request target
    version: str = "HTTP/1.1"

    def origin(self) -> str:
        authority = self.absolute or (self.hosts[0] if self.hosts else "localhost")
        return f"https://{authority}"


def body_bytes(n: int) -> bytes:
    pattern = bytes(range(256))
    return (pattern * (n // 256 + 1))[:n]


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    raw: bytes = field(repr=False)  # exactly what the client sends (up to 50 MiB)
    method: str
    classes: frozenset[str] = field(default_factory=frozenset)
    connection_tokens: frozenset[str] = frozenset()  # non-hop-by-hop names in Connection
    pipeline: tuple[str, ...] = ()  # methods of pipelined requests in `raw`; () for one

    @property
    def head(self) -> bool:
        return self.method == "HEAD"

    @property
    def heads(self) -> tuple[bool, ...]:
        return tuple(m == "HEAD" for m in self.pipeline) or (self.head,)


def build(
    form: HostForm,
    method: str,
    path: str,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> bytes:
    target = f"http://{form.absolute}{path}" if form.absolute else path
    lines = [f"{method} {target} {form.version}"]
    lines += [f"Host: {h}" if h else "Host:" for h in form.hosts]
    lines += [f"{k}: {v}" if v else f"{k}:" for k, v in headers]
    if body and content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _connection_tokens(headers: tuple[tuple[str, str], ...]) -> frozenset[str]:
    tokens = {
        t.strip().lower()
        for k, v in headers
        if k.lower() == "connection"
        for t in v.split(",")
        if t.strip()
    }
    return frozenset(tokens - HOP_BY_HOP)


def make_case(
    group: str,
    form: HostForm,
    method: str,
    path: str,
    variant: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    *,
    raw: bytes | None = None,
    extra_classes: frozenset[str] = frozenset(),
) -> Case:
    tokens = _connection_tokens(headers)
    classes = {group, f"host:{form.name}", *extra_classes}
    if tokens:
        classes.add("connection-tokens")
    if any(k.lower() == "proxy-connection" for k, _ in headers):
        classes.add("proxy-connection")
    connection = ",".join(v for k, v in headers if k.lower() == "connection").lower()
    if any(k.lower() == "upgrade" for k, _ in headers) and "upgrade" not in connection:
        classes.add("upgrade-without-connection")
    return Case(
        id="-".join(part for part in (group, form.name, method, path, variant) if part),
        group=group,
        raw=raw if raw is not None else build(form, method, path, headers, body),
        method=method,
        classes=frozenset(classes),
        connection_tokens=tokens,
    )
