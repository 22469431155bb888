"""Value parsers (sizes, durations, addresses) and the problem-collecting reader that the
config validation uses: each check names the key path and the line it came from."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, TypeVar

from .model import IPNetwork, Problem

T = TypeVar("T")


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


# --------------------------------------------------------------------------- validation


class _Reader:
    """Collects problems; each check names the key path and the line it came from."""

    def __init__(self, lines: dict[str, int], filename: str) -> None:
        self.lines = lines
        self.filename = filename
        self.problems: list[Problem] = []
        self.skip_pool_check = False

    def where(self, path: str) -> str | None:
        probe = path
        while True:
            if probe in self.lines:
                return f"{self.filename}:{self.lines[probe]}"
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                return f"{self.filename}:{self.lines[probe]}" if probe in self.lines else None
            probe = probe[:cut]

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, self.where(path)))

    def mapping(
        self, value: object, path: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return None
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                hint = _closest(str(key), allowed)
                self.error(
                    _sub(path, key), "unknown key" + (f" (did you mean '{hint}'?)" if hint else "")
                )
        for key in required:
            if key not in value:
                self.error(_sub(path, key), "missing required key")
        return value

    def get(
        self,
        data: dict[str, Any],
        path: str,
        key: str,
        parse: Callable[[object], T],
        default: T,
    ) -> T:
        if key not in data:
            return default
        try:
            return parse(data[key])
        except (ValueError, TypeError) as exc:
            self.error(_sub(path, key), str(exc))
            return default


def _sub(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _closest(word: str, options: set[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.75)
    return found[0] if found else None


def _as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_kind(value)}")
    return value


def _as_opt_str(value: object) -> str | None:
    return None if value is None else _as_str(value)


def _as_int(lo: int, hi: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_kind(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _as_status(allowed: range | tuple[int, ...]) -> Callable[[object], int]:
    def parse(value: object) -> int:
        status = _as_int(100, 599)(value)
        if status not in allowed:
            raise ValueError(f"status {status} is not allowed here")
        return status

    return parse


def _as_networks(value: object) -> tuple[IPNetwork, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of CIDRs, got {_kind(value)}")
    return tuple(parse_network(v) for v in value)


def _as_workers(value: object) -> int:
    if value == "auto":
        return 0
    return _as_int(1, 256)(value)


def _as_listen(value: object) -> tuple[tuple[str, int], ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("at least one listen address is needed")
    return tuple(parse_hostport(v) for v in items)


def _as_samesite(value: object) -> str | None:
    if value is None:
        return None
    if value not in ("Lax", "Strict", "None"):
        raise ValueError(f"expected Lax, Strict, None or null, got {value!r}")
    return str(value)
