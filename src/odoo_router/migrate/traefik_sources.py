"""Traefik's static configuration as the running container sees it, pure.

Rules (Traefik's loaders, tried in this order, the first that finds something wins):
1. a configuration file: ``--configFile``, else ``traefik.yml|yaml|toml`` in ``/etc/traefik``
   or ``/`` (the working directory), found through the container's mounts;
2. command-line flags (``--providers.file.directory=/dynamic``; case-insensitive);
3. ``TRAEFIK_*`` environment variables.
The docker provider's ``exposedByDefault`` is true unless something says false. The file
provider loads ``.yml``,``.yaml`` and ``.toml`` files of its directory and of every
subdirectory (a backup folder inside it is loaded too).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..yamlmarks import load_marked
from .composefile import ComposeFile, Service
from .facts import Fact

DYNAMIC_EXTENSIONS = (".yml", ".yaml", ".toml")
STATIC_PATHS = tuple(
    f"{d}/traefik.{e}" for d in ("/etc/traefik", "") for e in ("yml", "yaml", "toml")
)


def is_traefik(svc: Service) -> bool:
    repo = (svc.image or "").split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return repo == "traefik" or (bool(svc.command) and svc.command[0] == "traefik")


@dataclass
class TraefikStatic:
    source: str  # where the static configuration came from
    settings: dict[str, Fact[str]] = field(default_factory=dict)  # lowercased dotted key
    static_file: Path | None = None  # host path of traefik.yml, when that is the source
    ignored: list[str] = field(default_factory=list)  # flags a config file makes Traefik skip

    def get(self, key: str) -> Fact[str] | None:
        return self.settings.get(key.lower())

    @property
    def docker(self) -> bool:
        return any(
            k == "providers.docker" or k.startswith("providers.docker.") for k in self.settings
        )

    @property
    def exposed_by_default(self) -> Fact[bool]:
        f = self.get("providers.docker.exposedbydefault")
        if f is None:
            return Fact(True, f"Traefik's default: not set in the {self.source}")
        return Fact(f.value.strip().lower() in ("true", "1", "t"), f.source)

    @property
    def file_directory(self) -> Fact[str] | None:
        return self.get("providers.file.directory")

    @property
    def file_filename(self) -> Fact[str] | None:
        return self.get("providers.file.filename")


def _flatten(data: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(data, dict):
        if not data and prefix:
            out[prefix] = "true"  # "ping: {}" / "docker: {}" enables the section
        for k, v in data.items():
            _flatten(v, f"{prefix}.{str(k).lower()}" if prefix else str(k).lower(), out)
    elif data is None:
        out[prefix] = "true"
    elif not isinstance(data, list):
        out[prefix] = str(data).lower() if isinstance(data, bool) else str(data)


def from_file(text: str, name: str, host: Path) -> TraefikStatic:
    """A static file (YAML or TOML); ValueError with file:line when it does not parse."""
    flat: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if name.endswith(".toml"):
        try:
            _flatten(tomllib.loads(text), "", flat)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{name}: not valid TOML: {exc}") from exc
    else:
        try:
            marked = load_marked(text, name)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{name}:{mark.line + 1}" if mark is not None else name
            raise ValueError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
        _flatten(marked.data or {}, "", flat)
        lines = {k.lower(): v for k, v in marked.lines.items()}
    st = TraefikStatic(source=name, static_file=host)
    for k, v in flat.items():
        st.settings[k] = Fact(str(v), f"{name}:{lines[k]}" if k in lines else name)
    return st


def from_flags(svc: Service, cf: ComposeFile) -> TraefikStatic | None:
    args = svc.command[1:] if svc.command[:1] == ["traefik"] else svc.command
    st = TraefikStatic(source=f"command flags in {cf.rel}:{svc.line}")
    for i, arg in enumerate(args):
        if not arg.startswith("--"):
            continue
        key, sep, value = arg[2:].partition("=")
        st.settings[key.lower()] = Fact(
            value if sep else "true", cf.where(f"services.{svc.name}.command[{i}]")
        )
    return st if st.settings else None


def from_env(svc: Service, cf: ComposeFile) -> TraefikStatic | None:
    st = TraefikStatic(source=f"TRAEFIK_* environment in {cf.rel}:{svc.line}")
    for k, v in svc.environment.items():
        if k.upper().startswith("TRAEFIK_"):
            key = k[len("TRAEFIK_") :].lower().replace("_", ".")
            st.settings[key] = Fact(v, cf.where(f"services.{svc.name}.environment"))
    return st if st.settings else None


def config_file_target(svc: Service) -> str | None:
    """``--configFile=X`` (or the env form) when the service names one."""
    for i, arg in enumerate(svc.command):
        low = arg.lower()
        if low.startswith("--configfile="):
            return arg.split("=", 1)[1]
        if low == "--configfile" and i + 1 < len(svc.command):
            return svc.command[i + 1]
    return svc.environment.get("TRAEFIK_CONFIGFILE")


def list_dynamic(directory: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(files Traefik loads, other files, subdirectories) under the file provider's directory,
    sorted as Traefik reads them (by name, depth first)."""
    loaded: list[Path] = []
    others: list[Path] = []
    subdirs: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        for p in sorted(d.iterdir(), key=lambda x: x.name):
            if p.is_dir():
                subdirs.append(p)
                if depth < 8:
                    walk(p, depth + 1)
            elif p.suffix.lower() in DYNAMIC_EXTENSIONS:
                loaded.append(p)
            else:
                others.append(p)

    if directory.is_dir():
        walk(directory, 0)
    return loaded, others, subdirs
