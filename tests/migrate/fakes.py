"""HTTP fakes for what cannot run here.

FakeTraefik serves the real API shapes of /api/version and /api/http/routers, computed on
every request from what Traefik would load: the file provider's dynamic/*.yml (a v3 Traefik
drops the whole file on a v2-only key) and, when a docker engine is given, the docker
provider's container labels. FakeRouter answers like odoo-router in front of Odoo, per
host class, so verify's F2-F4 have something real to talk HTTP to.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from harness.stub_http import serve


def _file_routers(dynamic: Path, major: int) -> list[dict[str, Any]]:
    routers: list[dict[str, Any]] = []
    middlewares: set[str] = set()
    services: set[str] = set()
    loaded = []
    for f in sorted(dynamic.glob("*.y*ml")):
        text = f.read_text()
        if major >= 3 and "ipWhiteList" in text:
            continue  # v3 cannot decode the file: everything in it is gone
        loaded.append(yaml.safe_load(text) or {})
    for doc in loaded:
        http = doc.get("http") or {}
        middlewares |= {f"{m}@file" for m in http.get("middlewares") or {}}
        services |= set(http.get("services") or {})
    for doc in loaded:
        for name, r in ((doc.get("http") or {}).get("routers") or {}).items():
            mws = [m if "@" in m else f"{m}@file" for m in r.get("middlewares") or []]
            svc = str(r.get("service", ""))
            ok = all(m in middlewares for m in mws) and svc.split("@")[0] in services
            routers.append(
                {
                    "entryPoints": r.get("entryPoints", []),
                    "middlewares": mws or None,
                    "service": svc,
                    "rule": r.get("rule", ""),
                    "priority": r.get("priority", 0),
                    "tls": r.get("tls"),
                    "status": "enabled" if ok else "disabled",
                    "using": r.get("entryPoints", []),
                    "name": f"{name}@file",
                    "provider": "file",
                }
            )
    return routers


def _file_middlewares(dynamic: Path) -> list[dict[str, Any]]:
    """/api/http/middlewares' shape for the file provider's middlewares."""
    out = []
    for f in sorted(dynamic.glob("*.y*ml")):
        doc = yaml.safe_load(f.read_text()) or {}
        for name, mw in ((doc.get("http") or {}).get("middlewares") or {}).items():
            kind, conf = next(iter((mw or {"unknown": {}}).items()))
            out.append(
                {
                    kind: conf,
                    "status": "enabled",
                    "name": f"{name}@file",
                    "provider": "file",
                    "type": str(kind).lower(),
                }
            )
    return out


def _docker_routers(env: dict[str, str]) -> list[dict[str, Any]]:
    ids = subprocess.run(
        ["docker", "ps", "-q"], env=env, capture_output=True, text=True, timeout=30
    ).stdout.split()
    if not ids:
        return []
    info = json.loads(
        subprocess.run(
            ["docker", "inspect", *ids], env=env, capture_output=True, text=True, timeout=30
        ).stdout
    )
    out = []
    for c in info:
        labels = c["Config"].get("Labels") or {}
        if labels.get("traefik.enable") != "true":
            continue
        names = {k.split(".")[3] for k in labels if k.startswith("traefik.http.routers.")}
        for n in sorted(names):
            p = f"traefik.http.routers.{n}."
            out.append(
                {
                    "entryPoints": ["websecure"],
                    "service": labels.get(p + "service", n) + "@docker",
                    "rule": labels.get(p + "rule", ""),
                    "status": "enabled",
                    "name": f"{n}@docker",
                    "provider": "docker",
                    # Traefik's API shows tls for a router whose labels set any tls option
                    **({"tls": {}} if any(k.startswith(p + "tls") for k in labels) else {}),
                }
            )
    return out


@contextlib.contextmanager
def fake_traefik(
    dynamic: Path,
    version: str = "3.1.2",
    docker_env: dict[str, str] | None = None,
    per_page_cap: int = 100,
) -> Iterator[str]:
    major = int(version.split(".")[0])

    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/api/version":
            body: Any = {
                "Version": version,
                "Codename": "fake",
                "startDate": "2026-11-27T00:00:00Z",
            }
        elif req.path.startswith(("/api/http/routers", "/api/http/middlewares")):
            if req.path.startswith("/api/http/middlewares"):
                body = _file_middlewares(dynamic)
            else:
                body = _file_routers(dynamic, major)
                if docker_env is not None:
                    body += _docker_routers(docker_env)
            body.sort(key=lambda r: r["name"])
            # Traefik's paging: X-Next-Page is the next page, "1" on the last one.
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(req.path).query)
            page = int(query.get("page", ["1"])[0])
            per_page = min(int(query.get("per_page", ["100"])[0]), per_page_cap)
            start = (page - 1) * per_page
            more = start + per_page < len(body)
            body = body[start : start + per_page]
            headers = {
                "Content-Type": "application/json",
                "X-Next-Page": str(page + 1 if more else 1),
            }
            return 200, headers, json.dumps(body).encode()
        elif req.path.startswith("/api/http/middlewares"):
            body = []  # what the snapshot needs: a list (the fake does not model them)
        else:
            return 404, {}, b"404 page not found\n"
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    with serve(handle) as url:
        yield url


@contextlib.contextmanager
def fake_router(
    admin: str = "admin.erp.seisei.tokyo",
    named: tuple[str, ...] = ("testodoo.seisei.tokyo", "demo.nagashiro.top"),
    suffix: str = ".erp.seisei.tokyo",
    allow: tuple[str, ...] = ("127.0.0.0/8", "10.0.0.0/8"),
    broken_dbfilter: bool = False,
) -> Iterator[str]:
    nets = [ipaddress.ip_network(a) for a in allow]

    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        host = (req.headers.get("Host") or "").split(":")[0].lower()
        path = req.path
        client = (
            (req.headers.get("X-Forwarded-For") or req.client_address[0]).split(",")[-1].strip()
        )
        if path == "/nginx-health":
            return 200, {}, b"OK"
        if host == admin:
            if not any(ipaddress.ip_address(client) in n for n in nets):
                return 403, {}, b"Forbidden"
            return 200, {}, b"<html>admin</html>"
        if host in named:
            if path.startswith("/web/database/"):
                return 403, {}, b"Database management disabled"
            if path == "/web/login":
                if broken_dbfilter:
                    return 303, {"Location": "/web/database/selector"}, b""
                return 200, {}, b"<html>login</html>"
            return 404, {}, b"not found"
        if host.endswith(suffix):
            if path == "/web/login":
                return 302, {"Location": "https://biznexus.seisei.tokyo/login"}, b""
            return 302, {"Location": "https://biznexus.seisei.tokyo"}, b""
        return 421, {}, b"Unknown host"

    with serve(handle) as url:
        yield url
