"""Step kinds, the containers rule, rollback order, coverage, console and the password notice,
against in-memory fakes (the real engine runs in test_flow.py and test_cycle.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from odoo_router.migrate import apply as apply_mod
from odoo_router.migrate import console, steps
from odoo_router.migrate import containers as C
from odoo_router.migrate.context import Context
from odoo_router.migrate.coverage import covered, discovered, fingerprint, stale
from odoo_router.migrate.docker_api import Container, Docker
from odoo_router.migrate.journal import Journal
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.plan import FileChange, make_steps
from odoo_router.migrate.render import Settings
from odoo_router.migrate.rollback import rollback_order
from odoo_router.migrate.verify import Check

from .test_units import Recorder

ODOO = "odoo18-prod"


@dataclass
class FakeDocker(Docker):
    """Compose projects in memory: ``up`` (re)creates a service's container with a new id."""

    projects: dict[str, list[Container]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)  # project -> services in file
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    next_id: int = 100
    # (kind, project) -> the networks/volumes compose made for it; what ``up`` makes for a
    # service; names docker refuses to remove (in use)
    resources: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    makes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    holding: set[str] = field(default_factory=set)  # volumes with data in them
    unknown: set[str] = field(default_factory=set)  # volumes whose content cannot be seen

    def volume_empty(self, volume: str) -> bool | None:
        return None if volume in self.unknown else volume not in self.holding

    def project_resources(self, kind: str, project: str) -> list[str]:
        return sorted(self.resources.get((kind, project), []))

    def remove_resources(self, kind: str, names: Any) -> list[str]:
        self.calls.append(("rm", kind, sorted(names)))
        errors = [f"{kind} {n}: in use" for n in names if n in self.busy]
        for have in self.resources.values():
            have[:] = [n for n in have if n not in names or n in self.busy]
        return errors

    def containers(self, project: str) -> list[Container]:
        return sorted(self.projects.get(project, []), key=lambda c: c.name)

    def compose_up(
        self,
        project_dir: Path,
        compose_file: Path,
        project: str | None = None,
        services: Any = (),
        *,
        no_deps: bool = False,
        pull: str | None = None,
    ) -> None:
        assert project is not None
        self.calls.append(("up", project, list(services), no_deps, pull))
        keep = [c for c in self.projects.get(project, []) if c.service not in services]
        for s in services:
            self.next_id += 1
            keep.append(Container(f"id{self.next_id}", f"{project}-{s}-1", s, "running"))
            for kind, name in self.makes.get(s, []):
                have = self.resources.setdefault((kind, project), [])
                have += [name] if name not in have else []
        self.projects[project] = keep

    def compose_down(
        self, project_dir: Path, compose_file: Path, project: str | None = None
    ) -> None:
        assert project is not None
        self.calls.append(("down", project))
        in_file = set(self.files.get(project, []))
        self.projects[project] = [c for c in self.projects[project] if c.service not in in_file]

    def remove(self, ids: Any) -> None:
        self.calls.append(("remove", sorted(ids)))
        for p, cs in self.projects.items():
            self.projects[p] = [c for c in cs if c.id not in ids]


def _ctx(root: Path, docker: Docker | None = None) -> Context:
    rec = Recorder()
    ctx = Context(Layout.make(root), rec, docker or Docker(rec), Pg(rec), None)
    ctx.health_timeout = 0.5
    return ctx


def _run(root: Path, docker: FakeDocker) -> steps.Run:
    ctx = _ctx(root, docker)
    run_dir = root / "run"
    run_dir.mkdir()
    plan = {
        "plan_id": "p",
        "projects": {"odoo": ODOO, "router": "seisei-odoo"},
        "compose": {
            t: {"dir": f"/srv/stacks/{d}", "file": f"/srv/stacks/{d}/docker-compose.yml"}
            for t, d in (("odoo", ODOO), ("router", "seisei-odoo"))
        },
        "steps": [],
    }
    (run_dir / "plan.json").write_text(json.dumps(plan))
    return steps.Run(ctx, Journal(run_dir), plan)


