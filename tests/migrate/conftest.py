"""Session servers for the migrate tests and a fresh copy of the /srv/stacks fixture."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import DockerEngine, PgServer, dockerd, postgres, seed_databases, short_tmp

FIXTURE = Path(__file__).parent / "fixture"
DATABASES = ["ten_testodoo", "ten_acme", "ten_00000001"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    # Not under pytest's tmp (mode 0700, root's): the postgres user must reach its data dir.
    base = short_tmp()
    base.chmod(0o755)
    try:
        cm = postgres(base / "cluster")
        server = cm.__enter__()
    except Exception as exc:
        pytest.skip(f"PostgreSQL could not start: {exc}")
    try:
        seed_databases(server, DATABASES)
        yield server
    finally:
        cm.__exit__(None, None, None)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    base = short_tmp()
    try:
        cm = dockerd(base)
        engine = cm.__enter__()
    except Exception as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"a Docker engine could not start: {exc}")
    try:
        yield engine
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A temp root holding a copy of the fixture's /srv/stacks."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root
