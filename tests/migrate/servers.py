"""Real local servers for the migrate tests: PostgreSQL, a private dockerd, and two small
HTTP fakes (Traefik's API, the router) for what cannot run here. All on loopback, all
bounded in time; a server that cannot start makes its tests skip with the reason."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.processes import end_process, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TEST_IMAGE = "orm-busybox:test"
IMAGE_TAGS = (
    "ghcr.io/seisei/seisei-odoo18:latest",
    "redis:7-alpine",
    "nginx:alpine",
    "odoo-router:latest",
)
# Containers stop at once on SIGTERM (busybox sleep as PID 1 would ignore it).
SLEEPER = "trap 'exit 0' TERM INT; while true; do sleep 1 & wait $!; done"


# --------------------------------------------------------------------------- postgres


@dataclass
class PgServer:
    host: str
    port: int
    bindir: Path
    user: str = "odoo"

    def psql(self, sql: str, db: str = "postgres") -> str:
        return subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                db,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    def cli_args(self) -> list[str]:
        return [
            "--pg-exec",
            "local",
            "--pg-host",
            self.host,
            "--pg-port",
            str(self.port),
            "--pg-user",
            self.user,
            "--pg-bindir",
            str(self.bindir),
        ]


@contextlib.contextmanager
def postgres(base: Path) -> Iterator[PgServer]:
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {PG_BIN}")
    base.mkdir(parents=True, exist_ok=True)
    shutil.chown(base, "postgres", "postgres")
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    shutil.chown(sock, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_pg,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = base / "log"
    subprocess.run(
        [
            *as_pg,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    try:
        server = PgServer("127.0.0.1", port, PG_BIN, user="postgres")
        server.psql("CREATE ROLE odoo LOGIN SUPERUSER")
        server.user = "odoo"
        yield server
    finally:
        subprocess.run(
            [*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )


def seed_databases(pg: PgServer, names: list[str]) -> None:
    for n, db in enumerate(names):
        pg.psql(f"CREATE DATABASE {db}")
        pg.psql(
            "CREATE TABLE res_partner (id serial PRIMARY KEY, name text NOT NULL);"
            "CREATE TABLE ir_attachment (id serial PRIMARY KEY, store_fname text, data bytea);"
            f"INSERT INTO res_partner (name) SELECT 'p' || g FROM generate_series(1, {10 + n}) g;"
            "INSERT INTO ir_attachment (store_fname, data) "
            f"SELECT 'ab/' || g, '\\x00ff0d0a'::bytea FROM generate_series(1, {3 + n}) g;",
            db,
        )


# --------------------------------------------------------------------------- docker


@dataclass
class DockerEngine:
    host: str  # DOCKER_HOST value
    compose: list[str] | None  # None: no compose implementation found

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        return subprocess.run(
            ["docker", *args],
            env=self.env(),
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
        ).stdout


def find_compose() -> list[str] | None:
    here = Path(sys.executable).parent / "docker-compose"
    for cand in (str(here), shutil.which("docker-compose")):
        if cand and Path(cand).exists():
            ok = subprocess.run([cand, "version"], capture_output=True, timeout=30)
            if ok.returncode == 0:
                return [cand]
    ok = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return ["docker", "compose"] if ok.returncode == 0 else None


def _rootfs_tar(base: Path) -> Path:
    root = base / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for tool in ("sh", "sleep", "tar", "du", "test", "ls", "cat", "echo", "mkdir", "true"):
        (root / "bin" / tool).symlink_to("busybox")
    # Stand-ins for what the real images have: healthcheck probes, the servers' commands.
    shims = {
        "python": "exit 0",
        "python3": "exit 0",
        "curl": "exit 0",
        "redis-server": f'exec sh -c "{SLEEPER}"',
        "odoo": f'exec sh -c "{SLEEPER}"',
        "redis-cli": "exit 0",
        "wget": "exit 0",
        "pg_isready": "exit 0",
    }
    for name, body in shims.items():
        p = root / "bin" / name
        p.write_text(f"#!/bin/sh\n{body}\n")
        p.chmod(0o755)
    for d in ("tmp", "var/lib/odoo", "etc/odoo", "data"):
        (root / d).mkdir(parents=True, exist_ok=True)
    tar = base / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True, timeout=60)
    return tar


@contextlib.contextmanager
def dockerd(base: Path) -> Iterator[DockerEngine]:
    if shutil.which("dockerd") is None:
        raise RuntimeError("dockerd is not installed")
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "d.sock"
    log = (base / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--data-root",
            str(base / "data"),
            "--exec-root",
            str(base / "x"),
            "--pidfile",
            str(base / "d.pid"),
            "-H",
            f"unix://{sock}",
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    engine = DockerEngine(f"unix://{sock}", find_compose())
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited {proc.returncode}: {(base / 'dockerd.log').read_text()[-500:]}"
                )
            r = subprocess.run(
                ["docker", "info"], env=engine.env(), capture_output=True, timeout=20
            )
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("dockerd did not answer within 40 s")
            time.sleep(0.3)
        tar = _rootfs_tar(base)
        engine.docker("import", "--change", f'CMD ["sh", "-c", "{SLEEPER}"]', str(tar), TEST_IMAGE)
        for tag in IMAGE_TAGS:
            engine.docker("tag", TEST_IMAGE, tag)
        yield engine
    finally:
        networks: list[str] = []
        with contextlib.suppress(Exception):
            ids = engine.docker("ps", "-aq", check=False).split()
            if ids:
                engine.docker("rm", "-f", *ids, check=False, timeout=60)
            # Bridge interfaces outlive a dockerd whose data root is deleted: remove the
            # networks while it runs, so it deletes their interfaces itself.
            networks = engine.docker("network", "ls", "-q", "--no-trunc", check=False).split()
            engine.docker("network", "prune", "-f", check=False, timeout=60)
        end_process(proc, grace=30)
        log.close()
        for net in networks:  # any bridge of ours still there (a dockerd killed mid-way)
            subprocess.run(["ip", "link", "del", f"br-{net[:12]}"], capture_output=True, timeout=10)
        # overlay mounts are gone with dockerd; whatever is left is removed best-effort
        subprocess.run(["umount", "-R", str(base / "data")], capture_output=True, timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def short_tmp() -> Path:
    """dockerd's unix sockets need a short path: /tmp/orm-XXXX."""
    return Path(tempfile.mkdtemp(prefix="orm-", dir="/tmp"))


def as_json(obj: object) -> bytes:
    return json.dumps(obj).encode()
