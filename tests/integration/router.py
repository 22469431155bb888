"""odoo-router as a subprocess on a free loopback port, with test configs built from the
shipped ones (config/nginx-compat.yaml, config/router.yaml).

The test configs keep every shipped host rule and route and only add, before the default
host, a few host rules of their own for failure tests (a pool on a closed port, routes with
a 1 s read timeout); ``listen``, pools, metrics and logging point at the test's loopback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.processes import end_process, free_port, health_ok
from odoo_router.security.passwords import hash_password

REPO = Path(__file__).resolve().parents[2]
COMPAT = REPO / "config" / "nginx-compat.yaml"
PRODUCTION = REPO / "config" / "router.yaml"

# Addresses used by the production profile tests (all on loopback, 127/8 is local on Linux).
TRUSTED_PROXY = "127.0.0.2"  # the only trusted proxy of the test production config
UNTRUSTED_PEER = "127.0.0.3"  # neither trusted nor in the admin allowlist
ADMIN_ALLOW = ["127.0.0.1/32", "10.0.0.0/8"]

TEST_HOSTS: list[dict[str, Any]] = [
    {
        "name": "test_timeouts",
        "exact": ["timeouts.test"],
        "dbfilter": "ten_timeouts",
        "routes": [
            {
                "name": "short",
                "prefix": "/",
                "proxy": {
                    "pool": "tenant",
                    "read_timeout": "1s",
                    "send_timeout": "1s",
                    "websocket": True,
                },
            }
        ],
    },
    {
        # Streamed request bodies on a pool that keeps no idle connection: every request
        # waits for a new upstream connection while its body keeps arriving.
        "name": "test_stream",
        "exact": ["stream.test"],
        "dbfilter": "ten_stream",
        "routes": [
            {
                "name": "stream",
                "prefix": "/",
                "proxy": {"pool": "stream", "request_buffering": False},
            }
        ],
    },
    {
        "name": "test_dead",
        "exact": ["dead.test"],
        "routes": [{"name": "dead", "prefix": "/", "proxy": {"pool": "dead"}}],
    },
]


AUTH_USER, AUTH_PASSWORD = "operator", "s3cret-Pass"
# Few iterations: the hash is only for tests (production hashes use 600,000).
AUTH_HASH = hash_password(AUTH_PASSWORD, iterations=1000)
TEST_HOSTS.append(
    {
        "name": "test_auth",
        "exact": ["auth.test"],
        "routes": [
            {
                "name": "private",
                "prefix": "/private",
                "auth": {"realm": "test realm", "users": {AUTH_USER: AUTH_HASH}},
                "proxy": {"pool": "admin"},
            },
            {"name": "public", "prefix": "/", "proxy": {"pool": "admin"}},
        ],
    }
)


def closed_port() -> int:
    """A port nothing listens on (bound and released: connect gets ECONNREFUSED)."""
    return free_port()


def _with_test_hosts(data: dict[str, Any]) -> None:
    hosts: list[dict[str, Any]] = data["hosts"]
    default_at = next(i for i, h in enumerate(hosts) if h.get("default"))
    hosts[default_at:default_at] = [dict(h) for h in TEST_HOSTS]


def _loopback(data: dict[str, Any], port: int, upstream_ports: dict[str, int]) -> None:
    data["server"]["listen"] = [f"127.0.0.1:{port}"]
    data["server"]["workers"] = 1
    data["server"]["shutdown_grace"] = "2s"
    for name, pool in data["pools"].items():
        pool["servers"] = [f"127.0.0.1:{upstream_ports[name]}"]
    data["pools"]["stream"] = {
        "servers": [f"127.0.0.1:{upstream_ports['tenant_lp']}"],
        "keepalive": 0,
    }
    data["pools"]["dead"] = {
        "servers": [f"127.0.0.1:{closed_port()}"],
        "keepalive": 2,
        "connect_timeout": "2s",
    }
    data["metrics"] = {"listen": None}
    data["logging"] = {"access_log": None}
    _with_test_hosts(data)


def compat_config(port: int, upstream_ports: dict[str, int]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPAT.read_text(encoding="utf-8"))
    _loopback(data, port, upstream_ports)
    # Spill request bodies to the temp file early (default 1 MiB), so the spill path is
    # exercised by ordinary bodies in every test against this router.
    data["server"]["request_buffer_memory"] = "64k"
    # Short client timeouts so the header and body timeouts can be seen in a test.
    data["server"]["client_header_timeout"] = "2s"
    data["server"]["client_body_timeout"] = "2s"
    return data


def shipped_rate_limits(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every route's ``rate_limit`` mapping in a config, route sets and hosts alike."""
    routes = [r for rs in (data.get("route_sets") or {}).values() for r in rs]
    routes += [r for h in data["hosts"] for r in h["routes"]]
    return [r["rate_limit"] for r in routes if isinstance(r, dict) and "rate_limit" in r]


def production_config(
    port: int, upstream_ports: dict[str, int], rate_limits: bool = False
) -> dict[str, Any]:
    """The production profile on loopback; its login rate limits kept on the same routes but
    out of reach (a burst no test reaches) unless ``rate_limits``: the session's router
    serves many tests' logins from one address (tests/integration/test_rate_limit.py tests
    the shipped limits on a router of its own)."""
    data: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text(encoding="utf-8"))
    _loopback(data, port, upstream_ports)
    data["server"]["forwarded"]["trusted_proxies"] = [f"{TRUSTED_PROXY}/32"]
    admin = next(h for h in data["hosts"] if h["name"] == "admin")
    admin["allow"] = list(ADMIN_ALLOW)
    if not rate_limits:
        for limit in shipped_rate_limits(data):
            limit["burst"] = 1_000_000
    return data


def router_command(config: Path, *args: str) -> list[str]:
    script = Path(sys.executable).parent / "odoo-router"
    if script.exists():
        return [str(script), *args, "--config", str(config)]
    return [sys.executable, "-m", "odoo_router", *args, "--config", str(config)]


@dataclass
class RouterProcess:
    proc: subprocess.Popen[bytes]
    port: int
    tmp: Path
    config: dict[str, Any]

    @property
    def config_path(self) -> Path:
        return self.tmp / "router.yaml"

    def log(self) -> str:
        path = self.tmp / "router.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        end_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_router(config: dict[str, Any], port: int, timeout: float = 20.0) -> RouterProcess:
    tmp = Path(tempfile.mkdtemp(prefix="integration-router-"))
    path = tmp / "router.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    with (tmp / "router.out").open("wb") as out:
        proc = subprocess.Popen(router_command(path), stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
    handle = RouterProcess(proc, port, tmp, config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if health_ok(port):
            return handle
        time.sleep(0.05)
    log = handle.log()
    handle.stop()
    raise RuntimeError(f"odoo-router did not become ready on {port}:\n{log[-4000:]}")
