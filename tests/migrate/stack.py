"""Any tree's "before" state on a private Docker engine, and helpers to run
odoo-router-migrate on it in-process or as a killable subprocess.

Every stack but Traefik's comes up as compose resolves it (project name from ``name:``,
``.env`` or the directory; images, networks and volumes by their real names): its images
are tags of the busybox test image, the networks and volumes it takes as external exist,
files are put in Odoo's data directory. Traefik's API is faked from the tree's dynamic
files and the running containers' labels (fake_traefik.py), the router from its host
classes (fakes.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from odoo_router.migrate import cli
from odoo_router.migrate.fsops import tree_digest

from .corpus_data import entry_points, expect, exposed_by_default, file_provider_dir, strict_load
from .fake_traefik import Edge, fake_traefik
from .fakes import RouterHosts, fake_router
from .servers import TEST_IMAGE, DockerEngine, PgServer

DATA_FILE = "/var/lib/odoo/filestore/ten_acme/ab/abcdef"


@dataclass
class Stack:
    root: Path
    engine: DockerEngine
    pg: PgServer
    traefik_url: str
    router_url: str
    inputs: Path | None = None  # the tree's inputs file
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
            *(["--inputs", str(self.inputs)] if self.inputs else []),
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

    def compose_up(self, p: Project) -> None:
        """``compose up -d`` of an app stack, the project named as compose names it."""
        assert self.engine.compose is not None
        done = subprocess.run(
            [*self.engine.compose, "--project-directory", str(p.dir), "-f", str(p.file),
             "up", "-d"],
            env=self.engine.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"{p.name}: compose up: {done.stderr}"


COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


@dataclass(frozen=True)
class TreeSpec:
    """What the harness needs of a tree besides its files: the host classes the fake router
    answers for, the version the fake Traefik API reports, the tree's inputs file (relative
    to its root) for ``plan``, where Odoo's data directory is in its container, and edits
    to the copy that make it run on this machine (path, old text, new text)."""

    hosts: RouterHosts = field(default_factory=RouterHosts)
    traefik_version: str = "3.1.2"
    inputs: str | None = None
    data_dir: str = "/var/lib/odoo"
    fit: tuple[tuple[str, str, str], ...] = ()


def corpus_spec(
    tree: str, traefik_version: str, health: str, fit: tuple[tuple[str, str, str], ...] = ()
) -> TreeSpec:
    """A corpus tree's spec, from the facts its expect.yaml states (SCHEMA.md)."""
    facts = expect(tree)["facts"]
    ui = facts["tenant_ui"]["value"]
    hosts = RouterHosts(
        admin=tuple(facts["admin_hosts"]["value"]),
        named=tuple(facts["tenant_hosts"]["value"]),
        suffix="." + facts["tenant_subdomains"]["value"]["domain"],
        redirect=None if ui == "proxy" else ui["redirect"],
        login_redirect=None if ui == "proxy" else ui["login_redirect"],
        health=health,
    )
    data_dir = facts["filestore"].get("target", "/var/lib/odoo")
    return TreeSpec(hosts, traefik_version, "inputs.yaml", data_dir, fit)


