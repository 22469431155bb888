"""Read a compose file the way ``docker compose`` sees it, pure.

Rules (the compose specification):
- The project name is the file's top-level ``name:``, else ``COMPOSE_PROJECT_NAME`` from the
  project's ``.env``, else the directory name, lowercased, keeping ``[a-z0-9_-]``.
- ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR?err}``, ``$VAR``
  and ``$$`` are interpolated from ``.env`` (the shell environment is not read: the same tree
  must render the same way on the server and on a laptop).
- A volume's real docker name is its ``name:``, or ``<project>_<key>``; an external volume
  without ``name:`` is its key. Networks likewise.
- Short mount syntax ``SRC:DST[:MODE]``: SRC is a host path when it starts with ``.``, ``/``
  or ``~``, else a named volume. Anchors and merge keys are resolved (yamlmarks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..configuration.yamlmarks import load_marked, syntax_error
from .yamltext.tabs import SafeLoader

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)


class ComposeError(Exception):
    """A compose file that cannot be read: ``file:line: message``."""


def read_env(text: str) -> dict[str, str]:
    """A ``.env`` file: KEY=VALUE lines, ``export`` prefix, quotes, ``#`` comments."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)
        env[key.strip()] = value
    return env


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution; unknown variables become empty strings (as compose
    does, with a warning)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end, value = _braced(text, i + 2, env)
            out.append(value)
            i = end
        else:
            m = _NAME.match(text, i + 1)
            if m is None:
                out.append("$")
                i += 1
            else:
                out.append(env.get(m.group(0), ""))
                i = m.end()
    return "".join(out)


def _braced(text: str, start: int, env: dict[str, str]) -> tuple[int, str]:
    """``${...}`` from ``start`` (after the brace): (index after the closing brace, value)."""
    m = _NAME.match(text, start)
    if m is None:
        raise ValueError(f"invalid interpolation in {text!r}")
    name, i = m.group(0), m.end()
    depth, j = 1, i
    while j < len(text) and depth:
        if text.startswith("${", j):
            depth, j = depth + 1, j + 2
            continue
        if text[j] == "}":
            depth -= 1
        j += 1
    if depth:
        raise ValueError(f"unclosed ${{ in {text!r}")
    rest = text[i : j - 1]
    value = env.get(name)
    for op in (":-", ":+", ":?", "-", "+", "?"):
        if rest.startswith(op):
            arg = interpolate(rest[len(op) :], env)
            empty = value is None or (op.startswith(":") and value == "")
            if op.endswith("-"):
                return j, arg if empty else str(value)
            if op.endswith("+"):
                return j, "" if empty else arg
            if empty:
                raise ValueError(f"required variable {name} is missing: {arg}")
            return j, str(value)
    if rest:
        raise ValueError(f"invalid interpolation ${{{name}{rest}}}")
    return j, value or ""


def normalise_project(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


@dataclass(frozen=True)
class Mount:
    source: str  # host path as written (relative to the project dir) or a volume key
    target: str
    kind: str  # bind | volume | tmpfs
    read_only: bool
    line: int

    def host_path(self, project_dir: Path) -> Path | None:
        """The bind source on the host (``~`` is left unresolved: None)."""
        if self.kind != "bind" or self.source.startswith("~"):
            return None
        src = Path(self.source)
        return src if src.is_absolute() else project_dir / src


@dataclass
class Service:
    name: str
    line: int
    raw: dict[str, Any]  # as parsed (merge keys resolved), not interpolated
    image: str | None  # interpolated
    container_name: str | None
    command: list[str]
    environment: dict[str, str]
    mounts: list[Mount]
    labels: dict[str, str]
    label_lines: dict[str, int]
    networks: list[str]
    network_mode: str | None

    def mount_at(self, target: str) -> Mount | None:
        """The mount that provides container path ``target`` (the deepest one)."""
        best: Mount | None = None
        for m in self.mounts:
            t = m.target.rstrip("/") or "/"
            inside = target == t or target.startswith(t.rstrip("/") + "/")
            if inside and (best is None or len(t) > len(best.target.rstrip("/"))):
                best = m
        return best


@dataclass
class ComposeFile:
    path: Path
    rel: str  # as shown in reports
    project: str
    project_source: str
    env: dict[str, str]
    data: dict[str, Any]
    lines: dict[str, int]
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.path.parent

    def line(self, path: str) -> int:
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                break
            probe = probe[:cut]
        return self.lines.get(probe, 1)

    def where(self, path: str) -> str:
        return f"{self.rel}:{self.line(path)}"

    def container(self, service: str) -> str:
        """The container's name: container_name, else compose's ``<project>-<service>-1``."""
        svc = self.services.get(service)
        if svc is not None and svc.container_name:
            return svc.container_name
        return f"{self.project}-{service}-1"

    def volume_name(self, key: str) -> str:
        spec = (self.data.get("volumes") or {}).get(key) or {}
        if isinstance(spec, dict) and spec.get("name"):
            return interpolate(str(spec["name"]), self.env)
        if isinstance(spec, dict) and spec.get("external"):
            return key
        return f"{self.project}_{key}"

    def network_name(self, key: str) -> str:
        spec = (self.data.get("networks") or {}).get(key) or {}
        if isinstance(spec, dict) and spec.get("name"):
            return interpolate(str(spec["name"]), self.env)
        if isinstance(spec, dict) and spec.get("external"):
            return key
        return f"{self.project}_{key}"

    def network_subnets(self, key: str) -> list[str]:
        spec = (self.data.get("networks") or {}).get(key) or {}
        ipam = (spec.get("ipam") or {}) if isinstance(spec, dict) else {}
        return [
            str(c["subnet"])
            for c in ipam.get("config") or ()
            if isinstance(c, dict) and c.get("subnet")
        ]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        import shlex

        try:
            return shlex.split(value)
        except ValueError:
            return value.split()
    return [str(v) for v in value]


def _as_dict(value: Any, env: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): interpolate("" if v is None else str(v), env) for k, v in value.items()}
    out: dict[str, str] = {}
    for item in value or ():
        key, _, val = str(item).partition("=")
        out[key] = interpolate(val, env)
    return out


