"""Every RPC firewall case of this suite is also decided by the oracle (rpc_oracle.py, the
whole-body parser the streaming firewall replaced) and by the streaming inspector fed in
small pieces: all three must answer alike."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from odoo_router.security.rpc_firewall import Verdict
from security.rpc_compare import oracle, same, streamed


def _checked(real: Callable[..., Verdict]) -> Callable[..., Verdict]:
    def inspect_rpc(
        path: str,
        content_type: str | None,
        content_encoding: str | None,
        body: bytes,
        tenant_db: str,
        limit: int = 1 << 20,
    ) -> Verdict:
        args = (path, content_type, content_encoding, body, tenant_db, limit)
        got = real(*args)
        want = oracle(*args)
        assert want is not None and same(got, want), (got, want)
        for piece in (1, 7, 4096) if len(body) <= 8192 else (65521,):
            pieces = streamed(*args, piece=piece)
            assert same(pieces, got), (piece, pieces, got)
        return got

    return inspect_rpc


@pytest.fixture(autouse=True)
def _same_as_the_oracle(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    module: ModuleType = request.module
    real = getattr(module, "inspect_rpc", None)
    if real is not None and module.__name__.startswith("test_rpc_firewall"):
        monkeypatch.setattr(module, "inspect_rpc", _checked(real))
