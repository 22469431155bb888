"""The few static (install) settings of Traefik that decide routing, from where they are set.

Facts (Traefik docs ``getting-started/configuration-overview.md``; ``pkg/provider/docker``;
``pkg/config/static/static_config.go``):
- Static configuration comes from exactly one source, the first found of: a configuration
  file (``--configFile``, else ``traefik.yml|yaml|toml`` in /etc/traefik/, ...), the
  command-line flags, the ``TRAEFIK_*`` environment variables. Keys are case-insensitive.
- ``--providers.docker`` alone enables the provider with its defaults: ``exposedByDefault``
  true, ``defaultRule`` ``Host(`{{ normalize .Name }}`)``.
- ``entryPoints.<name>.http.tls`` makes every router of that entry point a TLS router.
- ``core.defaultRuleSyntax`` (v3) sets the syntax of routers without ``ruleSyntax``.
"""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from .traefik_providers import DEFAULT_RULE

_TRUE = ("true", "1", "t", "")


@dataclass(frozen=True)
class StaticSettings:
    source: str  # "command flags in edge-traefik/docker-compose.yml", "file traefik.yml", ...
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

    @classmethod
    def from_tree(cls, tree: Mapping[str, Any], source: str) -> StaticSettings:
        providers = _get(tree, "providers")
        docker = _get(providers, "docker")
        file = _get(providers, "file")
        eps = _get(tree, "entrypoints")
        eps = eps if isinstance(eps, Mapping) else {}
        precedence = _get(providers, "precedence")
        if isinstance(precedence, str):
            precedence = [p.strip() for p in precedence.split(",")]
        return cls(
            source=source,
            docker=docker is not None and _bool(docker, True),
            exposed_by_default=_bool(_get(docker, "exposedbydefault"), True),
            default_rule=str(_get(docker, "defaultrule") or DEFAULT_RULE),
            file_directory=_str(_get(file, "directory")),
            file_filename=_str(_get(file, "filename")),
            watch=_bool(_get(file, "watch"), False),
            default_rule_syntax=_str(_get(_get(tree, "core"), "defaultrulesyntax")),
            entry_points={str(k): str(_get(v, "address") or "") for k, v in eps.items()},
            tls_entry_points=frozenset(
                str(k) for k, v in eps.items() if _get(_get(v, "http"), "tls") is not None
            ),
            precedence=tuple(str(p).lower() for p in precedence) if precedence else None,
        )


def _get(tree: Any, key: str) -> Any:
    if not isinstance(tree, Mapping):
        return None
    return next((v for k, v in tree.items() if str(k).lower() == key), None)


def _str(v: Any) -> str | None:
    return None if v is None or isinstance(v, Mapping) else str(v)


def _bool(v: Any, default: bool) -> bool:
    if v is None:
        return default
    if isinstance(v, Mapping):
        return True  # a section given with sub-options is enabled
    return str(v).strip().lower() in _TRUE


def _put(tree: dict[str, Any], path: Sequence[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    if not isinstance(node.get(path[-1]), dict) or value not in ("", "true"):
        node[path[-1]] = value


def from_flags(command: Sequence[str] | str, source: str) -> StaticSettings:
    """From a compose ``command:`` (list or string), ``--providers.docker.exposedbydefault=false``
    style; arguments that are not flags are skipped."""
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    tree: dict[str, Any] = {}
    for arg in args:
        if not arg.startswith("-"):
            continue
        key, _, value = arg.lstrip("-").partition("=")
        _put(tree, key.lower().split("."), value)
    return StaticSettings.from_tree(tree, source)


def from_env(env: Mapping[str, str], source: str) -> StaticSettings | None:
    """From ``TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT=false`` style variables, if any."""
    tree: dict[str, Any] = {}
    for key, value in env.items():
        if key.upper().startswith("TRAEFIK_"):
            _put(tree, key[len("TRAEFIK_") :].lower().split("_"), value)
    return StaticSettings.from_tree(tree, source) if tree else None


def from_file(text: str, name: str) -> StaticSettings:
    """From a static configuration file (YAML or TOML by its name)."""
    data = tomllib.loads(text) if name.lower().endswith(".toml") else yaml.safe_load(text)
    return StaticSettings.from_tree(data if isinstance(data, Mapping) else {}, f"file {name}")


def choose(
    config_file: tuple[str, str] | None,
    command: Sequence[str] | str | None,
    env: Mapping[str, str],
    where: str,
) -> StaticSettings:
    """The one source Traefik uses: the file (text, name) if there is one, else the flags,
    else the environment, else the defaults."""
    if config_file is not None:
        return from_file(*config_file)
    args = shlex.split(command) if isinstance(command, str) else list(command or ())
    if any(str(a).startswith("-") for a in args):
        return from_flags(args, f"command flags in {where}")
    return from_env(env, f"environment in {where}") or StaticSettings.from_tree({}, "defaults")
