"""Chained kills on a real Docker engine and PostgreSQL, for any tree (stack.py brings it up).

One ``apply`` is killed at step 1, resumed and killed at step 2, and so on, then resumed to
the end: a tree costs about one apply. Then the same for ``rollback``, at each undo. After
every kill ``status`` must tell the truth (the state, the interrupted step, nothing running)
and ``apply`` must refuse a half rolled-back tree; at the end the tree is byte-identical and
the containers that ran before apply run again (same names, same images), nothing the run
made is left (containers, networks, volumes), and a container a rollback started again
stays up through later re-runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odoo_router.migrate import cli
from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.journal import latest_run
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.rollback import rollback_order

from .stack import Stack


@dataclass(frozen=True)
class Before:
    tree: dict[str, str]  # tree_digest of srv/
    running: dict[str, str]  # container name -> image, every container (all run)
    networks: set[str]
    volumes: set[str]


def containers(stack: Stack) -> dict[str, tuple[str, str, str]]:
    """name -> (id, state, image) of every container on the engine."""
    out = {}
    fmt = "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Image}}"
    for line in stack.engine.docker("ps", "-a", "--no-trunc", "--format", fmt).splitlines():
        cid, name, state, image = line.split("\t")
        out[name] = (cid, state, image)
    return out


def engine_names(stack: Stack, kind: str) -> set[str]:
    """Every network or volume on the engine, by name."""
    return set(stack.engine.docker(kind, "ls", "--format", "{{.Name}}").split())


def before(stack: Stack) -> Before:
    now = containers(stack)
    assert all(state == "running" for _, state, _ in now.values()), now
    return Before(
        stack.digest(),
        {n: image for n, (_, _, image) in now.items()},
        engine_names(stack, "network"),
        engine_names(stack, "volume"),
    )


def status(stack: Stack) -> dict[str, Any]:
    code, out = stack.run("status", "--json")
    assert code == X.OK
    data: dict[str, Any] = json.loads(out)
    return data


# The options that change what is rendered; the live plan's are given to the offline one.
RENDERING = (
    "--inputs",
    "--router-health-interval",
    "--router-image",
    "--trusted-proxy",
    "--admin-allow",
)


def assert_live_renders_offline(stack: Stack, tmp: Path) -> None:
    """The live plan just staged (Traefik's version from its API, the running containers,
    the databases) holds the same bytes as ``plan --offline`` of the operator's copy of the
    tree with the same inputs: the review workflow shows what ``apply`` will write."""
    state = stack.root / "var/lib/odoo-router-migrate"
    plan = json.loads((state / "plan.json").read_text())
    copy = tmp / "copy"
    shutil.copytree(stack.root / "srv", copy / "srv")
    live = stack.args("plan")
    same = [x for i, a in enumerate(live) if a in RENDERING for x in (a, live[i + 1])]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.run(
            ["plan", "--offline", "--stacks", str(copy / "srv/stacks"), "--state-dir",
             str(state), "--stage", str(tmp / "out"), *same]
        )  # fmt: skip
    assert code == X.OK, out.getvalue()
    assert plan["files"]
    for f in plan["files"]:
        rel = Path(f["path"]).relative_to("/srv/stacks")
        staged = (state / "staging" / f["role"]).read_bytes()
        assert (tmp / "out" / rel).read_bytes() == staged, f["path"]


def plan_steps(stack: Stack) -> list[str]:
    plan = json.loads((Layout.make(stack.root).plan_file).read_text())
    return [s["id"] for s in plan["steps"]]


def apply_points(stack: Stack, phases: tuple[str, ...] = ("before", "after")) -> list[str]:
    """One kill point per step, the phases taken in turn."""
    return [f"{sid}:{phases[n % len(phases)]}" for n, sid in enumerate(plan_steps(stack))]


def rollback_points(stack: Stack) -> list[str]:
    """Every point of a rollback of the current run, in the order it reaches them."""
    j = latest_run(Layout.make(stack.root))
    assert j is not None
    undo = [f"{s.id}:undo" for s, _ in rollback_order(j.plan(), j)]
    return ["rollback:started", *undo, "rollback:check"]


def kill_apply_chain(stack: Stack, points: list[str]) -> None:
    for point in points:
        sid = point.split(":")[0]
        proc = stack.run_sub("apply", crash_at=point)
        assert proc.returncode == -9, (point, proc.stdout, proc.stderr)
        st = status(stack)
        assert st["state"] == "applying" and st["interrupted"] is True, (point, st)
        assert st["running"] is None
        assert st["last_step"]["step"] == sid, (point, st)
        assert st["steps"][sid] == "started", (point, st)
        assert "apply` to resume" in str(st["next"])
    proc = stack.run_sub("apply")
    assert proc.returncode == 0, proc.stderr
    assert "resuming run" in proc.stderr
    st = status(stack)
    assert st["state"] == "applied" and set(st["steps"].values()) == {"done"}, st


def kill_rollback_chain(stack: Stack, points: list[str], old: Before) -> None:
    back: set[tuple[str, str]] = set()  # (name, image) of pre-apply ones running again
    for point in points:
        proc = stack.run_sub("rollback", crash_at=point)
        assert proc.returncode == -9, (point, proc.stdout, proc.stderr)
        st = status(stack)
        assert st["state"] == "rolling-back" and st["interrupted"] is True, (point, st)
        if point.endswith(":undo"):
            sid = point.split(":")[0]
            assert (st["last_step"]["step"], st["last_step"]["event"]) == (sid, "undo")
        assert "rollback` to finish" in str(st["next"])
        code, _ = stack.run("apply")
        assert code == X.ROLLBACK_FAILED, point  # refused while the rollback is unfinished
        now = containers(stack)
        running = {(n, image) for n, (_, state, image) in now.items() if state == "running"}
        assert back <= running, (point, back - running)  # never stopped again
        back |= running & set(old.running.items())
    proc = stack.run_sub("rollback")
    assert proc.returncode == 0, proc.stderr
    assert_as_before(stack, old)


def assert_as_before(stack: Stack, old: Before) -> None:
    """Every file byte-identical, the pre-apply set running with its images, nothing else."""
    assert stack.digest() == old.tree
    now = containers(stack)
    assert {n: image for n, (_, _, image) in now.items()} == old.running
    assert all(state == "running" for _, state, _ in now.values()), now
    assert engine_names(stack, "network") == old.networks
    assert engine_names(stack, "volume") == old.volumes
    st = status(stack)
    assert st["state"] == "rolled-back" and st["errors"] == [], st
