"""``odoo-router maintenance on|off|list``: what it writes, and every refusal with a specific
message and the file untouched."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from odoo_router.configuration.model import Config
from odoo_router.configuration.validate import load_config
from odoo_router.ops import maintenance_cli
from odoo_router.ops.maintenance import Entry, StateError, read_state, write_state
from odoo_router.ops.maintenance_cli import MaintenanceError, known_databases, run_maintenance
from runtime.support import mounted_tmpfs

NOW = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)
ROUTER = """\
pools:
  tenant: {servers: ["127.0.0.1:8069"]}
hosts:
  - name: named
    exact: [shop.example.org]
    dbfilter: ten_shop
    routes: [{name: all, prefix: /, proxy: {pool: tenant}}]
  - name: sub
    regex: '^(?P<sub>[a-z0-9]+)\\.erp\\.example\\.com$'
    dbfilter: "ten_{sub}"
    routes: [{name: all, prefix: /, proxy: {pool: tenant}}]
  - name: default
    default: true
    routes: [{name: all, prefix: /, respond: {status: 421}}]
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setattr(maintenance_cli, "operator", lambda: "ops@host")
    path = tmp_path / "router.yaml"
    path.write_text(ROUTER + "maintenance: {file: state/maintenance.yaml}\n")
    (tmp_path / "state").mkdir()
    return load_config(str(path))


def _run(config: Config, action: str, *dbs: str, until: str | None = None, **kw: bool) -> str:
    said: list[str] = []
    force, every = kw.get("force", False), kw.get("every", False)
    run_maintenance(config, action, list(dbs), until, force, said.append, NOW, every=every)
    return "\n".join(said)


def _state(config: Config) -> dict[str, Entry]:
    assert config.maintenance.file is not None
    return read_state(config.maintenance.file)


def test_known_databases(config: Config) -> None:
    names, patterns = known_databases(config)
    assert names == {"ten_shop"}
    assert [p.pattern for p in patterns] == ["ten_.+"]


def test_on_list_off(config: Config) -> None:
    assert _run(config, "list") == "no tenant in maintenance"
    assert _run(config, "on", "ten_shop", "ten_acme", until="30m") == (
        "ten_shop: in maintenance until 2026-12-06T13:30:00+00:00\n"
        "ten_acme: in maintenance until 2026-12-06T13:30:00+00:00"
    )
    until = NOW + timedelta(minutes=30)
    assert _state(config) == {
        "ten_acme": Entry(NOW, until, "ops@host"),
        "ten_shop": Entry(NOW, until, "ops@host"),
    }
    assert _run(config, "list") == (
        "ten_acme  since 2026-12-06T13:00:00+00:00  until 2026-12-06T13:30:00+00:00 (in 30m00s)"
        "  by ops@host\n"
        "ten_shop  since 2026-12-06T13:00:00+00:00  until 2026-12-06T13:30:00+00:00 (in 30m00s)"
        "  by ops@host"
    )
    assert _run(config, "off", "ten_shop", "ten_other") == (
        "ten_shop: back online\nten_other: was not in maintenance"
    )
    assert list(_state(config)) == ["ten_acme"]
    assert _run(config, "off", every=True) == "every tenant back online"
    assert _state(config) == {}


def test_on_without_until_is_open_ended(config: Config) -> None:
    assert _run(config, "on", "ten_shop") == "ten_shop: in maintenance"
    assert _state(config) == {"ten_shop": Entry(NOW, None, "ops@host")}


