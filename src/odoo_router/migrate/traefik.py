"""A narrow client for Traefik's HTTP API (``/api/version``, ``/api/http/routers``,
``/api/http/middlewares``) and the snapshot folder that keeps their bodies for offline use.

Only the fields we read are typed; the API pages long lists (``X-Next-Page`` header). A
snapshot is a folder with ``version.json``, ``http-routers.json`` and
``http-middlewares.json``: the bodies as Traefik sent them, lists joined over every page.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .traefik_model import RoutingTable, from_api
from .traefik_version import TraefikVersion, TraefikVersionError, from_api_body

SNAPSHOT_FILES = ("version.json", "http-routers.json", "http-middlewares.json")


class TraefikError(Exception):
    pass


@dataclass(frozen=True)
class Router:
    name: str  # with the provider suffix: "odoo-admin@file"
    provider: str
    rule: str
    service: str
    status: str
    middlewares: tuple[str, ...]
    entry_points: tuple[str, ...]

    @property
    def short_name(self) -> str:
        return self.name.split("@", 1)[0]

    @property
    def short_service(self) -> str:
        return self.service.split("@", 1)[0]


@dataclass
class TraefikAPI:
    base_url: str
    timeout: float = 5.0

    def _get(self, path: str) -> tuple[Any, str | None]:
        url = self.base_url.rstrip("/") + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                body = resp.read()
                next_page = resp.headers.get("X-Next-Page")
        except (urllib.error.URLError, OSError) as exc:
            raise TraefikError(f"Traefik API {url} unreachable: {exc}") from exc
        try:
            return json.loads(body), next_page
        except ValueError as exc:
            raise TraefikError(f"Traefik API {url} answered non-JSON") from exc

    def version(self) -> str:
        data, _ = self._get("/api/version")
        if not isinstance(data, dict) or "Version" not in data:
            raise TraefikError("Traefik /api/version has no Version field")
        return str(data["Version"])

    def version_body(self) -> dict[str, Any]:
        data, _ = self._get("/api/version")
        if not isinstance(data, dict):
            raise TraefikError("Traefik /api/version did not return an object")
        return data

    def list_body(self, path: str) -> list[dict[str, Any]]:
        """Every page of a list endpoint (``/api/http/routers``), joined."""
        out: list[dict[str, Any]] = []
        page = "1"
        for _ in range(100):  # bounded: 100 pages of 100 entries
            data, nxt = self._get(f"{path}?per_page=100&page={page}")
            if not isinstance(data, list):
                raise TraefikError(f"Traefik {path} did not return a list")
            out += [r for r in data if isinstance(r, dict)]
            # Traefik sends the next page number, and "1" on the last page.
            if not nxt or not nxt.isdigit() or int(nxt) <= int(page):
                break
            page = nxt
        return out

    def routers(self) -> list[Router]:
        return routers_from_body(self.list_body("/api/http/routers"))


def routers_from_body(body: list[dict[str, Any]]) -> list[Router]:
    return [
        Router(
            name=str(r.get("name", "")),
            provider=str(r.get("provider", "")),
            rule=str(r.get("rule", "")),
            service=str(r.get("service", "")),
            status=str(r.get("status", "")),
            middlewares=tuple(r.get("middlewares") or ()),
            entry_points=tuple(r.get("entryPoints") or ()),
        )
        for r in body
    ]


@dataclass(frozen=True)
class Snapshot:
    version: TraefikVersion  # source "snapshot <dir>"
    version_body: dict[str, Any]
    routers_body: list[dict[str, Any]]
    middlewares_body: list[dict[str, Any]]

    def routers(self) -> list[Router]:
        return routers_from_body(self.routers_body)

    def table(self) -> RoutingTable:
        return from_api(self.routers_body, self.middlewares_body, self.version, "snapshot")


def write_snapshot(api: TraefikAPI, directory: Path) -> Snapshot:
    """Fetch the three bodies and write them to ``directory`` (created; files replaced)."""
    version = api.version_body()
    routers = api.list_body("/api/http/routers")
    middlewares = api.list_body("/api/http/middlewares")
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in zip(SNAPSHOT_FILES, (version, routers, middlewares), strict=True):
        tmp = directory / f".{name}.tmp"
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(directory / name)
    return read_snapshot(directory)


def read_snapshot(directory: Path) -> Snapshot:
    """The snapshot in ``directory``; TraefikError naming the file for anything missing or wrong."""
    bodies: list[Any] = []
    for name in SNAPSHOT_FILES:
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TraefikError(f"snapshot {path}: cannot read ({exc.strerror or exc})") from exc
        try:
            bodies.append(json.loads(text))
        except ValueError as exc:
            raise TraefikError(f"snapshot {path}: not JSON ({exc})") from exc
    version_body, routers, middlewares = bodies
    for name, body in zip(SNAPSHOT_FILES[1:], (routers, middlewares), strict=True):
        if not isinstance(body, list) or not all(isinstance(x, dict) for x in body):
            raise TraefikError(f"snapshot {directory / name}: not a list of objects")
    try:
        version = from_api_body(version_body, f"snapshot {directory}")
    except TraefikVersionError as exc:
        raise TraefikError(str(exc)) from exc
    return Snapshot(version, version_body, routers, middlewares)


def major_version(version: str) -> int | None:
    m = re.match(r"^v?(\d+)\.", version.strip())
    return int(m.group(1)) if m else None
