"""The harness's own pure parts: reference edits, body normalisation, deviation checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import nginx_ref
from .cases import generate
from .deviations import compare
from .observe import normalise_body

PORTS = {"tenant": 1001, "tenant_lp": 1002, "admin": 1003, "admin_lp": 1004}


def test_reference_edits_are_applied() -> None:
    text = nginx_ref.loadable_reference(8080, PORTS)
    assert "try_files" not in text
    assert text.count("return 418;") == 7 and text.count("return 419;") == 1
    assert "error_page 418 = @admin_proxy;" in text
    assert "listen 127.0.0.1:8080;" in text
    assert "server 127.0.0.1:1004;" in text and "odoo-admin" not in text


def test_a_changed_reference_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = nginx_ref.REFERENCE.read_text(encoding="utf-8").replace(
        "try_files /nonexistent @admin_proxy;", "error_page 418 = @admin_proxy; return 418;", 1
    )
    (tmp_path / "nginx-default.conf").write_text(changed, encoding="utf-8")
    monkeypatch.setattr(nginx_ref, "REFERENCE", tmp_path / "nginx-default.conf")
    with pytest.raises(nginx_ref.ReferenceShapeError, match="expected 7"):
        nginx_ref.loadable_reference(8080, PORTS)


def test_error_pages_compare_without_the_server_name() -> None:
    ours = b"<hr><center>odoo-router</center>"
    assert normalise_body(b"<hr><center>nginx/1.22.1</center>") == normalise_body(ours)


def test_a_deviation_still_checks_our_value() -> None:
    case = next(c for c in generate() if c.id == "header-sub-GET-/jsonrpc-conn-custom")
    ref = {"status": 200, "connection_named": (("X-Custom", "1"),)}
    assert compare(case, ref, {"status": 200, "connection_named": ()}) == []
    problems = compare(case, ref, {"status": 200, "connection_named": (("X-Custom", "2"),)})
    assert len(problems) == 1 and "connection-named-headers-dropped" in problems[0]
    assert compare(case, ref, dict(ref), deviations=False) == []
