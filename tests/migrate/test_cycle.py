"""apply and rollback killed at every step, resumed, on a real Docker engine and PostgreSQL,
for each tree of TREES (a directory holding srv/stacks/...; stack.py brings any tree up,
cycle.py has the checks). CI runs one chained cycle per tree (each step killed once, phases
in turn), after holding the live plan to the offline render of the same tree; the full
sweep (every step in both phases) is marked ``slow`` and runs on demand (``-m slow``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import free_port
from odoo_router.migrate import exitcodes as X

from .conftest import FIXTURE
from .corpus_data import CORPUS
from .cycle import (
    apply_points,
    assert_as_before,
    assert_live_renders_offline,
    before,
    containers,
    engine_names,
    kill_apply_chain,
    kill_rollback_chain,
    rollback_points,
    status,
)
from .servers import TEST_IMAGE, DockerEngine, PgServer
from .stack import Stack, TreeSpec, copy_tree, corpus_spec, old_stack

pytestmark = [pytest.mark.docker, pytest.mark.postgres]


def _corpus(name: str, traefik_version: str, health: str, *fit: tuple[str, str, str]) -> Any:
    spec = corpus_spec(name, traefik_version, health, fit)
    return pytest.param(CORPUS / name, spec, id=name)


# (tree, what the harness needs to know of it): the fixture and the corpus trees that differ
# the most from it and from each other (corpus/SCHEMA.md): Traefik v2 on flags with list
# labels beside the file routes; v3 with the nginx router in Odoo's compose project and
# every route a label; v3 with merge keys in the services and in a label mapping and the
# filestore volume already external; v3 in compose's long forms with a published Odoo port,
# env files and an override file; v3 written on Windows (CRLF, byte order marks, tabs) with
# one dynamic file. CI runs these.
TREES = [
    pytest.param(FIXTURE, TreeSpec(), id="fixture"),
    _corpus(
        "v210-flags-docker-and-file",
        "2.10.7",
        "/healthz",
        # a CPU limit above what a 2-core machine can grant: docker refuses the container
        ("srv/stacks/odoo18-prod/docker-compose.yml", 'cpus: "3.0"', 'cpus: "1.0"'),
    ),
    _corpus("v31-same-project-docker-routes", "3.1.4", "/__health"),
    _corpus("v35-anchors-labels-merge", "3.5.3", "/healthz"),
    _corpus(
        "v36-compose-env-longsyntax-override",
        "3.6.2",
        "/_health",
        # published host ports: free ones on this machine (odoo-tenant keeps Odoo's)
        ("srv/stacks/shop-odoo/.env", "ODOO_DEBUG_PORT=18069", f"ODOO_DEBUG_PORT={free_port()}"),
        (
            "srv/stacks/shop-odoo/compose.override.yml",
            "published: 5050",
            f"published: {free_port()}",
        ),
        (
            "srv/stacks/dbrouter/docker-compose.yaml",
            'published: "18080"',
            f'published: "{free_port()}"',
        ),
    ),
    _corpus("v33-windows-crlf-bom-single-file", "3.3.4", "/healthz"),
]
# The slow sweep adds a tree with four dynamic files and a folder inside the watched
# directory, compose secrets and CJK comments.
SWEEP = [
    *TREES,
    _corpus(
        "v376-split-dynamic-backup-cjk",
        "3.7.6",
        "/nginx-health",
        ("srv/stacks/odoo18-prod/docker-compose.yaml", 'cpus: "4"', 'cpus: "1"'),
        # a bind mount outside the tree: docker would create it on the test machine
        ("srv/stacks/odoo18-prod/docker-compose.yaml", "/mnt/backup/pg:", "./pg-backups:"),
    ),
]


@pytest.fixture
def engine(docker_engine: DockerEngine) -> DockerEngine:
    if docker_engine.compose is None:
        pytest.skip("no compose implementation (docker compose plugin or docker-compose v2)")
    return docker_engine


def _stack(
    src: Path, spec: TreeSpec, tmp_path: Path, engine: DockerEngine, pg: PgServer
) -> Iterator[Stack]:
    with old_stack(copy_tree(src, tmp_path / "root"), engine, pg, spec) as stack:
        yield stack


@pytest.mark.parametrize(("src", "spec"), TREES)
def test_chained_kills_apply_then_rollback(
    src: Path, spec: TreeSpec, tmp_path: Path, engine: DockerEngine, pg_server: PgServer
) -> None:
    for stack in _stack(src, spec, tmp_path, engine, pg_server):
        old = before(stack)
        code, out = stack.run("plan")
        assert code == X.OK, out
        assert_live_renders_offline(stack, tmp_path)
        kill_apply_chain(stack, apply_points(stack))
        assert stack.run("verify")[0] == X.OK
        kill_rollback_chain(stack, rollback_points(stack), old)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize(("src", "spec"), SWEEP)
def test_every_kill_point(
    src: Path,
    spec: TreeSpec,
    phase: str,
    tmp_path: Path,
    engine: DockerEngine,
    pg_server: PgServer,
) -> None:
    """Each step killed before its act, or after it (done, not yet journaled)."""
    for stack in _stack(src, spec, tmp_path, engine, pg_server):
        old = before(stack)
        assert stack.run("plan")[0] == X.OK
        kill_apply_chain(stack, apply_points(stack, (phase,)))
        kill_rollback_chain(stack, rollback_points(stack), old)


def test_a_compose_up_that_fails_on_a_rendered_file_ends_with_the_old_containers(
    tmp_path: Path, engine: DockerEngine, pg_server: PgServer
) -> None:
    """The router's image is gone when its rendered compose file comes up (no pull in the
    downtime): the run fails at start-router. Killed before its rollback starts, then a
    rollback that cannot finish (a container squats the old router's name), then one that
    does: the old containers run, and neither the second rollback nor a third one stops the
    Odoo and redis that the first had started again."""
    for stack in _stack(FIXTURE, TreeSpec(), tmp_path, engine, pg_server):
        old = before(stack)
        assert stack.run("plan")[0] == X.OK
        engine.docker("rmi", "odoo-router:latest")
        try:
            proc = stack.run_sub("apply", crash_at="start-router:failed")
            assert proc.returncode == -9, proc.stderr
            st = status(stack)
            assert st["state"] == "apply-failed" and "start-router" in st["errors"][0]
            assert "No such image" in st["errors"][0] or "odoo-router:latest" in st["errors"][0]
            code, _ = stack.run("apply")
            assert code == X.ROLLBACK_FAILED  # not "nothing to do"
            engine.docker("create", "--name", "seisei-odoo-router", TEST_IMAGE)
            proc = stack.run_sub("rollback")
            assert proc.returncode == X.ROLLBACK_FAILED
            # for a log: one message per line, none wrapped, no escape sequence
            assert "\x1b" not in proc.stderr
            undo = [x for x in proc.stderr.splitlines() if x.startswith("error: undo stop-router:")]
            assert len(undo) == 1 and "seisei-odoo-router" in undo[0] and len(undo[0]) > 120
            st = status(stack)
            assert (
                st["state"] == "rollback-incomplete" and st["steps"]["stop-router"] == "undo-failed"
            )
            assert any("seisei-odoo/nginx" in e for e in st["errors"]), st
            assert stack.run("apply")[0] == X.ROLLBACK_FAILED
            up = {
                n: c for n, c in containers(stack).items() if n in ("odoo18-prod-web", "odoo-redis")
            }
            assert {c[1] for c in up.values()} == {"running"} and len(up) == 2
            engine.docker("rm", "-f", "seisei-odoo-router")
            code, _ = stack.run("rollback")
            assert code == X.OK
            assert_as_before(stack, old)
            now = containers(stack)
            assert {n: now[n] for n in up} == up  # the same containers, never stopped
            assert stack.run("rollback") == (X.OK, "")  # nothing to roll back
            assert containers(stack) == now
        finally:
            engine.docker("tag", TEST_IMAGE, "odoo-router:latest")


def test_an_interrupted_apply_rolled_back_by_the_operator(
    tmp_path: Path, engine: DockerEngine, pg_server: PgServer
) -> None:
    """Killed with the new Odoo up and the router down; the operator rolls back instead of
    resuming (and that rollback is killed once too). The new services had brought a network
    and a volume of their own into Odoo's project: they go, and what existed stays."""
    for stack in _stack(FIXTURE, TreeSpec(), tmp_path, engine, pg_server):
        old = before(stack)
        assert stack.run("plan")[0] == X.OK
        assert stack.run_sub("apply", crash_at="start-odoo:after").returncode == -9
        assert status(stack)["state"] == "applying"
        assert containers(stack)["odoo-tenant"][1] == "running"
        assert "seisei-odoo-router" not in containers(stack)
        _compose_sidecar(stack, tmp_path, "odoo18-prod")
        assert {"odoo18-prod_sidecar-net"} <= engine_names(stack, "network")
        assert {"odoo18-prod_sidecar-cache"} <= engine_names(stack, "volume")
        assert stack.run_sub("rollback", crash_at="stop-router:undo").returncode == -9
        st = status(stack)
        assert st["state"] == "rolling-back" and st["steps"]["start-router"] == "pending"
        assert "odoo-tenant" not in containers(stack)  # what the run made went first
        assert stack.run("rollback")[0] == X.OK
        assert_as_before(stack, old)


def _compose_sidecar(stack: Stack, tmp_path: Path, project: str) -> None:
    """What a new compose file with a network and a volume of its own makes: compose creates
    them, labelled with the project, for the service it starts."""
    f = tmp_path / "sidecar.yml"
    f.write_text(
        f"services:\n  sidecar:\n    image: {TEST_IMAGE}\n    networks: [sidecar-net]\n"
        "    volumes: [sidecar-cache:/data]\n"
        "networks:\n  sidecar-net: {}\nvolumes:\n  sidecar-cache: {}\n"
    )
    assert stack.engine.compose is not None
    subprocess.run(
        [*stack.engine.compose, "-p", project, "-f", str(f), "up", "-d"],
        env=stack.engine.env(), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
