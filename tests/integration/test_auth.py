"""Basic auth in front of a route, through a real router (issue 4 item 6): the challenge,
wrong and right credentials, and no decision reused across clients."""

from __future__ import annotations

import base64

import pytest

from .client import get
from .router import AUTH_PASSWORD, AUTH_USER, RouterProcess

HOST = "auth.test"


def _basic(user: str, password: str) -> list[tuple[str, str]]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [("Authorization", f"Basic {token}")]


async def test_challenge_without_credentials(compat: RouterProcess) -> None:
    resp = await get(compat.port, HOST, "/private/x")
    assert resp.status == 401
    assert resp.header("WWW-Authenticate") == 'Basic realm="test realm"'
    assert resp.upstream() is None


@pytest.mark.parametrize(
    "headers",
    [
        _basic(AUTH_USER, "wrong"),
        _basic("nobody", AUTH_PASSWORD),
        _basic(AUTH_USER, AUTH_PASSWORD + " "),
        [("Authorization", "Basic !!!")],
        [("Authorization", "Bearer abc")],
        [("Authorization", "")],
    ],
    ids=["wrong password", "unknown user", "trailing space", "bad base64", "bearer", "empty"],
)
async def test_wrong_credentials(compat: RouterProcess, headers: list[tuple[str, str]]) -> None:
    resp = await get(compat.port, HOST, "/private/x", headers)
    assert resp.status == 401
    assert resp.upstream() is None


async def test_right_credentials_then_none_again(compat: RouterProcess) -> None:
    ok = await get(compat.port, HOST, "/private/x", _basic(AUTH_USER, AUTH_PASSWORD))
    assert ok.status == 200
    assert ok.upstream() == "admin"
    again = await get(compat.port, HOST, "/private/x")
    assert again.status == 401, "a decision made with credentials is never reused without"
    ok = await get(compat.port, HOST, "/private/x", _basic(AUTH_USER, AUTH_PASSWORD))
    assert ok.status == 200, "the verified-credentials cache answers the second time"


@pytest.mark.parametrize("path", ["/%70rivate/x", "//private/x", "/x/../private/x", "/./private"])
async def test_path_spellings_are_challenged(compat: RouterProcess, path: str) -> None:
    resp = await get(compat.port, HOST, path)
    assert resp.status == 401


async def test_other_routes_need_no_credentials(compat: RouterProcess) -> None:
    resp = await get(compat.port, HOST, "/public")
    assert resp.status == 200
    assert resp.upstream() == "admin"