def parse_mount(entry: Any, line: int, env: dict[str, str]) -> Mount | None:
    if isinstance(entry, dict):
        kind = str(entry.get("type") or "volume")
        target = str(entry.get("target") or "")
        source = interpolate(str(entry.get("source") or ""), env)
        return Mount(source, target, kind, bool(entry.get("read_only")), line)
    parts = interpolate(str(entry), env).split(":")
    if len(parts) == 1:
        return Mount("", parts[0], "volume", False, line)  # anonymous volume
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else ""
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return Mount(source, target, kind, "ro" in mode.split(","), line)


def _service(name: str, raw: Any, cf: ComposeFile) -> Service:
    if not isinstance(raw, dict):
        raise ComposeError(f"{cf.where(f'services.{name}')}: service {name} is not a mapping")
    env = cf.env
    base = f"services.{name}"
    mounts = []
    for i, v in enumerate(raw.get("volumes") or ()):
        m = parse_mount(v, cf.line(f"{base}.volumes[{i}]"), env)
        if m is not None:
            mounts.append(m)
    labels = raw.get("labels")
    label_lines: dict[str, int] = {}
    if isinstance(labels, dict):
        for k in labels:
            label_lines[str(k)] = cf.line(f"{base}.labels.{k}")
    else:
        for i, item in enumerate(labels or ()):
            label_lines[str(item).partition("=")[0]] = cf.line(f"{base}.labels[{i}]")
    nets = raw.get("networks")
    networks = [str(n) for n in (nets if isinstance(nets, list) else (nets or {}))]
    mode = raw.get("network_mode")
    if not networks and mode is None:
        networks = ["default"]
    image = raw.get("image")
    return Service(
        name=name,
        line=cf.line(base),
        raw=raw,
        image=interpolate(str(image), env) if image is not None else None,
        container_name=interpolate(str(raw["container_name"]), env)
        if raw.get("container_name")
        else None,
        command=[interpolate(a, env) for a in _as_list(raw.get("command"))],
        environment=_as_dict(raw.get("environment"), env),
        mounts=mounts,
        labels=_as_dict(labels, env),
        label_lines=label_lines,
        networks=networks,
        network_mode=str(mode) if mode is not None else None,
    )


def load_compose(path: Path, rel: str, text: str, env_text: str | None) -> ComposeFile:
    """Parse ``text`` (the file at ``path``, shown as ``rel``); ComposeError on bad YAML,
    duplicate keys or a bad interpolation, each with its line."""
    try:
        marked = load_marked(text, rel, SafeLoader)
    except yaml.YAMLError as exc:
        raise ComposeError(syntax_error(exc, rel)) from exc
    if marked.duplicate_keys:
        key, line = marked.duplicate_keys[0]
        raise ComposeError(f"{rel}:{line}: duplicate key {key}")
    data = marked.data
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ComposeError(f"{rel}:1: no services mapping")
    env = read_env(env_text) if env_text is not None else {}
    if data.get("name"):
        project, source = normalise_project(interpolate(str(data["name"]), env)), "name:"
    elif env.get("COMPOSE_PROJECT_NAME"):
        project, source = normalise_project(env["COMPOSE_PROJECT_NAME"]), ".env"
    else:
        project, source = normalise_project(path.parent.name), "directory name"
    cf = ComposeFile(path, rel, project, source, env, data, marked.lines)
    try:
        for name, raw in data["services"].items():
            cf.services[str(name)] = _service(str(name), raw, cf)
    except ValueError as exc:
        raise ComposeError(f"{rel}: {exc}") from exc
    return cf


def container_path(path: str) -> str:
    """Normalise a container path (``/etc/odoo/./odoo.conf`` -> ``/etc/odoo/odoo.conf``)."""
    return str(PurePosixPath("/") / PurePosixPath(path.lstrip("/")))
