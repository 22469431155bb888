"""/status in a real headless Chromium (Debian's ``chromium`` package) under traffic: the DOM
the browser built has the tables with what the router knows, and a screenshot is taken.

The screenshot goes to the test's temporary directory; with ``ODOO_ROUTER_SCREENSHOT=1`` it
also replaces docs/status.png, the one the README shows (regenerated on purpose, not by
every run of the suite: it changes with every run). Where chromium is not installed the
test skips, except in CI (``CI`` set), where scripts/test.sh installs it and its absence is
a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from integration.upstreams import Farm
from runtime.status_router import (
    HALF_DEAD_POOL,
    hit_half_dead,
    start_status_router,
    status_json,
    wait_failed,
)
from runtime.support import Loop

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1440, 900


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: scripts/test.sh installs Debian's package")
        pytest.skip("chromium is not installed (apt install chromium; CI installs it)")
    return found


def browse(exe: str, profile: Path, url: str, *args: str) -> str:
    """One headless Chromium run on ``url``; its stdout. Loopback only: every name but the
    loopback address is made unresolvable, and background networking is off."""
    done = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",  # root in CI's container: the setuid sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-proxy-server",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=profile,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


class Tables(HTMLParser):
    """Each table's rows of cell texts, by the table's id; and every tag seen."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.tables: dict[str, list[list[str]]] = {}
        self._id: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "table":
            self._id = dict(attrs).get("id") or ""
            self.tables[self._id] = []
        elif tag == "tr" and self._id is not None:
            self.tables[self._id].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._id is not None:
            self.tables[self._id][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_status_page_in_chromium(farm: Farm, tmp_path: Path) -> None:
    exe = chromium()
    router, metrics, dead = start_status_router(farm)
    loops = [Loop(router.port, seconds=120, max_requests=50_000) for _ in range(2)]
    try:
        for loop in loops:
            loop.start()
        router.config["server"]["keepalive_requests"] = 500
        router.config_path.write_text(yaml.safe_dump(router.config, sort_keys=False))
        os.kill(router.proc.pid, signal.SIGHUP)  # one reload, for the reloads table
        hit_half_dead(router)
        wait_failed(metrics, dead, router)
        deadline = time.monotonic() + 10  # the traffic's tenant has its slot (granted in 1-3 s)
        while not any(r["db"] == "ten_testodoo" for r in status_json(metrics)["tenants"]["rows"]):
            assert time.monotonic() < deadline, "ten_testodoo never got a tenant label"
            time.sleep(0.1)
        time.sleep(2.5)  # an earlier sample for the rates: the page loaded twice
        url = f"http://127.0.0.1:{metrics}/status"
        browse(exe, tmp_path, url, "--dump-dom")
        dom = browse(exe, tmp_path, url, "--dump-dom")
        page = Tables(dom)
        assert "script" not in page.tags
        assert {"summary", "pools", "tenants-requests", "tenants-errors",
                "tenants-websockets", "reloads"} <= set(page.tables)  # fmt: skip
        summary = {row[0]: row[1] for row in page.tables["summary"]}
        assert summary["workers"] == "2 of 2"
        assert summary["build"].startswith(("compiled", "pure"))
        pools = page.tables["pools"]
        assert pools[0][:3] == ["pool", "server", "health"]
        failed = [row for row in pools if row[1] == dead]
        assert failed and failed[0][0] == HALF_DEAD_POOL and failed[0][2] == "FAILED"
        assert failed[0][3].endswith("Z")  # the failed-until time
        assert [row[2] for row in pools if row[0] == "tenant"] == ["up"]
        reloads = page.tables["reloads"]
        assert reloads[1][1] == "ok" and len(reloads[1][2]) == 12
        top = page.tables["tenants-requests"][1]  # the traffic's tenant, by request rate
        assert top[0] == "ten_testodoo" and float(top[1]) > 0, top

        shot = tmp_path / "status.png"
        browse(exe, tmp_path, url, f"--screenshot={shot}")
        assert png_size(shot) == (WIDTH, HEIGHT)
        if os.environ.get("ODOO_ROUTER_SCREENSHOT") == "1":
            shutil.copyfile(shot, REPO / "docs" / "status.png")
    finally:
        for loop in loops:
            loop.stop()
        router.stop()
    assert all(loop.ok > 0 and not loop.failures for loop in loops)
