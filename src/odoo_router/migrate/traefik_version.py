"""Which Traefik runs, where that was read, and what the version implies for the files we write.

Sources, most to least direct: the API's ``/api/version`` body (live or from a snapshot), the
image reference in the edge compose file, the operator's inputs file. An image tag that does
not give the minor version (``latest``, ``v3``, a codename, an unset variable, a digest) gives an
:class:`UnknownVersion` with the reason; the caller then needs ``traefik_version`` in the inputs.

Facts (Traefik's source, ``pkg/config/dynamic/middlewares.go`` at the release tags):
- ``ipAllowList`` exists from 2.11.0 on; ``ipWhiteList`` exists in every 2.x and 3.x release
  (deprecated from 2.11 on, still decoded by 3.7 with a warning).
- v3 parses rules with the v3 matchers unless ``core.defaultRuleSyntax`` (static) or a
  router's ``ruleSyntax`` (3.0-3.x, deprecated) says ``v2``; 2.x only knows its own syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .yamltext.tabs import compose as compose_yaml

RuleSyntax = Literal["v2", "v3"]


class TraefikVersionError(ValueError):
    pass


@dataclass(frozen=True)
class TraefikVersion:
    major: int
    minor: int
    patch: int | None
    source: str  # "API", "snapshot", "image tag traefik:v3.7 in edge-traefik/docker-compose.yml:4"

    def __str__(self) -> str:
        tail = f".{self.patch}" if self.patch is not None else ""
        return f"{self.major}.{self.minor}{tail}"

    @property
    def key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def allowlist_middleware(self) -> str:
        """The allowlist middleware's key to write: ``ipAllowList`` from 2.11 on."""
        return "ipAllowList" if self.key >= (2, 11) else "ipWhiteList"

    @property
    def knows_rule_syntax_option(self) -> bool:
        """Router ``ruleSyntax`` and static ``core.defaultRuleSyntax`` exist on v3 only."""
        return self.major >= 3

    def rule_syntax(
        self, router_syntax: str | None = None, default_syntax: str | None = None
    ) -> RuleSyntax:
        """The syntax Traefik parses one router's rule with."""
        if self.major < 3:
            return "v2"
        for choice in (router_syntax, default_syntax):
            if choice in ("v2", "v3"):
                return choice  # type: ignore[return-value]
        return "v3"


@dataclass(frozen=True)
class UnknownVersion:
    reason: str
    source: str

    def __str__(self) -> str:
        return f"unknown ({self.reason})"


Version = TraefikVersion | UnknownVersion

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]*)?$")


def parse_version(text: str, source: str) -> Version:
    """``3.7.6``, ``v2.11``, ``v3.1.2-rc1``; anything without a minor is unknown."""
    m = _VERSION.match(text.strip())
    if not m:
        return UnknownVersion(f"{text.strip()!r} does not give major.minor", source)
    patch = int(m.group(3)) if m.group(3) is not None else None
    return TraefikVersion(int(m.group(1)), int(m.group(2)), patch, source)


def from_api_body(body: Any, source: str = "API") -> TraefikVersion:
    """The ``/api/version`` body: ``{"Version": "3.7.6", "Codename": ..., "startDate": ...}``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("Version"), str):
        raise TraefikVersionError(f"{source}: /api/version has no Version string")
    v = parse_version(body["Version"], source)
    if isinstance(v, UnknownVersion):
        raise TraefikVersionError(f"{source}: /api/version says {v.reason}")
    return v


# Compose interpolation: $$ is a literal $, ${VAR}, $VAR, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ...
_VAR = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?+])([^}]*))?\}|(\w+))")


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, str | None]:
    """Compose's variable substitution; returns (value, None) or (partial, reason unresolved)."""
    problem: list[str] = []

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        value = env.get(name)
        unset = value is None
        empty = unset or value == ""
        if op in (":-", "-"):
            return arg if (empty if op == ":-" else unset) else str(value)
        if op in (":+", "+"):
            return arg if not (empty if op == ":+" else unset) else ""
        if op in (":?", "?") and (empty if op == ":?" else unset):
            problem.append(f"variable {name} is not set ({arg or 'required'})")
            return ""
        if unset:
            problem.append(f"variable {name} is not set")
            return ""
        return str(value)

    out = _VAR.sub(sub, text)
    return out, (problem[0] if problem else None)


def from_image(image: str, env: Mapping[str, str], where: str) -> Version:
    """The version an image reference pins: ``traefik:v3.7``, ``docker.io/library/traefik:v2.10.7``.

    ``where`` says where the reference was read ("edge-traefik/docker-compose.yml:4").
    """
    ref, problem = interpolate(image, env)
    source = f"image tag {ref or image} in {where}"
    if problem:
        return UnknownVersion(f"{image}: {problem}", source)
    if "@" in ref:
        # Docker runs the digest and ignores a tag next to it: the tag proves nothing.
        return UnknownVersion(f"{ref}: pinned by digest, the tag does not say what runs", source)
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    if name.rsplit("/", 1)[-1] != "traefik":
        return UnknownVersion(f"{ref} is not a traefik image", source)
    if not tag:
        what = "an empty tag (not a valid reference)" if ref.endswith(":") else "no tag (latest)"
        return UnknownVersion(f"{ref} has {what}", source)
    return parse_version(tag, source)


def find_traefik_image(compose: Path, env: Mapping[str, str], label: str) -> Version | None:
    """The first service whose image is traefik in a compose file; ``label`` names the file in
    messages (a path relative to the stacks). None when no service runs traefik."""
    node = compose_yaml(compose.read_text(encoding="utf-8"))
    services = _child(node, "services")
    if not isinstance(services, yaml.MappingNode):
        return None
    for _key, svc in services.value:
        image = _child(svc, "image")
        if isinstance(image, yaml.ScalarNode):
            text = str(image.value)
            ref, problem = interpolate(text, env)
            base = ref.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
            if base == "traefik" or (problem and "traefik" in text.lower()):
                return from_image(text, env, f"{label}:{image.start_mark.line + 1}")
    return None


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None
