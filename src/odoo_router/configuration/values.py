"""Values of router.yaml: sizes, durations, addresses and networks, and the typed field
parsers the section readers pass to ``Reader.get`` (each raises ValueError with the text a
problem line shows after its key path)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from .model import IPNetwork

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_size(value: object) -> int:
    """nginx-style sizes: 1024, "8k", "50m", "50M", "50MiB", "1g"."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 50m, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ValueError(f"expected a size such as 8k or 50m, got {value!r}")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def parse_duration(value: object) -> float:
    """Durations: 60, "60s", "500ms", "5m", "1h"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 60s, got a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _DURATION_RE.match(str(value))
    if not m:
        raise ValueError(f"expected a duration such as 60s or 500ms, got {value!r}")
    scale = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}[m.group(2)]
    return float(m.group(1)) * scale


def parse_hostport(value: object, default_port: int | None = None) -> tuple[str, int]:
    """ "host:port", "[::1]:80", or a bare host when a default port is given."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected 'host:port', got {value!r}")
    text = value.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {value!r}")
        host, rest = text[1:end], text[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise ValueError(f"expected ':port' after ']' in {value!r}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise ValueError(f"write IPv6 addresses in brackets: '[{text}]:80'")
    else:
        host, port_text = text, None
    if port_text is None:
        if default_port is None:
            raise ValueError(f"missing port in {value!r}")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port {port_text!r} in {value!r}")
    if not host:
        raise ValueError(f"missing host in {value!r}")
    return host, int(port_text)


def parse_network(value: object) -> IPNetwork:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError as exc:
        raise ValueError(f"not a CIDR or address: {value!r}") from exc


def as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {kind(value)}")
    return value


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {kind(value)}")
    return value


def as_header_text(value: object) -> str:
    """Text the router writes into a response head as it is (a redirect's Location, a
    respond's headers, a realm): Latin-1, as the head is encoded, and no control character
    but tab (a CR or LF would end the header line, or the head, where the config says)."""
    text = as_str(value)
    if not all(c == "\t" or " " <= c <= "~" or "\xa0" <= c <= "\xff" for c in text):
        raise ValueError(
            f"expected text an HTTP header can carry (Latin-1, no control characters), got {text!r}"
        )
    return text


def as_opt_str(value: object) -> str | None:
    return None if value is None else as_str(value)


def as_int(lo: int, hi: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {kind(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def as_status(allowed: range | tuple[int, ...]) -> Callable[[object], int]:
    def parse(value: object) -> int:
        status = as_int(100, 599)(value)
        if status not in allowed:
            raise ValueError(f"status {status} is not allowed here")
        return status

    return parse


def as_networks(value: object) -> tuple[IPNetwork, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of CIDRs, got {kind(value)}")
    return tuple(parse_network(v) for v in value)


def as_workers(value: object) -> int:
    if value == "auto":
        return 0
    return as_int(1, 256)(value)


def as_listen(value: object) -> tuple[tuple[str, int], ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("at least one listen address is needed")
    return tuple(parse_hostport(v) for v in items)


def as_samesite(value: object) -> str | None:
    if value is None:
        return None
    if value not in ("Lax", "Strict", "None"):
        raise ValueError(f"expected Lax, Strict, None or null, got {value!r}")
    return str(value)


def kind(value: object) -> str:
    """What a value is, in the words of a problem line: "expected a list, got a string"."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
