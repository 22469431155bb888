"""traefik_static: the routing-relevant static settings, from the one source Traefik uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from odoo_router.migrate.traefik_static import choose, from_env, from_file, from_flags

STACKS = Path(__file__).parent / "fixture/srv/stacks"


def test_fixture_command_flags() -> None:
    compose = yaml.safe_load((STACKS / "edge-traefik/docker-compose.yml").read_text())
    s = choose(None, compose["services"]["traefik"]["command"], {}, "edge/dc.yml")
    assert s.source == "command flags in edge/dc.yml"
    assert s.docker and not s.exposed_by_default
    assert s.file_directory == "/etc/traefik/dynamic" and s.watch
    assert dict(s.entry_points) == {"web": ":80", "websecure": ":443"}
    assert s.tls_entry_points == frozenset()
    assert s.default_rule == "Host(`{{ normalize .Name }}`)"


def test_flags_defaults_and_case() -> None:
    s = from_flags(
        "traefik --providers.docker --Providers.Docker.DefaultRule='Host(`{{ .Name }}.x`)' "
        "--entrypoints.websecure.http.tls.certresolver=le --core.defaultRuleSyntax=v2",
        "x",
    )
    assert s.docker and s.exposed_by_default  # Traefik's default
    assert s.default_rule == "Host(`{{ .Name }}.x`)"
    assert s.tls_entry_points == frozenset({"websecure"})
    assert s.default_rule_syntax == "v2"
    assert not from_flags(["--providers.docker=false"], "x").docker


def test_file_wins_then_flags_then_env() -> None:
    text = (
        "providers:\n  docker:\n    exposedByDefault: false\n  file:\n    directory: /dyn\n"
        "entryPoints:\n  websecure:\n    address: ':443'\n    http:\n      tls: {}\n"
    )
    s = choose((text, "traefik.yml"), ["--providers.docker.exposedbydefault=true"], {}, "x")
    assert s.source == "file traefik.yml" and not s.exposed_by_default
    assert s.tls_entry_points == frozenset({"websecure"}) and s.file_directory == "/dyn"
    env = {"TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT": "false", "PATH": "/bin"}
    e = choose(None, None, env, "x")
    assert e.source == "environment in x" and e.docker and not e.exposed_by_default
    assert from_env({"PATH": "/bin"}, "x") is None
    assert choose(None, [], {}, "x").source == "defaults"
    toml = from_file("[providers.docker]\nexposedByDefault = false\n", "traefik.toml")
    assert not toml.exposed_by_default
