"""The runbook's "before" state on a private Docker engine: the fixture tree's odoo18-prod
and seisei-odoo stacks up, files in the Odoo data volume, Traefik and router fakes, and
helpers to run odoo-router-migrate in-process or as a killable subprocess."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from odoo_router.migrate import cli
from odoo_router.migrate.fsops import tree_digest

from .fakes import fake_router, fake_traefik
from .servers import DockerEngine, PgServer

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
        subprocess.run(
            [
                *self.engine.compose,
                "--project-directory",
                str(d),
                "-p",
                project,
                "-f",
                str(d / "docker-compose.yml"),
                *args,
            ],
            env=self.engine.env(),
            check=True,
            capture_output=True,
            timeout=120,
        )


@contextlib.contextmanager
def old_stack(
    root: Path,
    engine: DockerEngine,
    pg: PgServer,
    broken_router: bool = False,
    traefik_version: str = "3.1.2",
) -> Iterator[Stack]:
    ids = engine.docker("ps", "-aq").split()
    if ids:
        engine.docker("rm", "-f", *ids, timeout=120)
    engine.docker("volume", "rm", "-f", "odoo18-prod_odoo18-prod-data", check=False)
    old_host = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host  # the in-process CLI's docker calls
    try:
        with (
            fake_traefik(
                root / "srv/stacks/edge-traefik/dynamic", traefik_version, engine.env()
            ) as t,
            fake_router(broken_dbfilter=broken_router) as r,
        ):
            s = Stack(root, engine, pg, t, r)
            s.compose("odoo18-prod", "up", "-d")
            s.compose("seisei-odoo", "up", "-d")
            engine.docker(
                "exec",
                "odoo18-prod-web",
                "sh",
                "-c",
                f"mkdir -p {Path(DATA_FILE).parent} /var/lib/odoo/sessions && "
                f"echo filestore > {DATA_FILE} && "
                "echo sid > /var/lib/odoo/sessions/werkzeug_x.sess",
            )
            yield s
    finally:
        if old_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old_host