def test_compose_commands_leave_orphans_alone_and_never_pull_in_apply(tmp_path: Path) -> None:
    rec = Recorder()
    d = Docker(rec, compose_cmd=["docker-compose"], stop_timeout=7)
    f = tmp_path / ODOO / "docker-compose.yml"
    d.compose_up(f.parent, f, ODOO, ["odoo-tenant", "redis"], pull="never")
    d.compose_up(f.parent, f, ODOO, ["web"], no_deps=True)
    d.compose_down(f.parent, f, ODOO)
    d.remove(["abc"])
    up, up_old, down, stop, rm = rec.calls
    assert up[3:5] == ["-p", ODOO]
    assert up[-6:] == ["up", "-d", "--pull", "never", "odoo-tenant", "redis"]
    assert up_old[-4:] == ["up", "-d", "--no-deps", "web"]
    assert down[-3:] == ["down", "--timeout", "7"]
    assert not any("--remove-orphans" in c for c in rec.calls)
    assert stop == ["docker", "stop", "--time", "7", "abc"] and rm == [
        "docker",
        "rm",
        "--force",
        "abc",
    ]


def test_rollback_removes_what_the_run_made_and_starts_exactly_what_ran(tmp_path: Path) -> None:
    docker = FakeDocker(Recorder())
    docker.projects[ODOO] = [
        Container("a1", "odoo18-prod-web", "web", "running"),
        Container("a2", "odoo-redis", "redis", "running"),
        Container("a3", "odoo18-prod-migrate-1", "migrate", "exited"),  # stopped on purpose
        Container("a4", "legacy-worker", "legacy", "running"),  # an orphan: not in the file
    ]
    docker.files[ODOO] = ["migrate", "redis", "web"]
    odoo = tmp_path / "srv/stacks/odoo18-prod"
    odoo.mkdir(parents=True)
    old = b"services:\n  web: {}\n  redis: {}\n  migrate: {}\n"
    (odoo / "docker-compose.yml").write_bytes(old)
    run = _run(tmp_path, docker)
    run.journal.append(
        "containers-before", projects=C.take_snapshot(run.ctx, run.journal, run.plan)
    )
    assert (run.journal.run_dir / "originals/compose-odoo").read_bytes() == old
    stop, start = steps.StopStack("stop-odoo", "odoo"), steps.StartStack("start-odoo", "odoo")
    assert stop.precheck(run) == {"running": ["legacy-worker", "odoo-redis", "odoo18-prod-web"]}
    stop.act(run)
    stop.verify(run)
    assert [c.id for c in docker.projects[ODOO]] == ["a4"]  # the orphan keeps running
    new = b"services:\n  odoo-tenant: {}\n  odoo-admin: {}\n  redis: {}\n  migrate: {}\n"
    (odoo / "docker-compose.yml").write_bytes(new)
    # the new services and those that ran; not the one the operator had stopped
    assert start.services(run) == ["odoo-admin", "odoo-tenant", "redis"]
    start.act(run)
    assert docker.calls[-1] == ("up", ODOO, ["odoo-admin", "odoo-tenant", "redis"], False, "never")
    # rollback: files first, then what the run made goes (redis stays for compose to judge)
    (odoo / "docker-compose.yml").write_bytes(old)
    start.undo(run, {})
    assert docker.calls[-1] == ("remove", ["id101", "id102"])
    stop.undo(run, {})
    assert docker.calls[-1] == ("up", ODOO, ["redis", "web"], True, None)
    snap = run.snapshot("odoo")
    assert C.missing(run.ctx, run.project("odoo"), snap) == []
    assert C.created_by_run(run.ctx, run.project("odoo"), snap) == []
    # idempotent: again, nothing more is removed and the same set is started
    start.undo(run, {})
    assert docker.calls[-1] == ("remove", [])
    # a compose file that is not the old one: the old stack is not started from it
    (odoo / "docker-compose.yml").write_bytes(new)
    with pytest.raises(steps.StepFailed, match="not the file the old containers ran from"):
        stop.undo(run, {})
    # a container that does not come back is named, per service
    (odoo / "docker-compose.yml").write_bytes(old)
    docker.projects[ODOO] = [c for c in docker.projects[ODOO] if c.service != "web"]
    assert C.missing(run.ctx, run.project("odoo"), snap) == [
        "odoo18-prod/web: 1 running before apply, 0 now"
    ]