@pytest.mark.parametrize(
    ("action", "dbs", "until", "flags", "message"),
    [
        ("on", (), None, {}, "on: name at least one database"),
        ("on", ("ten shop",), None, {}, "not a database name: 'ten shop'"),
        ("on", ("ten_shop;drop",), None, {}, "not a database name: 'ten_shop;drop'"),
        ("on", ("x" * 64,), None, {}, "not a database name"),
        ("on", ("shop",), None, {}, "no host rule of"),
        ("on", ("ten_shop",), "yesterday", {}, "'yesterday' is neither an ISO 8601 time"),
        ("on", ("ten_shop",), "2026-12-06T12:00:00Z", {}, "is not in the future"),
        ("on", ("ten_shop",), "2026-12-06T15:00:00", {}, "has no offset"),
        ("on", ("ten_shop",), None, {"every": True}, "--all goes with off"),
        ("off", (), None, {}, "off: name the databases, or --all"),
        ("off", ("ten_shop",), None, {"every": True}, "databases or --all, not both"),
        ("off", ("ten_shop",), "1h", {}, "off takes no --until"),
        ("off", ("ten_shop",), None, {"force": True}, "--force goes with on"),
        ("list", ("ten_shop",), None, {}, "list takes no database"),
        ("pause", (), None, {}, "unknown action 'pause'"),
    ],
)
def test_bad_input_changes_nothing(
    config: Config,
    action: str,
    dbs: tuple[str, ...],
    until: str | None,
    flags: dict[str, bool],
    message: str,
) -> None:
    _run(config, "on", "ten_acme")
    assert config.maintenance.file is not None
    before = Path(config.maintenance.file).read_bytes()
    with pytest.raises((MaintenanceError, StateError), match=message):
        _run(config, action, *dbs, until=until, **flags)
    assert Path(config.maintenance.file).read_bytes() == before


def test_force_takes_a_database_no_host_routes_to(config: Config) -> None:
    assert _run(config, "on", "shop_next", force=True) == "shop_next: in maintenance"
    assert list(_state(config)) == ["shop_next"]


def test_a_broken_file_is_refused_not_overwritten(config: Config) -> None:
    assert config.maintenance.file is not None
    Path(config.maintenance.file).write_text("ten_shop: [\n")
    with pytest.raises(StateError, match="not valid YAML"):
        _run(config, "on", "ten_shop")
    assert Path(config.maintenance.file).read_text() == "ten_shop: [\n"


def test_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(ROUTER)
    with pytest.raises(MaintenanceError, match=r"has no maintenance file: add `maintenance:"):
        _run(load_config(str(path)), "list")


def test_an_unwritable_directory(config: Config, tmp_path: Path) -> None:
    state = tmp_path / "state"
    if os.geteuid() == 0:  # root writes through modes: a read-only file system then
        with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
            path = tmp_path / "router.yaml"
            path.write_text(ROUTER + f"maintenance: {{file: {ro}/maintenance.yaml}}\n")
            with pytest.raises(MaintenanceError, match=r"cannot write .*Read-only file system"):
                _run(load_config(str(path)), "on", "ten_shop")
        return
    state.chmod(0o500)
    try:
        with pytest.raises(MaintenanceError, match=r"cannot write .*nothing was changed"):
            _run(config, "on", "ten_shop")
    finally:
        state.chmod(0o700)


def test_a_missing_directory_is_a_specific_error(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(ROUTER + "maintenance: {file: nowhere/maintenance.yaml}\n")
    with pytest.raises(MaintenanceError, match=r"cannot write .*nowhere/maintenance.yaml: No such"):
        _run(load_config(str(path)), "on", "ten_shop")


def test_expired_entries_are_not_listed(config: Config) -> None:
    assert config.maintenance.file is not None
    write_state(config.maintenance.file, {"ten_shop": Entry(NOW - timedelta(hours=1), NOW)})
    assert _run(config, "list") == "no tenant in maintenance"


def test_a_directory_of_another_user_names_its_owner(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the container the command runs as uid 10001; a bind-mounted state/ that Docker
    made is root's: the refusal says whose it is and what to do (the real case:
    tests/runtime/test_docker_build.py)."""

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("odoo_router.ops.maintenance_cli.switch_on", denied)
    assert config.maintenance.file is not None
    owner = os.stat(os.path.dirname(config.maintenance.file)).st_uid
    with pytest.raises(MaintenanceError) as err:
        _run(config, "on", "ten_shop")
    assert str(err.value).startswith(f"cannot write {config.maintenance.file}: Permission denied")
    assert f"belongs to uid {owner} and this runs as uid {os.geteuid()}" in str(err.value)
    assert f"chown {os.geteuid()}" in str(err.value)
