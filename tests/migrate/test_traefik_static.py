"""traefik_static: what the static configuration says, each source read into one shape (with
the line of every setting), and the typed settings the simulation takes from it."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from odoo_router.migrate.traefik_static import DEFAULTS, from_env, from_file, from_flags

STACKS = Path(__file__).parent / "fixture/srv/stacks"


def test_fixture_command_flags() -> None:
    compose = yaml.safe_load((STACKS / "edge-traefik/docker-compose.yml").read_text())
    st = from_flags(compose["services"]["traefik"]["command"], "edge/dc.yml", lambda i: f"l{i}")
    assert st is not None
    s = st.typed()
    assert s.source == "edge/dc.yml"
    assert s.docker and not s.exposed_by_default
    assert st.exposed_by_default.source == "l5"  # the flag that said it
    assert s.file_directory == "/etc/traefik/dynamic" and s.watch
    assert dict(s.entry_points) == {"web": ":80", "websecure": ":443"}
    assert s.tls_entry_points == frozenset()
    assert s.default_rule == "Host(`{{ normalize .Name }}`)"


def test_flags_defaults_and_case() -> None:
    st = from_flags(
        shlex.split(
            "traefik --providers.docker --Providers.Docker.DefaultRule='Host(`{{ .Name }}.x`)' "
            "--entrypoints.websecure.http.tls.certresolver=le --core.defaultRuleSyntax=v2"
        ),
        "x",
    )
    assert st is not None
    s = st.typed()
    assert s.docker and s.exposed_by_default  # Traefik's default
    assert "not set" in st.exposed_by_default.source
    assert s.default_rule == "Host(`{{ .Name }}.x`)"
    assert s.tls_entry_points == frozenset({"websecure"})
    assert s.default_rule_syntax == "v2"
    off = from_flags(["--providers.docker=false"], "x")
    assert off is not None and not off.docker and not off.typed().docker
    assert from_flags(["traefik", "version"], "x") is None  # no flag: not this source


def test_a_file_gives_every_setting_its_line() -> None:
    text = (
        "providers:\n  docker:\n    exposedByDefault: false\n  file:\n    directory: /dyn\n"
        "  precedence: [file, docker]\n"
        "entryPoints:\n  webSecure:\n    address: ':443'\n    http:\n      tls: {}\n"
    )
    st = from_file(text, "traefik.yml")
    assert st.exposed_by_default.value is False
    assert st.exposed_by_default.source == "traefik.yml:3"
    assert st.file_directory is not None and st.file_directory.source == "traefik.yml:5"
    s = st.typed()
    assert s.source == "traefik.yml" and s.docker and not s.exposed_by_default
    assert dict(s.entry_points) == {"webSecure": ":443"}  # an entry point keeps its case
    assert s.tls_entry_points == frozenset({"webSecure"}) and s.file_directory == "/dyn"
    assert s.precedence == ("file", "docker")
    toml = from_file("[providers.docker]\nexposedByDefault = false\n", "traefik.toml")
    assert toml.docker and not toml.typed().exposed_by_default


def test_environment_and_defaults() -> None:
    env = {"TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT": "false", "PATH": "/bin"}
    e = from_env(env, "environment in x")
    assert e is not None and e.source == "environment in x"
    assert e.docker and not e.typed().exposed_by_default
    assert from_env({"PATH": "/bin"}, "x") is None
    d = DEFAULTS.typed()
    assert d.source == "defaults" and not d.docker and d.exposed_by_default
    assert d.entry_points == {} and d.file_directory is None


def test_a_file_that_does_not_parse_is_named_with_its_line() -> None:
    with pytest.raises(ValueError, match=r"^traefik\.yml:3: not valid YAML: mapping values"):
        from_file("providers:\n  docker: {}\n  file: a: b\n", "traefik.yml")
    with pytest.raises(ValueError, match=r"^traefik\.toml: not valid TOML: .*line 2"):
        from_file("[providers]\ndocker = \n", "traefik.toml")
