"""Small I/O pieces: replace semantics, journal, lock, the command lines we run (recorded),
the Traefik client against a fake of its API, confirmation without a TTY."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from odoo_router.migrate import cli
from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.context import Context
from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.exitcodes import MigrateError
from odoo_router.migrate.fsops import TMP_SUFFIX, tree_digest, write_file
from odoo_router.migrate.journal import hold_lock
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.runner import Result
from odoo_router.migrate.traefik import TraefikAPI, major_version

from .fake_traefik import fake_traefik


class Recorder:
    """A Runner that records argv and answers from a table."""

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input_text: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        self.calls.append(list(argv))
        out = next((v for k, v in self.answers.items() if k in " ".join(argv)), "")
        return Result(list(argv), 0, out, "")

    def run_to_file(self, argv: Sequence[str], out: Path, *, timeout: float | None = None) -> None:
        self.calls.append([*argv, ">", str(out)])
        out.write_bytes(b"PGDMP")

    def run_from_file(
        self, argv: Sequence[str], src: Path, *, timeout: float | None = None
    ) -> Result:
        self.calls.append([*argv, "<", str(src)])
        return Result(list(argv), 0, "1; 2 TABLE public x\n", "")


def test_watched_directory_never_sees_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "edge-traefik" / "dynamic"
    watched.mkdir(parents=True)
    target = watched / "services.yml"
    target.write_text("old\n")
    target.chmod(0o640)
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append((str(src), str(dst)))
        assert not any(p.name.endswith(TMP_SUFFIX) for p in watched.iterdir())
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_file(target, b"new\n", watched_dir=watched)
    assert target.read_text() == "new\n" and target.stat().st_mode & 0o777 == 0o640
    assert Path(seen[0][0]).parent == watched.parent  # temp next to, not in, dynamic/
    assert list(watched.iterdir()) == [target]


def test_single_file_bind_mount_is_written_in_place(tmp_path: Path) -> None:
    f = tmp_path / "odoo.conf"
    f.write_text("a much longer original content\n")
    inode = f.stat().st_ino
    write_file(f, b"short\n", in_place=True)
    assert f.read_bytes() == b"short\n" and f.stat().st_ino == inode
    write_file(f, b"renamed\n")
    assert f.stat().st_ino != inode


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    layout = Layout.make(tmp_path)
    with hold_lock(layout):
        with pytest.raises(MigrateError) as exc, hold_lock(layout):
            pass
        assert exc.value.code == X.LOCKED
    with hold_lock(layout):  # released
        pass


def test_postgres_through_docker_exec_never_allocates_a_tty(tmp_path: Path) -> None:
    rec = Recorder({"SELECT datname FROM pg_database WHERE NOT": "ten_a\nten_b\n"})
    docker = Docker(rec)
    pg = Pg(rec, docker.exec_argv("seisei-db", []), ["-U", "odoo"])
    assert pg.databases() == ["ten_a", "ten_b"]
    pg.dump("ten_a", tmp_path / "ten_a.dump")
    assert pg.restore_list(tmp_path / "ten_a.dump") == 1
    dump_call = next(c for c in rec.calls if "pg_dump" in c)
    assert dump_call[:4] == ["docker", "exec", "-i", "seisei-db"]
    assert dump_call[4:8] == ["pg_dump", "-U", "odoo", "-Fc"]
    assert all("-t" not in c[:4] and "-it" not in c for c in rec.calls)


def test_traefik_client_reads_the_api(tree: Path) -> None:
    dynamic = tree / "srv/stacks/edge-traefik/dynamic"
    with fake_traefik(dynamic, "2.11.3", per_page_cap=3) as url:  # 8 routers: 3 pages
        api = TraefikAPI(url)
        assert major_version(api.version()) == 2
        routers = {r.name: r for r in api.routers()}
    assert routers["odoo-qr@file"].short_service == "odoo18-qr"
    assert routers["erp@file"].middlewares == ("secure-headers@file",)
    assert all(r.status == "enabled" for r in routers.values())
    assert len(routers) == 8


def test_apply_without_tty_or_yes_is_aborted(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tree / "var/lib/odoo-router-migrate"
    state.mkdir(parents=True)
    (state / "plan.json").write_text(json.dumps({"plan_id": "x", "problems": [], "steps": []}))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code = cli.run(["apply", "--root", str(tree), "--compose", "docker-compose"])
    assert code == X.ABORTED
    assert (
        cli.run(["apply", "--root", str(tree / "nowhere"), "--compose", "x", "--yes"])
        == X.STALE_PLAN
    )


def test_tree_digest_sees_mode_and_content(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    before = tree_digest(tmp_path)
    (tmp_path / "a").chmod(0o600)
    assert tree_digest(tmp_path) != before


def test_master_password_generated_once_and_kept(tmp_path: Path) -> None:
    from odoo_router.migrate.inputs import Inputs
    from odoo_router.migrate.merge import Overrides
    from odoo_router.migrate.preflight import load_secret, store_secret

    ctx = _ctx_for(tmp_path)
    first, new = load_secret(ctx, Inputs(), live=True)
    assert new is not None and len(first.password) >= 24
    assert first.hash.startswith("$pbkdf2-sha512$") and new["generated"] is True
    store_secret(ctx, new)
    again, none = load_secret(ctx, Inputs(), live=True)
    assert (again, none) == (first, None)  # the same on every plan: plans are repeatable
    assert (ctx.layout.secrets_file.stat().st_mode & 0o777) == 0o600
    pw = tmp_path / "pw"
    pw.write_text("a-chosen-password-of-some-length\n")
    ctx.overrides = Overrides(master_password_file=str(pw))
    chosen, new = load_secret(ctx, Inputs(), live=True)
    assert chosen.password == "a-chosen-password-of-some-length"
    assert new is not None and new["generated"] is False  # apply never shows a chosen one
    store_secret(ctx, new)
    assert load_secret(ctx, Inputs(), live=True) == (chosen, None)  # same hash: same plan
    ctx.overrides = Overrides(master_password_file=str(tmp_path / "missing"))
    with pytest.raises(MigrateError) as exc:
        load_secret(ctx, Inputs(), live=True)
    assert exc.value.code == X.REFUSED and "--master-password-file" in str(exc.value)
    offline, new = load_secret(ctx, Inputs(), live=False)  # offline: a throwaway hash, noted
    assert new is None and "not readable here" in offline.source


def _ctx_for(tmp_path: Path) -> Context:
    rec = Recorder()
    return Context(Layout.make(tmp_path), rec, Docker(rec), Pg(rec), None)


def test_log_check_reads_odoo_tracebacks_and_router_5xx(tmp_path: Path) -> None:
    from odoo_router.migrate.verify import check_logs

    logs = {
        "odoo-tenant": "2026-11-27 INFO ten_acme werkzeug: GET /web/login 200\n",
        "odoo-admin": "2026-11-27 ERROR ? odoo.http: Exception during request handling.\n"
        "Traceback (most recent call last):\n",
        "seisei-odoo-router": '{"host":"a","status":200}\n'
        '{"host":"b","status":502,"upstream_status":null}\n',
    }

    class LogDocker(Docker):
        def logs(self, name: str, since: str | None = None) -> str:
            return logs[name]

    ctx = _ctx_for(tmp_path)
    ctx.docker = LogDocker(ctx.runner)
    expect = {
        "odoo_containers": ["odoo-tenant", "odoo-admin"],
        "router_container": "seisei-odoo-router",
    }
    result = {c.name: c.ok for c in check_logs(ctx, expect, "2026-11-27T04:00:00+00:00")}
    assert result == {
        "odoo-tenant log clean": True,
        "odoo-admin log clean": False,
        "seisei-odoo-router log clean": False,
    }


def test_commands_die_with_a_killed_migrate(tmp_path: Path) -> None:
    """A SIGKILLed apply leaves no docker compose / pg_dump running behind the journal."""
    import signal
    import subprocess
    import sys
    import time

    pidfile = tmp_path / "child.pid"
    script = (
        "from odoo_router.migrate.runner import SubprocessRunner\n"
        f"SubprocessRunner().run(['sh', '-c', 'echo $$ > {pidfile}; exec sleep 30'])\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    child = 0
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.05)
        child = int(pidfile.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child}").exists() and "Z" not in _proc_state(child):
            assert time.monotonic() < deadline, "the command outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if child and _proc_state(child) != "Z":
            os.kill(child, signal.SIGKILL)  # only when the test failed: no orphan left


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"
