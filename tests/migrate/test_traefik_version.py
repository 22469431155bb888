"""traefik_version: API bodies, image references, compose files, what a version implies."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_router.migrate.traefik_version import (
    TraefikVersion,
    TraefikVersionError,
    UnknownVersion,
    find_traefik_image,
    from_api_body,
    from_image,
    interpolate,
)

IMAGES = [
    # image, env, expected (major, minor, patch) or the start of the unknown reason
    ("traefik:v3.7", {}, (3, 7, None)),
    ("traefik:v3.7.6", {}, (3, 7, 6)),
    ("traefik:2.11", {}, (2, 11, None)),
    ("traefik:v2.10.7", {}, (2, 10, 7)),
    ("docker.io/library/traefik:v2.10.7", {}, (2, 10, 7)),
    ("registry.example:5000/mirror/traefik:v3.1.2", {}, (3, 1, 2)),
    ("traefik:v3.1.2-rc1", {}, (3, 1, 2)),
    ("traefik:${TRAEFIK_TAG}", {"TRAEFIK_TAG": "v3.2"}, (3, 2, None)),
    ("traefik:${TRAEFIK_TAG:-v2.11.4}", {}, (2, 11, 4)),
    ("traefik:${TRAEFIK_TAG:-v2.11.4}", {"TRAEFIK_TAG": ""}, (2, 11, 4)),
    ("traefik:${TRAEFIK_TAG-v2.11.4}", {"TRAEFIK_TAG": ""}, "traefik: has an empty tag"),
    ("traefik:$TAG", {"TAG": "3.0.1"}, (3, 0, 1)),
    ("${TRAEFIK_IMAGE}", {"TRAEFIK_IMAGE": "traefik:v3.3"}, (3, 3, None)),
    ("traefik:latest", {}, "'latest' does not give"),
    ("traefik", {}, "traefik has no tag"),
    ("traefik:v3", {}, "'v3' does not give"),
    ("traefik:chabichou", {}, "'chabichou' does not give"),
    ("traefik:${TRAEFIK_TAG}", {}, "traefik:${TRAEFIK_TAG}: variable TRAEFIK_TAG is not set"),
    ("traefik@sha256:" + "a" * 64, {}, "traefik@sha256"),
    ("traefik:v3.7@sha256:" + "a" * 64, {}, "traefik:v3.7@sha256"),
    ("nginx:1.27", {}, "nginx:1.27 is not a traefik image"),
]


@pytest.mark.parametrize(("image", "env", "want"), IMAGES, ids=[i[0] + str(i[1]) for i in IMAGES])
def test_from_image(
    image: str, env: dict[str, str], want: tuple[int, int, int | None] | str
) -> None:
    got = from_image(image, env, "edge-traefik/docker-compose.yml:4")
    if isinstance(want, tuple):
        assert isinstance(got, TraefikVersion)
        assert (got.major, got.minor, got.patch) == want
        assert got.source.startswith("image tag ") and got.source.endswith(
            " in edge-traefik/docker-compose.yml:4"
        )
    else:
        assert isinstance(got, UnknownVersion)
        assert got.reason.startswith(want), got.reason


def test_api_body() -> None:
    v = from_api_body({"Version": "3.7.6", "Codename": "langres", "startDate": "x"})
    assert (v.major, v.minor, v.patch, v.source) == (3, 7, 6, "API")
    assert str(v) == "3.7.6"
    for bad in ({}, {"Version": 3}, {"Version": "dev"}, [], "3.7"):
        with pytest.raises(TraefikVersionError):
            from_api_body(bad)


@pytest.mark.parametrize(
    ("version", "allowlist"),
    [
        ((2, 9), "ipWhiteList"),
        ((2, 10), "ipWhiteList"),
        ((2, 11), "ipAllowList"),
        ((3, 0), "ipAllowList"),
    ],
)
def test_allowlist_name(version: tuple[int, int], allowlist: str) -> None:
    assert TraefikVersion(*version, None, "t").allowlist_middleware == allowlist


def test_rule_syntax() -> None:
    v2 = TraefikVersion(2, 11, 0, "t")
    v3 = TraefikVersion(3, 1, 0, "t")
    assert v2.rule_syntax() == "v2" and v2.rule_syntax("v3", "v3") == "v2"
    assert v3.rule_syntax() == "v3"
    assert v3.rule_syntax(None, "v2") == "v2"  # static core.defaultRuleSyntax
    assert v3.rule_syntax("v3", "v2") == "v3"  # the router's own ruleSyntax wins
    assert v3.rule_syntax("v2") == "v2"
    assert v3.rule_syntax("bogus") == "v3"


def test_interpolate() -> None:
    env = {"A": "1", "E": ""}
    assert interpolate("x$$y${A}$A", env) == ("x$y11", None)
    assert interpolate("${E:-d}${E-d}${U:+x}${A:+x}", env) == ("dx", None)
    assert interpolate("${U:?needed}", env)[1] == "variable U is not set (needed)"


def test_compose_file(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "# edge\nservices:\n  whoami:\n    image: traefik/whoami\n  proxy:\n"
        '    image: "traefik:${TAG:-v3.4.1}"\n    restart: always\n',
        encoding="utf-8",
    )
    got = find_traefik_image(compose, {}, "edge-traefik/docker-compose.yml")
    assert isinstance(got, TraefikVersion)
    assert str(got) == "3.4.1"
    assert got.source == "image tag traefik:v3.4.1 in edge-traefik/docker-compose.yml:6"
    compose.write_text("services:\n  web:\n    image: nginx\n", encoding="utf-8")
    assert find_traefik_image(compose, {}, "x") is None
