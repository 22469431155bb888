"""The processes under test and their upstreams, each started in its own directory."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench import nginx_conf
from bench.procs import Spawned, free_port, wait_http, wait_tcp

REPO = nginx_conf.REPO
ROUTER_BIN = REPO / ".venv" / "bin" / "odoo-router"
COMPAT = REPO / "config" / "nginx-compat.yaml"
NGINX = "/usr/sbin/nginx"


@dataclass
class Running:
    name: str
    port: int
    proc: Spawned
    access_log: Path | None = None  # the file it logs each request to

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.stop()


def _nginx(
    name: str, workdir: Path, http_body: str, workers: int, log: str = "access_log off;"
) -> Spawned:
    prefix = workdir / name
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / f"{kind}_temp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf.wrap(prefix, http_body, workers, log=log))
    argv = [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    return Spawned(name, argv, prefix / "stdout.log")


@dataclass
class Sink:
    """The one upstream for every target: nginx for HTTP, a uvloop echo for websockets."""

    http: Running
    websocket: Running

    @property
    def upstreams(self) -> nginx_conf.Upstreams:
        return nginx_conf.Upstreams(self.http.port, self.websocket.port)

    def stop(self) -> None:
        self.http.stop()
        self.websocket.stop()


def start_sink(workdir: Path, download_bytes: int, workers: int = 1) -> Sink:
    big = workdir / "download.bin"
    with big.open("wb") as fh:
        fh.truncate(0)
        fh.write(
            os.urandom(1 << 20) * (download_bytes >> 20) + os.urandom(download_bytes % (1 << 20))
        )
    port = free_port()
    http = Running("sink", port, _nginx("sink", workdir, nginx_conf.sink(port, big), workers))
    ws_port = free_port()
    ws_log = workdir / "ws_sink.log"
    ws = Running(
        "ws-sink",
        ws_port,
        Spawned(
            "ws-sink", [sys.executable, "-m", "bench.ws_sink", str(ws_port)], ws_log, child_env()
        ),
    )
    wait_http(port, "/", 10)
    wait_tcp(ws_port, 10)
    return Sink(http, ws)


def start_fake_odoo(workdir: Path, delay: float) -> Running:
    port = free_port()
    argv = [sys.executable, "-m", "bench.fake_odoo", str(port), "--delay", str(delay)]
    proc = Spawned("fake-odoo", argv, workdir / "fake_odoo.log", child_env())
    wait_http(port, "/web/health", 15)
    return Running("fake-odoo", port, proc)


def start_floor(
    workdir: Path, upstream_port: int, seconds: float, compiled: Path | None = None
) -> Running:
    """bench/floor_proxy.py, which exits by itself after ``seconds``; ``compiled`` is the
    directory compile_floor() built it in (the extension is imported, not run as a script)."""
    port = free_port()
    args = [str(port), str(upstream_port), str(seconds)]
    env = child_env()
    if compiled is None:
        name, argv = "floor", [sys.executable, "-m", "bench.floor_proxy", *args]
    else:
        name = "floor-mypyc"
        argv = [sys.executable, "-c", "import sys, floor_proxy; floor_proxy.main(sys.argv[1:])"]
        argv += args
        env["PYTHONPATH"] = str(compiled) + os.pathsep + env["PYTHONPATH"]
    proc = Spawned(name, argv, workdir / f"{name}.log", env)
    wait_http(port, "/web/bench/small", 10)
    return Running(name, port, proc)


def compile_floor(workdir: Path) -> Path:
    """bench/floor_proxy.py compiled by mypyc (as the router's data path is) in a directory
    of its own; raises RuntimeError with mypyc's output when it cannot be built."""
    out = workdir / "floor-mypyc"
    out.mkdir()
    shutil.copy(REPO / "bench" / "floor_proxy.py", out / "floor_proxy.py")
    argv = [sys.executable, "-m", "mypyc", "floor_proxy.py"]
    done = subprocess.run(argv, cwd=out, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not list(out.glob("floor_proxy.*.so")):
        raise RuntimeError(f"mypyc failed: {(done.stdout + done.stderr).strip()[-1500:]}")
    return out


def start_nginx(
    kind: str,
    workdir: Path,
    up: nginx_conf.Upstreams,
    workers: int,
    keepalive: int,
    *,
    access_log: Path | None = None,
    log_format: str = "json",
    name: str | None = None,
) -> Running:
    """kind: "nginx-ref" (reference as configured) or "nginx-tuned"; ``access_log`` a file
    to log every request to (``nginx_conf.access_log``), ``name`` the name in the table."""
    port = free_port()
    if kind == "nginx-ref":
        body = nginx_conf.reference(port, up)
    else:
        body = nginx_conf.tuned(port, up, keepalive)
    prefix = f"{kind}-w{workers}-{port}"
    log = nginx_conf.access_log(access_log, log_format)
    running = Running(name or kind, port, _nginx(prefix, workdir, body, workers, log), access_log)
    _ready(running, 10)
    return running


def router_config(
    port: int,
    up: nginx_conf.Upstreams,
    workers: int,
    cache: bool = False,
    *,
    compat: Path = COMPAT,
    access_log: Path | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``compat`` (config/nginx-compat.yaml) on loopback; ``cache`` adds a cached
    module_static route; ``access_log`` a file for the JSON access log (else none);
    ``metrics`` the metrics section (else none: no listener, no snapshots)."""
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(compat.read_text(encoding="utf-8")))
    data["server"]["listen"] = [f"127.0.0.1:{port}"]
    data["server"]["workers"] = workers
    data["metrics"] = metrics if metrics is not None else {"listen": None}
    data["logging"] = {"access_log": str(access_log) if access_log is not None else None}
    for name, pool in data["pools"].items():
        target = up.websocket if name.endswith("_lp") else up.http
        pool["servers"] = [f"127.0.0.1:{target}"]
    if cache:
        routes = data["route_sets"]["tenant_locations"]
        at = next(i for i, r in enumerate(routes) if r.get("name") == "static")
        routes.insert(
            at,
            {
                "name": "module_static",
                "regex": "^/[a-z0-9_]+/static/",
                "proxy": {"pool": "tenant", "cache": True},
            },
        )
    return data


def start_router(
    workdir: Path,
    up: nginx_conf.Upstreams,
    workers: int,
    cache: bool = False,
    *,
    router_bin: Path = ROUTER_BIN,
    compat: Path = COMPAT,
    access_log: Path | None = None,
    name: str = "odoo-router",
    wrap: tuple[str, ...] = (),
    ready_within: float = 20,
    metrics: dict[str, Any] | None = None,
) -> Running:
    """``router_bin`` and ``compat`` from another checkout run a baseline (bench/baseline.py);
    ``wrap`` runs it under another program (valgrind: give it ``ready_within`` to start)."""
    port = free_port()
    stem = f"{name.replace('@', '-').replace('+', '-')}-w{workers}-{port}"
    conf = workdir / f"{stem}.yaml"
    data = router_config(
        port, up, workers, cache, compat=compat, access_log=access_log, metrics=metrics
    )
    conf.write_text(yaml.safe_dump(data, sort_keys=False))
    argv = [*wrap, str(router_bin), "--config", str(conf)]
    proc = Spawned(stem, argv, workdir / f"{stem}.log", child_env())
    running = Running(name, port, proc, access_log)
    _ready(running, ready_within)
    return running


def _ready(running: Running, timeout: float) -> None:
    try:
        wait_http(running.port, "/nginx-health", timeout)
    except RuntimeError:
        running.proc.check()
        running.stop()
        raise


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