def fit_tree(root: Path, spec: TreeSpec) -> None:
    """The spec's edits to the copy at ``root``, each of which must apply."""
    for rel, old, new in spec.fit:
        path = root / rel
        text = path.read_text("utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new), "utf-8")


def copy_tree(src: Path, dest: Path) -> Path:
    """A temp root holding a copy of ``src`` (a directory with srv/stacks/...)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def compose_file(stack_dir: Path) -> Path | None:
    return next((stack_dir / n for n in COMPOSE_NAMES if (stack_dir / n).is_file()), None)


def _is_traefik(d: Path) -> bool:
    f = compose_file(d)
    services = (strict_load(f) or {}).get("services") or {} if f else {}
    return any(str((s or {}).get("image", "")).startswith("traefik") for s in services.values())


def _stack_dirs(root: Path) -> list[Path]:
    stacks = sorted(p for p in (root / "srv/stacks").iterdir() if p.is_dir())
    return [d for d in stacks if compose_file(d) is not None]


def edge(root: Path) -> Edge:
    """What the fake Traefik needs from the tree's Traefik stack (corpus_data reads it)."""
    found = [d for d in _stack_dirs(root) if _is_traefik(d)]
    if not found:
        return Edge(None)
    d = found[0]
    return Edge(file_provider_dir(d), exposed_by_default(d), entry_points(d))


@dataclass(frozen=True)
class Project:
    """One app stack as compose resolves it (``config --format json``: ``.env`` and
    ``name:`` applied): its project name, images, and networks and volumes by real name."""

    dir: Path
    file: Path
    name: str
    images: tuple[str, ...]
    networks: dict[str, bool]  # real name -> external
    volumes: dict[str, bool]


def _resolve(engine: DockerEngine, d: Path) -> Project:
    assert engine.compose is not None
    f = compose_file(d)
    assert f is not None
    out = subprocess.run(
        [*engine.compose, "--project-directory", str(d), "-f", str(f),
         "config", "--format", "json"],
        env=engine.env(), check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    cfg = json.loads(out)
    images = tuple(sorted({str(s["image"]) for s in cfg["services"].values() if s.get("image")}))

    def real(section: str) -> dict[str, bool]:
        return {str(v["name"]): bool(v.get("external")) for v in (cfg.get(section) or {}).values()}

    return Project(d, f, str(cfg["name"]), images, real("networks"), real("volumes"))


def app_projects(engine: DockerEngine, root: Path) -> list[Project]:
    """The stacks that run here: every one with a compose file but Traefik's (faked); a
    stack that creates a network another one joins as external comes first."""
    projects = [_resolve(engine, d) for d in _stack_dirs(root) if not _is_traefik(d)]
    joined = {n for p in projects for n, ext in p.networks.items() if ext}

    def creates_joined(p: Project) -> bool:
        return any(not ext and n in joined for n, ext in p.networks.items())

    return sorted(projects, key=lambda p: not creates_joined(p))


def _prepare(engine: DockerEngine, projects: list[Project]) -> None:
    """Every image a stack names is the busybox test image; what a stack takes as external
    (networks another app stack does not create, volumes) exists."""
    created = {n for p in projects for n, ext in p.networks.items() if not ext}
    for p in projects:
        for image in p.images:
            if engine.docker("image", "inspect", image, check=False).strip() in ("", "[]"):
                engine.docker("tag", TEST_IMAGE, image)
        for name, ext in p.networks.items():
            if ext and name not in created and not _exists(engine, "network", name):
                engine.docker("network", "create", name)
        for name, ext in p.volumes.items():
            if ext and not _exists(engine, "volume", name):
                engine.docker("volume", "create", name)


def _exists(engine: DockerEngine, kind: str, name: str) -> bool:
    return bool(engine.docker(kind, "inspect", "-f", "{{.Name}}", name, check=False).strip())


def _seed_data(engine: DockerEngine, data_dir: str) -> None:
    """Files in Odoo's data dir (filestore, sessions) of whichever container mounts it."""
    for name in engine.docker("ps", "--format", "{{.Names}}").split():
        mounts = engine.docker("inspect", "-f", "{{range .Mounts}}{{.Destination}} {{end}}", name)
        if data_dir in mounts.split():
            data = data_dir + DATA_FILE.removeprefix("/var/lib/odoo")
            engine.docker(
                "exec",
                name,
                "sh",
                "-c",
                f"mkdir -p {Path(data).parent} {data_dir}/sessions && "
                f"echo filestore > {data} && "
                f"echo sid > {data_dir}/sessions/werkzeug_x.sess",
            )


def reset_engine(engine: DockerEngine) -> None:
    """No container, volume or network left from an earlier test."""
    ids = engine.docker("ps", "-aq").split()
    if ids:
        engine.docker("rm", "-f", *ids, timeout=120)
    volumes = engine.docker("volume", "ls", "-q").split()
    if volumes:
        engine.docker("volume", "rm", "-f", *volumes, check=False)
    engine.docker("network", "prune", "-f", check=False)


@contextlib.contextmanager
def old_stack(
    root: Path,
    engine: DockerEngine,
    pg: PgServer,
    spec: TreeSpec = TreeSpec(),
    broken_router: bool = False,
    traefik_version: str | None = None,
) -> Iterator[Stack]:
    """The tree at ``root`` running on the private engine as before the migration: every
    app stack up (as compose names its project), Traefik and the router faked."""
    reset_engine(engine)
    fit_tree(root, spec)
    old_host = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host  # the in-process CLI's docker calls
    version = traefik_version or spec.traefik_version
    try:
        with (
            fake_traefik(edge(root), version, engine.env()) as t,
            fake_router(spec.hosts, broken_dbfilter=broken_router) as r,
        ):
            inputs = root / spec.inputs if spec.inputs else None
            s = Stack(root, engine, pg, t, r, inputs=inputs)
            projects = app_projects(engine, root)
            _prepare(engine, projects)
            for p in projects:
                s.compose_up(p)
            _seed_data(engine, spec.data_dir)
            yield s
    finally:
        if old_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old_host
