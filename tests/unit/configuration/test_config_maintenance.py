"""``maintenance: {file, retry_after}`` in router.yaml: validated with key and line, a
relative file taken from router.yaml's directory, and reloadable."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_router.configuration.model import ConfigError, MaintenanceSettings
from odoo_router.configuration.static import reloaded, static_changes
from odoo_router.configuration.validate import build_config, load_config

BASE = """\
pools:
  tenant: {servers: ["127.0.0.1:8069"]}
hosts:
  - name: default
    default: true
    dbfilter: ten_a
    routes:
      - {name: all, prefix: /, proxy: {pool: tenant}}
"""


def _problems(section: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config(BASE + section, "/etc/odoo-router/router.yaml")
    return [str(p) for p in err.value.problems]


def test_absent_means_no_maintenance_mode() -> None:
    assert build_config(BASE).maintenance == MaintenanceSettings(None, 300.0)


def test_a_relative_file_is_taken_from_router_yaml_s_directory(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(BASE + "maintenance: {file: state/maintenance.yaml, retry_after: 2m}\n")
    config = load_config(str(path))
    assert config.maintenance.file == str(tmp_path / "state" / "maintenance.yaml")
    assert config.maintenance.retry_after == 120.0


def test_an_absolute_file_stays() -> None:
    text = BASE + "maintenance:\n  file: /var/lib/odoo-router/maintenance.yaml\n"
    config = build_config(text, "/etc/odoo-router/router.yaml")
    assert config.maintenance.file == "/var/lib/odoo-router/maintenance.yaml"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("maintenance: yes\n", "maintenance: expected a mapping, got a boolean (router.yaml:9)"),
        ("maintenance: {}\n", "maintenance.file: missing required key (router.yaml:9)"),
        (
            "maintenance:\n  file: 12\n",
            "maintenance.file: expected a string, got int (router.yaml:10)",
        ),
        (
            "maintenance:\n  file: ''\n",
            "maintenance.file: expected a file path, got an empty string (router.yaml:10)",
        ),
        (
            "maintenance:\n  file: /var/lib/\n",
            "maintenance.file: expected a file, got a directory '/var/lib/' (router.yaml:10)",
        ),
        (
            "maintenance:\n  file: m.yaml\n  retry_after: 2d\n",
            "maintenance.retry_after: expected a duration such as 60s or 500ms, got '2d'"
            " (router.yaml:11)",
        ),
        (
            "maintenance:\n  file: m.yaml\n  retry_after: 0s\n",
            "maintenance.retry_after: must be between 1s and 24h, got '0s' (router.yaml:11)",
        ),
        (
            "maintenance:\n  file: m.yaml\n  retry_afte: 5m\n",
            "maintenance.retry_afte: unknown key (did you mean 'retry_after'?) (router.yaml:11)",
        ),
    ],
)
def test_bad_values_name_key_and_line(section: str, problem: str) -> None:
    assert _problems(section) == [problem]


def test_a_reload_takes_the_new_maintenance_section_and_needs_no_restart() -> None:
    running = build_config(BASE + "maintenance: {file: /a.yaml}\n")
    new = build_config(BASE + "maintenance: {file: /b.yaml, retry_after: 10s}\n")
    assert static_changes(running, new) == []
    assert reloaded(running, new).maintenance == MaintenanceSettings("/b.yaml", 10.0)
    assert reloaded(new, build_config(BASE)).maintenance.file is None
