"""A narrow client for Traefik's HTTP API: ``/api/version`` and ``/api/http/routers``.

Only the fields we read are typed; the API pages long lists (``X-Next-Page`` header).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


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

    def routers(self) -> list[Router]:
        out: list[Router] = []
        page = "1"
        for _ in range(100):  # bounded: 100 pages of 100 routers
            data, nxt = self._get(f"/api/http/routers?per_page=100&page={page}")
            if not isinstance(data, list):
                raise TraefikError("Traefik /api/http/routers did not return a list")
            for r in data:
                out.append(
                    Router(
                        name=str(r.get("name", "")),
                        provider=str(r.get("provider", "")),
                        rule=str(r.get("rule", "")),
                        service=str(r.get("service", "")),
                        status=str(r.get("status", "")),
                        middlewares=tuple(r.get("middlewares") or ()),
                        entry_points=tuple(r.get("entryPoints") or ()),
                    )
                )
            # Traefik sends the next page number, and "1" on the last page.
            if not nxt or not nxt.isdigit() or int(nxt) <= int(page):
                break
            page = nxt
        return out


def major_version(version: str) -> int | None:
    m = re.match(r"^v?(\d+)\.", version.strip())
    return int(m.group(1)) if m else None
