"""Where Traefik's configuration is, as the running container sees it, pure: which service
runs Traefik, where its static configuration may be, which files its file provider loads.
What the static configuration says is traefik_static.py's.

Rules (Traefik's loaders, tried in this order, the first that finds something wins; edge.py
follows them through the container's mounts):
1. a configuration file: ``--configFile``, else ``traefik.yml|yaml|toml`` in ``/etc/traefik``
   or ``/`` (the working directory);
2. command-line flags (``--providers.file.directory=/dynamic``; case-insensitive);
3. ``TRAEFIK_*`` environment variables.
The file provider loads ``.yml``,``.yaml`` and ``.toml`` files of its directory and of every
subdirectory (a backup folder inside it is loaded too).
"""

from __future__ import annotations

from pathlib import Path

from .composefile import Service

DYNAMIC_EXTENSIONS = (".yml", ".yaml", ".toml")
STATIC_PATHS = tuple(
    f"{d}/traefik.{e}" for d in ("/etc/traefik", "") for e in ("yml", "yaml", "toml")
)


def is_traefik(svc: Service) -> bool:
    repo = (svc.image or "").split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return repo == "traefik" or (bool(svc.command) and svc.command[0] == "traefik")


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