def test_rollback_removes_the_networks_and_volumes_the_run_made_and_nothing_else(
    tmp_path: Path,
) -> None:
    """compose makes a project's networks and volumes for the services it starts: those the
    new services brought go with the rollback (after their containers), those that existed
    before apply stay, even when ``compose down`` removed one and the new file made it again."""
    docker = FakeDocker(Recorder())
    docker.projects[ODOO] = [Container("a1", "odoo18-prod-web", "web", "running")]
    docker.files[ODOO] = ["web"]
    net, vol = ("network", ODOO), ("volume", ODOO)
    docker.resources = {net: [f"{ODOO}_default", "kept-by-hand"], vol: [f"{ODOO}_data"]}
    docker.makes["odoo-admin"] = [("network", f"{ODOO}_default"), ("network", f"{ODOO}_admin")]
    docker.makes["odoo-admin"] += [("volume", f"{ODOO}_cache")]
    odoo = tmp_path / "srv/stacks/odoo18-prod"
    odoo.mkdir(parents=True)
    old = b"services:\n  web: {}\n"
    (odoo / "docker-compose.yml").write_bytes(old)
    run = _run(tmp_path, docker)
    run.journal.append(
        "containers-before", projects=C.take_snapshot(run.ctx, run.journal, run.plan)
    )
    stop, start = steps.StopStack("stop-odoo", "odoo"), steps.StartStack("start-odoo", "odoo")
    stop.act(run)
    docker.resources[net].remove(f"{ODOO}_default")  # compose down removed it
    (odoo / "docker-compose.yml").write_bytes(b"services:\n  odoo-tenant: {}\n  odoo-admin: {}\n")
    start.act(run)
    snap = run.snapshot("odoo")
    made = [("network", f"{ODOO}_admin"), ("volume", f"{ODOO}_cache")]
    assert C.created_resources(run.ctx, run.project("odoo"), snap) == made
    (odoo / "docker-compose.yml").write_bytes(old)
    docker.busy = {f"{ODOO}_admin"}  # a container of the run is still on it
    with pytest.raises(steps.StepFailed, match=f"network {ODOO}_admin: in use"):
        stop.undo(run, {})
    assert docker.calls[-1] == ("up", ODOO, ["web"], True, None)  # the old set runs anyway
    docker.busy = set()
    start.undo(run, {})
    stop.undo(run, {})
    assert C.created_resources(run.ctx, run.project("odoo"), snap) == []
    assert docker.project_resources(*net) == ["kept-by-hand", f"{ODOO}_default"]
    assert docker.project_resources(*vol) == [f"{ODOO}_data"]
    # a record from before networks and volumes were recorded: nothing is known, none goes
    del snap["networks"], snap["volumes"]
    docker.resources[net].append(f"{ODOO}_late")
    assert C.created_resources(run.ctx, run.project("odoo"), snap) == []


def test_rollback_order_files_then_new_containers_then_old_ones(tmp_path: Path) -> None:
    roles = ["tenant_conf", "admin_conf", "router_yaml", "odoo_compose", "router_compose"]
    files = [FileChange(r, f"/{r}", None, "x", "atomic", False) for r in roles]
    files += [
        FileChange(f"dynamic:{n}.yml", f"/{n}", None, "x", "atomic", True)
        for n in ("middlewares", "services")
    ]
    targets = {"odoo": ODOO, "router": "seisei-odoo"}
    specs = [
        {"id": s.id, "kind": s.kind, "target": s.target}
        for s in make_steps(files, targets, None, Settings())
    ]
    j = Journal(tmp_path)
    for s in specs:
        j.append("start", s["id"], pre={"n": s["id"]})
    order = rollback_order({"steps": specs}, j)
    assert [s.id for s, _ in order] == [  # backup and verify have nothing to undo
        "write-dynamic-services-yml",
        "write-dynamic-middlewares-yml",
        "write-router-compose",
        "write-odoo-compose",
        "write-router-yaml",
        "write-admin-conf",
        "write-tenant-conf",
        "start-router",
        "start-odoo",
        "stop-router",
        "stop-odoo",
    ]
    assert all(pre == {"n": s.id} for s, pre in order)
    assert [type(steps.make_step(s)).__name__ for s in specs[:5]] == [
        "Backup",
        "WriteFile",
        "WriteFile",
        "WriteFile",
        "StopStack",
    ]
    with pytest.raises(steps.StepFailed, match="unknown kind 'reboot'"):
        steps.make_step({"id": "x", "kind": "reboot"})


