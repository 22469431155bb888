"""wrk runs: one Lua script per scenario whose done() prints the numbers as JSON."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,' ..
    '"non2xx":%d,"p50":%d,"p99":%d,"p999":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


@dataclass(frozen=True)
class Request:
    """What every connection sends, again and again."""

    path: str
    host: str = "testodoo.seisei.tokyo"
    method: str = "GET"
    body_bytes: int = 0
    content_type: str = "application/json"
    close: bool = False  # "Connection: close": a new connection per request
    extra_headers: tuple[tuple[str, str], ...] = ()

    def lua(self) -> str:
        lines = [
            f'wrk.method = "{self.method}"',
            f'wrk.path = "{self.path}"',
            f'wrk.headers["Host"] = "{self.host}"',
        ]
        if self.close:
            lines.append('wrk.headers["Connection"] = "close"')
        for name, value in self.extra_headers:
            lines.append(f'wrk.headers["{name}"] = "{value}"')
        if self.body_bytes:
            lines.append(f'wrk.headers["Content-Type"] = "{self.content_type}"')
            if self.content_type == "application/json":
                lines.append(f"wrk.body = {json_rpc_lua(self.body_bytes)}")
            else:
                lines.append(f'wrk.body = string.rep("a", {self.body_bytes})')
        return "\n".join(lines) + "\n" + _DONE


def json_rpc_lua(size: int) -> str:
    """A JSON-RPC execute_kw call padded to ``size`` bytes, as a Lua string literal."""
    head = (
        '{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object",'
        '"method":"execute_kw","args":["ten_testodoo",2,"admin","res.partner","search_read",'
        '[[["is_company","=",true]]],{"fields":["name","email"],"limit":80}],"pad":"'
    )
    tail = '"}}'
    pad = size - len(head) - len(tail)
    text = head + "x" * max(pad, 0) + tail
    return "'" + text + "'"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    bytes: int
    errors: int
    non2xx: int
    p50_us: int
    p99_us: int
    p999_us: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run(
    port: int, request: Request, connections: int, seconds: float, workdir: Path, threads: int = 1
) -> WrkResult:
    script = workdir / f"wrk-{abs(hash(request))}.lua"
    script.write_text(request.lua())
    argv = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{request.path}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            d = json.loads(line[len("BENCHJSON ") :])
            return WrkResult(
                requests=d["requests"],
                seconds=d["duration_us"] / 1e6,
                bytes=d["bytes"],
                errors=d["errors"],
                non2xx=d["non2xx"],
                p50_us=d["p50"],
                p99_us=d["p99"],
                p999_us=d["p999"],
            )
    raise RuntimeError(f"wrk gave no result: {done.stdout[-500:]} {done.stderr[-500:]}")
