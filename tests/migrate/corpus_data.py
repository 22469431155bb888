"""Reading the corpus of operator trees (tests/migrate/corpus/SCHEMA.md) for its own checks.

A strict YAML loader (a duplicate key is an error, as in Traefik and compose) and the few
facts about a tree that its checks need: the stacks, `.env`, and where Traefik's file
provider reads its dynamic configuration. Nothing here runs the migration tool.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
BAD = HERE / "corpus-bad"
TREES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())
COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
STATIC_PATHS = (
    "/etc/traefik/traefik.yml",
    "/etc/traefik/traefik.yaml",
    "/etc/traefik/traefik.toml",
    "/traefik.yml",
)


class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that refuses a duplicate key (PyYAML keeps the last one silently). On
    libyaml where PyYAML has it: Go's YAML (compose, Traefik) is a port of libyaml, whose
    scanner takes a tab before a comment after a value, where PyYAML's own refuses it."""


def _no_duplicates(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def strict_load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)


def load_dynamic(path: Path) -> Any:
    """A YAML file strictly, a TOML file (Traefik's two dynamic formats) by its name."""
    if path.suffix == ".toml":  # Traefik skips a byte order mark
        return tomllib.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
    return strict_load(path)


def expect(tree: str) -> dict[str, Any]:
    data = strict_load(CORPUS / tree / "expect.yaml")
    assert isinstance(data, dict)
    return data


def stacks(tree: str) -> Path:
    return CORPUS / tree / "srv" / "stacks"


def compose_file(stack: Path) -> Path:
    found = [stack / n for n in COMPOSE_NAMES if (stack / n).is_file()]
    assert len(found) == 1, f"{stack}: {found}"
    return found[0]


def dotenv(stack: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    path = stack / ".env"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    return env


def traefik_service(edge: Path) -> dict[str, Any]:
    services = strict_load(compose_file(edge))["services"]
    found = [s for s in services.values() if str(s.get("image", "")).startswith("traefik:")]
    assert len(found) == 1, edge
    service: dict[str, Any] = found[0]
    return service


def _host_path(edge: Path, service: dict[str, Any], target: str) -> Path | None:
    """The host path of a container path, through the service's bind mounts."""
    want = PurePosixPath(target)
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):  # the long syntax
            source, mount = str(volume.get("source", "")), PurePosixPath(volume["target"])
        else:
            source, _, rest = str(volume).partition(":")
            mount = PurePosixPath(rest.split(":")[0])
        if source.startswith((".", "/")) and (want == mount or mount in want.parents):
            base = edge / source if source.startswith(".") else Path(source)
            return base / want.relative_to(mount)
    return None


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _static_file(edge: Path, service: dict[str, Any]) -> Path | None:
    for target in STATIC_PATHS:
        static = _host_path(edge, service, target)
        if static is not None and static.is_file():
            return static
    return None


def load_static(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text(encoding="utf-8"))
    data: dict[str, Any] = strict_load(path)
    return data


def exposed_by_default(edge: Path) -> bool:
    """The docker provider's exposedByDefault, Traefik's default (true) when not written."""
    service = traefik_service(edge)
    for arg in _command(service):
        match = re.fullmatch(r"--providers\.docker\.exposedbydefault=(\w+)", arg, re.IGNORECASE)
        if match:
            return match.group(1).lower() == "true"
    static = _static_file(edge, service)
    if static is not None:
        docker = load_static(static)["providers"].get("docker") or {}
        return bool(docker.get("exposedByDefault", True))
    return True


def entry_points(edge: Path) -> dict[str, bool]:
    """Traefik's entry points, each with whether it makes its routers TLS (``http.tls``)."""
    service = traefik_service(edge)
    out: dict[str, bool] = {}
    for arg in _command(service):
        match = re.fullmatch(r"--entrypoints\.([^.=]+)\.([^=]+)(=.*)?", arg, re.IGNORECASE)
        if match:
            tls = match.group(2).lower().startswith("http.tls")
            out[match.group(1)] = out.get(match.group(1), False) or tls
    static = _static_file(edge, service)
    if not out and static is not None:
        for name, ep in (load_static(static).get("entryPoints") or {}).items():
            out[str(name)] = ((ep or {}).get("http") or {}).get("tls") is not None
    return out


def file_provider_dir(edge: Path) -> Path:
    """The tree's directory that Traefik's file provider watches (flags or traefik.y[a]ml),
    or its one file (``providers.file.filename``)."""
    service = traefik_service(edge)
    for arg in _command(service):
        match = re.fullmatch(r"--providers\.file\.directory=(.+)", arg, flags=re.IGNORECASE)
        if match:
            found = _host_path(edge, service, match.group(1))
            assert found is not None, arg
            return found
    static = _static_file(edge, service)
    if static is not None:
        file = load_static(static)["providers"]["file"]
        found = _host_path(edge, service, file.get("directory") or file["filename"])
        assert found is not None, file
        return found
    raise AssertionError(f"{edge}: no file provider directory")


def dynamic_files(edge: Path) -> list[Path]:
    """What the file provider loads: its directory's files, or its one file (filename)."""
    source = file_provider_dir(edge)
    if source.is_file():
        return [source]
    return sorted(p for p in source.rglob("*") if p.suffix in (".yml", ".yaml", ".toml"))


def copy_dynamic(source: Path, dest: Path) -> None:
    """A directory Traefik reads as it reads ``source`` (a directory, or one file)."""
    if source.is_file():
        dest.mkdir(parents=True)
        shutil.copy(source, dest / source.name)
    else:
        shutil.copytree(source, dest)
