"""odoo-router under test: config/nginx-compat.yaml pointed at the echo upstreams."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .nginx_ref import REPO
from .procs import stop, wait_ready

COMPAT_CONFIG = REPO / "config" / "nginx-compat.yaml"


def router_config(
    port: int, upstream_ports: dict[str, int], access_log: str | None = None
) -> dict[str, Any]:
    """A copy of nginx-compat.yaml on loopback: own port, echo upstreams, no metrics, no
    access log unless a path is given."""
    data: dict[str, Any] = yaml.safe_load(COMPAT_CONFIG.read_text(encoding="utf-8"))
    if set(data["pools"]) != set(upstream_ports):
        raise AssertionError(
            f"{COMPAT_CONFIG}: pools {sorted(data['pools'])} != {sorted(upstream_ports)}"
        )
    data["server"]["listen"] = [f"127.0.0.1:{port}"]
    for name, pool in data["pools"].items():
        pool["servers"] = [f"127.0.0.1:{upstream_ports[name]}"]
    data["metrics"] = {"listen": None}
    data["logging"] = {"access_log": access_log}
    return data


def router_command(config: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment that serve `config`.

    CONFORMANCE_ROUTER_SRC=DIR runs the package found in DIR instead of the installed one:
    a patched copy, to show that the suite catches a broken router without touching the
    working tree.
    """
    env = dict(os.environ)
    other_src = env.pop("CONFORMANCE_ROUTER_SRC", None)
    if other_src:
        env["PYTHONPATH"] = other_src
        return [sys.executable, "-m", "odoo_router", "--config", str(config)], env
    script = Path(sys.executable).parent / "odoo-router"
    if script.exists():
        return [str(script), "--config", str(config)], env
    return [sys.executable, "-m", "odoo_router", "--config", str(config)], env


@dataclass
class RouterProcess:
    proc: subprocess.Popen[bytes]
    port: int
    tmp: Path

    def stop(self) -> None:
        stop(self.proc, self.tmp)

    def access_log(self) -> str:
        path = self.tmp / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self) -> str:
        path = self.tmp / "router.out"
        return path.read_text(errors="replace") if path.exists() else ""


def start_router(
    port: int, upstream_ports: dict[str, int], access_log: bool = False
) -> RouterProcess:
    """The router on nginx-compat.yaml; ``access_log``: JSON lines in ``access.log``."""
    tmp = Path(tempfile.mkdtemp(prefix="conformance-router-"))
    config = tmp / "router.yaml"
    log = str(tmp / "access.log") if access_log else None
    config.write_text(yaml.safe_dump(router_config(port, upstream_ports, log)), encoding="utf-8")
    with (tmp / "router.out").open("wb") as out:
        command, env = router_command(config)
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    handle = RouterProcess(proc, port, tmp)
    try:
        wait_ready(proc, port, "odoo-router")
    except BaseException as exc:
        log = handle.log()
        handle.stop()
        raise RuntimeError(f"odoo-router did not start:\n{log[-4000:]}") from exc
    return handle