def test_verify_step_retries_until_the_stack_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(
        [
            [Check("F2", "login", False)],
            [Check("F1", "routers", False)],
            [Check("F2", "login", True)],
        ]
    )
    monkeypatch.setattr(steps, "run_checks", lambda *a: next(answers))
    monkeypatch.setattr(steps.time, "sleep", lambda s: None)
    run = _run(tmp_path, FakeDocker(Recorder()))
    run.plan["verify"] = {}
    verify = steps.VerifyStack("verify")
    verify.act(run)  # passes on the third round
    run.ctx.verify_timeout = 0
    monkeypatch.setattr(
        steps, "run_checks", lambda *a: [Check("F3", "admin refused", False, "200")]
    )
    with pytest.raises(steps.StepFailed, match="FAIL F3 admin refused"):
        verify.act(run)


def test_coverage_is_one_set_for_backup_and_stale_checks(tree: Path) -> None:
    layout = Layout.make(tree)
    dynamic = "/srv/stacks/edge-traefik/dynamic"
    found = discovered(layout, [dynamic])
    for rel in (
        "/srv/stacks/odoo18-prod/.env",
        "/srv/stacks/odoo18-prod/config/odoo.conf",
        "/srv/stacks/seisei-odoo/nginx/default.conf",
        "/srv/stacks/edge-traefik/docker-compose.yml",
        f"{dynamic}/middlewares.yml",
        f"{dynamic}/services.yml",
    ):
        assert rel in found, rel
    (tree / dynamic.lstrip("/") / "sub").mkdir()
    (tree / dynamic.lstrip("/") / "sub/tls.toml").write_text("[tls]\n")
    (tree / "srv/stacks/edge-traefik/traefik.yml").write_text("providers: {}\n")
    inputs = fingerprint(layout, discovered(layout, [dynamic]))
    out = "/srv/stacks/seisei-odoo/odoo-router/router.yaml"
    plan: dict[str, Any] = {
        "inputs": {**inputs, out: None},
        "watched": [dynamic],
        "files": [{"path": out, "new_sha256": "ab" * 32}],
    }
    assert {f"{dynamic}/sub/tls.toml", "/srv/stacks/edge-traefik/traefik.yml", out} <= set(
        covered(layout, plan)
    )
    assert stale(layout, plan) == []
    (tree / dynamic.lstrip("/") / "late.yml").write_text("http: {}\n")  # added after plan
    (tree / "srv/stacks/odoo18-prod/.env").write_text("DB_USER=other\n")
    (tree / dynamic.lstrip("/") / "sub/tls.toml").unlink()
    assert stale(layout, plan) == [
        f"{dynamic}/late.yml (added after planning)",
        f"{dynamic}/sub/tls.toml (removed)",
        "/srv/stacks/odoo18-prod/.env (changed)",
    ]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_lines_for_logs_and_colour_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    log = io.StringIO()
    long = "x" * 300
    console.emit(f"compose failed: \x1b[31mred\x1b[0m\r\n{long}\nthird", "error", log)
    assert log.getvalue() == f"error: compose failed: red\nerror: {long}\nerror: third\n"
    tty = _Tty()
    console.emit("done", "ok", tty)
    assert tty.getvalue() == "\x1b[32mdone\x1b[0m\n"
    monkeypatch.setenv("NO_COLOR", "1")
    tty = _Tty()
    console.emit("done", "ok", tty)
    assert tty.getvalue() == "done\n"


