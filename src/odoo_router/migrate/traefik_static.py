"""What Traefik's static (install) configuration says, with where it says it, pure.

Facts (Traefik docs ``getting-started/configuration-overview.md``; ``pkg/provider/docker``;
``pkg/config/static/static_config.go``):
- Static configuration comes from exactly one source, the first found of: a configuration
  file (``--configFile``, else ``traefik.yml|yaml|toml`` in /etc/traefik/ or /), the
  command-line flags, the ``TRAEFIK_*`` environment variables (where each is found is
  traefik_sources.py's and edge.py's business). Keys are case-insensitive; the names of
  entry points keep their case.
- ``--providers.docker`` alone enables the provider with its defaults: ``exposedByDefault``
  true, ``defaultRule`` ``Host(`{{ normalize .Name }}`)``.
- ``entryPoints.<name>.http.tls`` makes every router of that entry point a TLS router.
- ``core.defaultRuleSyntax`` (v3) sets the syntax of routers without ``ruleSyntax``.

Theory of operation: each source is read into one shape, ``TraefikStatic``: dotted keys
(lower-cased) -> the value as a string, with the file and line (or the flag) that set it.
Everything the migration needs is read from that one shape: the facts the report shows
with their source (``exposed_by_default``, the file provider) and the typed settings the
routing simulation uses (``StaticSettings``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..configuration.yamlmarks import load_marked, syntax_error
from .facts import Fact
from .tomltext import loads as toml_loads
from .traefik_providers import DEFAULT_RULE
from .yamltext.tabs import SafeLoader

_TRUE = ("true", "1", "t", "")


@dataclass(frozen=True)
class StaticSettings:
    """The settings that decide routing, typed, for the simulation."""

    source: str  # "command flags in edge-traefik/docker-compose.yml:3", "edge/traefik.yml"
    docker: bool
    exposed_by_default: bool
    default_rule: str
    file_directory: str | None  # as the container sees it
    file_filename: str | None
    watch: bool
    default_rule_syntax: str | None
    entry_points: Mapping[str, str]  # name -> address
    tls_entry_points: frozenset[str]
    precedence: tuple[str, ...] | None


@dataclass
class TraefikStatic:
    source: str  # where the static configuration came from
    settings: dict[str, Fact[str]] = field(default_factory=dict)  # lowercased dotted key
    written: dict[str, str] = field(default_factory=dict)  # lowercased key -> as written
    static_file: Path | None = None  # host path of traefik.yml, when that is the source

    def get(self, key: str) -> Fact[str] | None:
        return self.settings.get(key.lower())

    def _section(self, key: str) -> bool:
        """A section is on when it is set to a true value or given any option."""
        f = self.get(key)
        if f is not None and not _true(f.value):
            return False
        return f is not None or any(k.startswith(key + ".") for k in self.settings)

    @property
    def docker(self) -> bool:
        return self._section("providers.docker")

    @property
    def exposed_by_default(self) -> Fact[bool]:
        f = self.get("providers.docker.exposedbydefault")
        if f is None:
            return Fact(True, f"Traefik's default: not set in the {self.source}")
        return Fact(_true(f.value), f.source)

    @property
    def file_directory(self) -> Fact[str] | None:
        return self.get("providers.file.directory")

    @property
    def file_filename(self) -> Fact[str] | None:
        return self.get("providers.file.filename")

    def entry_points(self) -> dict[str, str]:
        """Entry point name (as written) -> address ("" when not given)."""
        out: dict[str, str] = {}
        for key, written in self.written.items():
            parts = key.split(".")
            if parts[0] == "entrypoints" and len(parts) > 2:
                name = written.split(".")[1]
                address = self.get(f"entrypoints.{parts[1]}.address")
                out[name] = address.value if address is not None else ""
        return out

    def typed(self) -> StaticSettings:
        """The settings the simulation uses."""
        value = self.get
        eps = self.entry_points()
        precedence = value("providers.precedence")
        syntax = value("core.defaultrulesyntax")
        rule = value("providers.docker.defaultrule")
        return StaticSettings(
            source=self.source,
            docker=self.docker,
            exposed_by_default=self.exposed_by_default.value,
            default_rule=rule.value if rule is not None else DEFAULT_RULE,
            file_directory=_value(self.file_directory),
            file_filename=_value(self.file_filename),
            watch=_true(_value(value("providers.file.watch")) or "false"),
            default_rule_syntax=_value(syntax),
            entry_points=eps,
            tls_entry_points=frozenset(
                n for n in eps if self._section(f"entrypoints.{n.lower()}.http.tls")
            ),
            precedence=tuple(p.strip().lower() for p in precedence.value.split(","))
            if precedence is not None
            else None,
        )


DEFAULTS = TraefikStatic("defaults")


def _true(value: str) -> bool:
    return value.strip().lower() in _TRUE


def _value(f: Fact[str] | None) -> str | None:
    return f.value if f is not None else None


def _put(st: TraefikStatic, key: str, value: str, source: str) -> None:
    st.settings[key.lower()] = Fact(value, source)
    st.written[key.lower()] = key


def _flatten(data: Any, prefix: str, emit: Callable[[str, str], None]) -> None:
    if isinstance(data, dict):
        if not data and prefix:
            emit(prefix, "true")  # "ping: {}" / "docker: {}" enables the section
        for k, v in data.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), emit)
    elif data is None:
        emit(prefix, "true")
    elif isinstance(data, list):
        if all(not isinstance(x, dict | list) for x in data):
            emit(prefix, ",".join(str(x) for x in data))  # as a flag would write it
    else:
        emit(prefix, str(data).lower() if isinstance(data, bool) else str(data))


def from_file(text: str, name: str, host: Path | None = None) -> TraefikStatic:
    """A static file (YAML or TOML by its name); ValueError with file:line when it does not
    parse."""
    st = TraefikStatic(source=name, static_file=host)
    lines: dict[str, int] = {}
    if name.lower().endswith(".toml"):
        try:
            data: Any = toml_loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{name}: not valid TOML: {exc}") from exc
    else:
        try:
            marked = load_marked(text, name, SafeLoader)
        except yaml.YAMLError as exc:
            raise ValueError(syntax_error(exc, name)) from exc
        data = marked.data or {}
        lines = {k.lower(): v for k, v in marked.lines.items()}

    def emit(key: str, value: str) -> None:
        line = lines.get(key.lower())
        _put(st, key, value, f"{name}:{line}" if line else name)

    _flatten(data if isinstance(data, dict) else {}, "", emit)
    return st


def from_flags(
    command: Sequence[str], source: str, where: Callable[[int], str] | None = None
) -> TraefikStatic | None:
    """From a container's command (``--providers.docker.exposedbydefault=false`` style; the
    ``traefik`` binary and arguments that are not flags skipped); ``where(i)`` names the
    i-th argument's line. None when no flag is given."""
    st = TraefikStatic(source=source)
    for i, arg in enumerate(command):
        if not arg.startswith("-") or (i == 0 and arg == "traefik"):
            continue
        key, sep, value = arg.lstrip("-").partition("=")
        _put(st, key, value if sep else "true", where(i) if where else source)
    return st if st.settings else None


def from_env(env: Mapping[str, str], source: str) -> TraefikStatic | None:
    """From ``TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT=false`` style variables, if any."""
    st = TraefikStatic(source=source)
    for k, v in env.items():
        if k.upper().startswith("TRAEFIK_"):
            _put(st, k[len("TRAEFIK_") :].lower().replace("_", "."), v, source)
    return st if st.settings else None
