"""The runbook's "before" state on a private Docker engine: the fixture tree's odoo18-prod
and seisei-odoo stacks up, files in the Odoo data volume, Traefik and router fakes, and
helpers to run odoo-router-migrate in-process or as a killable subprocess."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from odoo_router.migrate import cli
from odoo_router.migrate.fsops import tree_digest

from .fakes import fake_router, fake_traefik
from .servers import TEST_IMAGE, DockerEngine, PgServer

DATA_FILE = "/var/lib/odoo/filestore/ten_acme/ab/abcdef"


@dataclass
class Stack:
    root: Path
    engine: DockerEngine
    pg: PgServer
    traefik_url: str
    router_url: str
    extra: list[str] = field(default_factory=list)

    @property
    def stacks(self) -> Path:
        return self.root / "srv" / "stacks"

    def args(self, command: str, *more: str) -> list[str]:
        assert self.engine.compose is not None
        return [
            command,
            "--root",
            str(self.root),
            *self.pg.cli_args(),
            "--traefik-api",
            self.traefik_url,
            "--router-url",
            self.router_url,
            "--helper-image",
            "ghcr.io/seisei/seisei-odoo18:latest",
            "--compose",
            " ".join(self.engine.compose),
            "--stop-timeout",
            "3",
            "--health-timeout",
            "30",
            "--verify-timeout",
            "4",
            "--router-health-interval",
            "1s",
            # whatever subnets the private dockerd picked for its networks are trusted
            "--trusted-proxy",
            "127.0.0.0/8",
            "--trusted-proxy",
            "172.16.0.0/12",
            "--trusted-proxy",
            "192.168.0.0/16",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--admin-allow",
            "127.0.0.0/8",
            "--admin-allow",
            "10.0.0.0/8",
            "--yes",
            *self.extra,
            *more,
        ]

    def run(self, command: str, *more: str) -> tuple[int, str]:
        """In-process: (exit code, stdout)."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.run(self.args(command, *more))
        return code, out.getvalue()

    def run_sub(
        self, command: str, *more: str, crash_at: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = self.engine.env()
        if crash_at:
            env[cli.CRASH_ENV] = crash_at
        return subprocess.run(
            [sys.executable, "-m", "odoo_router.migrate.cli", *self.args(command, *more)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def digest(self) -> dict[str, str]:
        return tree_digest(self.root / "srv")

    def state(self, name: str) -> str | None:
        out = self.engine.docker("inspect", "-f", "{{.State.Status}}", name, check=False).strip()
        return out or None

    def compose(self, project: str, *args: str) -> None:
        assert self.engine.compose is not None
        d = self.stacks / project
        f = compose_file(d)
        assert f is not None, d
        subprocess.run(
            [
                *self.engine.compose,
                "--project-directory",
                str(d),
                "-p",
                project,
                "-f",
                str(f),
                *args,
            ],
            env=self.engine.env(),
            check=True,
            capture_output=True,
            timeout=120,
        )


COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


@dataclass(frozen=True)
class RouterHosts:
    """What the fake router answers for (verify's F2-F4): a tree's admin host, named tenant
    hosts and tenant subdomain suffix."""

    admin: str = "admin.erp.seisei.tokyo"
    named: tuple[str, ...] = ("testodoo.seisei.tokyo", "demo.nagashiro.top")
    suffix: str = ".erp.seisei.tokyo"


def copy_tree(src: Path, dest: Path) -> Path:
    """A temp root holding a copy of ``src`` (a directory with srv/stacks/...)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def compose_file(stack_dir: Path) -> Path | None:
    return next((stack_dir / n for n in COMPOSE_NAMES if (stack_dir / n).is_file()), None)


def _is_traefik(d: Path) -> bool:
    f = compose_file(d)
    services = (yaml.safe_load(f.read_text()) or {}).get("services") or {} if f else {}
    return any(str((s or {}).get("image", "")).startswith("traefik") for s in services.values())


def app_stacks(root: Path) -> list[Path]:
    """The stacks that run here: every one with a compose file, except Traefik's (faked)."""
    stacks = sorted(p for p in (root / "srv/stacks").iterdir() if p.is_dir())
    return [d for d in stacks if compose_file(d) is not None and not _is_traefik(d)]


def traefik_dynamic(root: Path) -> Path:
    """The directory the Traefik stack's file provider watches (dynamic/ next to it)."""
    stacks = sorted(p for p in (root / "srv/stacks").iterdir() if p.is_dir())
    found = [d / "dynamic" for d in stacks if _is_traefik(d) and (d / "dynamic").is_dir()]
    return found[0] if found else root / "srv/stacks/edge-traefik/dynamic"


def _prepare(engine: DockerEngine, d: Path) -> None:
    """Every image the stack names is the busybox test image; external networks exist."""
    assert engine.compose is not None
    f = compose_file(d)
    assert f is not None
    base = [*engine.compose, "--project-directory", str(d), "-f", str(f)]
    images = subprocess.run(
        [*base, "config", "--images"],
        env=engine.env(),
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    for image in images:
        if engine.docker("image", "inspect", image, check=False).strip() in ("", "[]"):
            engine.docker("tag", TEST_IMAGE, image)
    networks = (yaml.safe_load(f.read_text()) or {}).get("networks") or {}
    for key, net in networks.items():
        if isinstance(net, dict) and net.get("external"):
            name = str(net.get("name") or key)
            if not engine.docker("network", "inspect", "-f", "{{.Name}}", name, check=False):
                engine.docker("network", "create", name)


def _seed_data(engine: DockerEngine) -> None:
    """Files in Odoo's data dir (filestore, sessions) of whichever container mounts it."""
    for name in engine.docker("ps", "--format", "{{.Names}}").split():
        mounts = engine.docker("inspect", "-f", "{{range .Mounts}}{{.Destination}} {{end}}", name)
        if "/var/lib/odoo" in mounts.split():
            engine.docker(
                "exec",
                name,
                "sh",
                "-c",
                f"mkdir -p {Path(DATA_FILE).parent} /var/lib/odoo/sessions && "
                f"echo filestore > {DATA_FILE} && "
                "echo sid > /var/lib/odoo/sessions/werkzeug_x.sess",
            )


@contextlib.contextmanager
def old_stack(
    root: Path,
    engine: DockerEngine,
    pg: PgServer,
    broken_router: bool = False,
    traefik_version: str = "3.1.2",
    hosts: RouterHosts = RouterHosts(),
) -> Iterator[Stack]:
    """The tree at ``root`` running on the private engine as before the migration: every
    app stack up (compose project = its directory name), Traefik and the router faked."""
    ids = engine.docker("ps", "-aq").split()
    if ids:
        engine.docker("rm", "-f", *ids, timeout=120)
    volumes = engine.docker("volume", "ls", "-q").split()
    if volumes:
        engine.docker("volume", "rm", "-f", *volumes, check=False)
    old_host = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host  # the in-process CLI's docker calls
    try:
        with (
            fake_traefik(traefik_dynamic(root), traefik_version, engine.env()) as t,
            fake_router(
                admin=hosts.admin,
                named=hosts.named,
                suffix=hosts.suffix,
                broken_dbfilter=broken_router,
            ) as r,
        ):
            s = Stack(root, engine, pg, t, r)
            for d in app_stacks(root):
                _prepare(engine, d)
                s.compose(d.name, "up", "-d")
            _seed_data(engine)
            yield s
    finally:
        if old_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old_host