def test_help_and_every_module_work_without_rich() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "sys.modules['rich'] = None\n"  # import rich -> ImportError, as on a base install
        "import odoo_router.migrate as m\n"
        "for i in pkgutil.iter_modules(m.__path__):\n"
        "    importlib.import_module('odoo_router.migrate.' + i.name)\n"
        "from odoo_router.migrate.cli import main\n"
        "main(['--help'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "rollback" in proc.stdout and "exit codes:" in proc.stdout


def test_password_is_shown_once_on_a_terminal_and_never_in_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _ctx(tmp_path)
    ctx.layout.state.mkdir(parents=True)
    secret = {
        "admin_passwd": "S3cret-generated",
        "admin_passwd_hash": "$pbkdf2$x",
        "generated": True,
    }
    ctx.layout.secrets_file.write_text(json.dumps(secret))
    j = Journal(tmp_path / "run")
    j.staging.mkdir(parents=True)
    (j.staging / "tenant_conf").write_text("[options]\nadmin_passwd = $pbkdf2$x\n")
    apply_mod.password_notice(ctx, j)
    out = capsys.readouterr()
    assert "S3cret" not in out.out + out.err
    assert f"stored in {ctx.layout.secrets_file} (mode 0600)" in out.err
    assert "python3 -c" in out.err and len(out.err.splitlines()) == 1
    assert ctx.layout.secrets_file.stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(apply_mod, "is_terminal", lambda stream: True)
    apply_mod.password_notice(ctx, j)
    assert "master password (admin_passwd) of the new Odoo confs: S3cret-generated" in (
        capsys.readouterr().err
    )
    # a password the operator gave is never printed
    ctx.layout.secrets_file.write_text(json.dumps({**secret, "generated": False}))
    apply_mod.password_notice(ctx, j)
    assert "S3cret" not in capsys.readouterr().err


def test_rollback_keeps_a_volume_the_run_made_when_it_holds_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A volume the old service declared but never had is made by the new file's ``up``, and
    the new services write into it: nothing can restore that after a removal, so it stays
    (named, with the command that removes it); an empty one goes; one whose content cannot
    be seen from here (another driver, a remote engine) stays too."""
    docker = FakeDocker(Recorder())
    docker.projects[ODOO] = [Container("a1", "odoo18-prod-web", "web", "running")]
    docker.files[ODOO] = ["web"]
    docker.resources = {("volume", ODOO): [f"{ODOO}_data"]}
    made = [f"{ODOO}_sessions", f"{ODOO}_cache", f"{ODOO}_nfs"]
    docker.makes["odoo-tenant"] = [("volume", n) for n in made]
    docker.holding, docker.unknown = {f"{ODOO}_sessions"}, {f"{ODOO}_nfs"}
    odoo = tmp_path / "srv/stacks/odoo18-prod"
    odoo.mkdir(parents=True)
    old = b"services:\n  web: {}\n"
    (odoo / "docker-compose.yml").write_bytes(old)
    run = _run(tmp_path, docker)
    run.journal.append(
        "containers-before", projects=C.take_snapshot(run.ctx, run.journal, run.plan)
    )
    stop, start = steps.StopStack("stop-odoo", "odoo"), steps.StartStack("start-odoo", "odoo")
    stop.act(run)
    (odoo / "docker-compose.yml").write_bytes(b"services:\n  odoo-tenant: {}\n")
    start.act(run)
    (odoo / "docker-compose.yml").write_bytes(old)
    start.undo(run, {})
    stop.undo(run, {})
    assert ("rm", "volume", [f"{ODOO}_cache"]) in docker.calls
    assert docker.project_resources("volume", ODOO) == [
        f"{ODOO}_data", f"{ODOO}_nfs", f"{ODOO}_sessions"
    ]  # fmt: skip
    p, snap = run.project("odoo"), run.snapshot("odoo")
    assert C.kept_volumes(run.ctx, p, snap) == [f"{ODOO}_nfs", f"{ODOO}_sessions"]
    assert C.left_by_run(run.ctx, p, snap) == []  # the end state holds: nothing to remove
    err = capsys.readouterr().err
    assert f"volume {ODOO}_sessions was created by the run for {ODOO} and is kept" in err
    assert f"docker volume rm {ODOO}_nfs" in err
