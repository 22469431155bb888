"""apply and rollback killed at every step, resumed, on a real Docker engine and PostgreSQL,
for each tree of TREES (a directory holding srv/stacks/...; cycle.py has the harness).
CI runs one chained cycle per tree (each step killed once, phases in turn); the full sweep
(every step in both phases) is marked ``slow`` and runs on demand (``-m slow``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_router.migrate import exitcodes as X

from .conftest import FIXTURE
from .cycle import (
    apply_points,
    assert_as_before,
    before,
    containers,
    kill_apply_chain,
    kill_rollback_chain,
    rollback_points,
    status,
)
from .servers import TEST_IMAGE, DockerEngine, PgServer
from .stack import RouterHosts, Stack, copy_tree, old_stack

pytestmark = [pytest.mark.docker, pytest.mark.postgres]

# (tree, what the fake router answers for); corpus trees join this list.
TREES = [pytest.param(FIXTURE, RouterHosts(), id="fixture")]


@pytest.fixture
def engine(docker_engine: DockerEngine) -> DockerEngine:
    if docker_engine.compose is None:
        pytest.skip("no compose implementation (docker compose plugin or docker-compose v2)")
    return docker_engine


def _stack(
    src: Path, hosts: RouterHosts, tmp_path: Path, engine: DockerEngine, pg: PgServer
) -> Iterator[Stack]:
    with old_stack(copy_tree(src, tmp_path / "root"), engine, pg, hosts=hosts) as stack:
        yield stack


@pytest.mark.parametrize(("src", "hosts"), TREES)
def test_chained_kills_apply_then_rollback(
    src: Path, hosts: RouterHosts, tmp_path: Path, engine: DockerEngine, pg_server: PgServer
) -> None:
    for stack in _stack(src, hosts, tmp_path, engine, pg_server):
        old = before(stack)
        assert stack.run("plan")[0] == X.OK
        kill_apply_chain(stack, apply_points(stack))
        assert stack.run("verify")[0] == X.OK
        kill_rollback_chain(stack, rollback_points(stack), old)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize(("src", "hosts"), TREES)
def test_every_kill_point(
    src: Path,
    hosts: RouterHosts,
    phase: str,
    tmp_path: Path,
    engine: DockerEngine,
    pg_server: PgServer,
) -> None:
    """Each step killed before its act, or after it (done, not yet journaled)."""
    for stack in _stack(src, hosts, tmp_path, engine, pg_server):
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
    for stack in _stack(FIXTURE, RouterHosts(), tmp_path, engine, pg_server):
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
    resuming (and that rollback is killed once too)."""
    for stack in _stack(FIXTURE, RouterHosts(), tmp_path, engine, pg_server):
        old = before(stack)
        assert stack.run("plan")[0] == X.OK
        assert stack.run_sub("apply", crash_at="start-odoo:after").returncode == -9
        assert status(stack)["state"] == "applying"
        assert containers(stack)["odoo-tenant"][1] == "running"
        assert "seisei-odoo-router" not in containers(stack)
        assert stack.run_sub("rollback", crash_at="stop-router:undo").returncode == -9
        st = status(stack)
        assert st["state"] == "rolling-back" and st["steps"]["start-router"] == "pending"
        assert "odoo-tenant" not in containers(stack)  # what the run made went first
        assert stack.run("rollback")[0] == X.OK
        assert_as_before(stack, old)
