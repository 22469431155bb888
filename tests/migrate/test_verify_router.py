"""verify's F2-F4 against the real odoo-router serving the rendered router.yaml, in front of
two fake Odoo containers that behave like Odoo where it matters: the X-Odoo-dbfilter header
is a regex matched (re.match) against the databases, /web/login shows the login page only
when exactly one database is selected, and the database selector exists only with
list_db (the admin container)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from harness.processes import end_process, free_port
from odoo_router.migrate.context import Context
from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.facts import Fact
from odoo_router.migrate.pg import Pg
from odoo_router.migrate.render import router_spec
from odoo_router.migrate.render_router import render_router_yaml
from odoo_router.migrate.verify import check_http

from .fakes import serve
from .test_render import fixture_survey
from .test_units import Recorder

DATABASES = ["ten_testodoo", "ten_testodoo2", "ten_acme"]
EXPECT: dict[str, Any] = {
    "admin_hosts": ["admin.erp.seisei.tokyo"],
    "named": [["testodoo.seisei.tokyo", "ten_testodoo"], ["demo.nagashiro.top", "ten_testodoo"]],
    "tenant_sample": "acme.erp.seisei.tokyo",
    "login_redirect": "https://biznexus.seisei.tokyo/login",
    "admin_allow": ["127.0.0.0/8", "10.0.0.0/8"],
    "router_container": "seisei-odoo-router",
}


def fake_odoo(list_db: bool) -> object:
    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        path = req.path.split("?")[0]
        flt = req.headers.get("X-Odoo-dbfilter")
        dbs = [d for d in DATABASES if flt is None or re.match(flt, d)]
        if path == "/web/database/selector":
            return (200, {}, b"selector") if list_db else (403, {}, b"Forbidden")
        if path == "/web/login":
            if len(dbs) == 1:
                return 200, {}, b"<form>login</form>"
            return 303, {"Location": "/web/database/selector"}, b""
        return 404, {}, b"not found"

    return serve(handle)


@pytest.fixture
def router(tmp_path: Path) -> Iterator[str]:
    with fake_odoo(list_db=False) as tenant, fake_odoo(list_db=True) as admin:
        port = free_port()
        routing = fixture_survey().routing
        routing.admin_allow = Fact(tuple(EXPECT["admin_allow"]), "test")
        routing.trusted_proxies = Fact(("127.0.0.0/8",), "test")
        text = render_router_yaml(routing, router_spec(fixture_survey()))
        text = text.replace('listen: ["0.0.0.0:80"]', f'listen: ["127.0.0.1:{port}"]')
        text = text.replace("workers: auto", "workers: 1")
        text = text.replace('listen: "127.0.0.1:9145"', "listen: null")
        for pool, url in (("odoo-tenant:8069", tenant), ("odoo-admin:8069", admin)):
            text = text.replace(pool, url.removeprefix("http://"))
        conf = tmp_path / "router.yaml"
        conf.write_text(text)
        log = (tmp_path / "router.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "odoo_router", "--config", str(conf)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(base + "/nginx-health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(
                        "odoo-router did not start: " + (tmp_path / "router.log").read_text()[-400:]
                    )
                time.sleep(0.2)
            yield base
        finally:
            end_process(proc, grace=15)
            log.close()


def _ctx(url: str, tmp_path: Path) -> Context:
    from odoo_router.migrate.layout import Layout

    rec = Recorder()
    return Context(Layout.make(tmp_path), rec, Docker(rec), Pg(rec), None, router_url=url)


def test_http_checks_pass_through_the_real_router(router: str, tmp_path: Path) -> None:
    checks = check_http(_ctx(router, tmp_path), EXPECT)
    assert [c for c in checks if not c.ok] == []
    assert {c.id for c in checks} == {"F2", "F3", "F4"}


def test_http_checks_catch_a_prefix_dbfilter(router: str, tmp_path: Path) -> None:
    """Unanchored, ten_testodoo also selects ten_testodoo2: Odoo shows the selector."""
    broken = {**EXPECT, "named": [["testodoo.seisei.tokyo", "ten_testodoo"]]}
    with fake_odoo(list_db=False) as tenant:
        checks = check_http(_ctx(tenant, tmp_path), broken)  # straight to Odoo: no filter at all
    failed = {c.name for c in checks if not c.ok}
    assert "testodoo.seisei.tokyo selects only ten_testodoo" in failed
