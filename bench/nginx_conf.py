"""nginx configurations: the reference (loadable variant), nginx tuned, and the sink.

The reference file is read from tests/reference/nginx-default.conf (the router it replaces)
and edited by code, never copied by hand:
* ``try_files /nonexistent @admin_proxy[_lp];`` inside ``if`` does not load
  (tests/reference/README.md, fact 1): it becomes ``return 418;`` / ``return 419;`` with
  server-level ``error_page 418 = @admin_proxy; error_page 419 = @admin_proxy_lp;``.
* upstream servers and ``listen`` are mapped to loopback ports.
The tuned variant adds, to every location that proxies, ``proxy_http_version 1.1`` and
``Connection $connection_upgrade`` ("" for plain requests, "upgrade" for websockets), and
raises every upstream's ``keepalive`` to at least the load's concurrency.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "tests" / "reference" / "nginx-default.conf"


@dataclass(frozen=True)
class Upstreams:
    """Loopback ports standing in for odoo-tenant/odoo-admin :8069 and :8072."""

    http: int
    websocket: int


def _user_line() -> str:
    # As root, nginx workers run as nobody and could not write our temp dirs.
    return "user root;\n" if os.geteuid() == 0 else ""


# The access log for ``python -m bench --access-log``. "json": the router's line (same
# fields, same order, JSON-escaped, about the same size); "main": the nginx image's default
# format, which the reference's http block (not in the file) logs with.
LOG_FORMATS = {
    "json": (
        'escape=json \'{"time":"$time_iso8601","client_ip":"$remote_addr",'
        '"host":"$host","method":"$request_method","path":"$request_uri",'
        '"status":$status,"bytes_in":$request_length,"bytes_out":$bytes_sent,'
        '"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",'
        '"upstream_time":"$upstream_response_time","total_time":$request_time,'
        '"host_rule":"$server_name","route":"$uri","dbfilter":"$tenant_db",'
        '"error":null,"request_id":"$request_id"}\''
    ),
    "main": (
        '\'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"\''
    ),
}


def access_log(path: Path | None, fmt: str = "json") -> str:
    """The http-level lines: ``access_log off`` or a format and a file (one write() per
    request, nginx's default: no ``buffer=``)."""
    if path is None:
        return "access_log off;"
    return f"log_format bench {LOG_FORMATS[fmt]};\n    access_log {path} bench;"


def wrap(
    prefix: Path, body: str, workers: int, connections: int = 8192, log: str = "access_log off;"
) -> str:
    """A whole nginx.conf around an http-level snippet, everything under ``prefix``; ``log``
    is the http block's access_log (``access_log()``)."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{_user_line()}worker_processes {workers};
worker_rlimit_nofile {connections * 2};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    {log}
{temp}
{body}
}}
"""


def reference(port: int, up: Upstreams, text: str | None = None) -> str:
    """The reference router, loadable, listening on 127.0.0.1:port."""
    conf = text if text is not None else REFERENCE.read_text(encoding="utf-8")
    edits = [
        ("try_files /nonexistent @admin_proxy_lp;", "return 419;"),
        ("try_files /nonexistent @admin_proxy;", "return 418;"),
        ("server odoo-tenant:8069;", f"server 127.0.0.1:{up.http};"),
        ("server odoo-admin:8069;", f"server 127.0.0.1:{up.http};"),
        ("server odoo-tenant:8072;", f"server 127.0.0.1:{up.websocket};"),
        ("server odoo-admin:8072;", f"server 127.0.0.1:{up.websocket};"),
    ]
    for old, new in edits:
        if old not in conf:
            raise ValueError(f"reference changed: {old!r} not found")
        conf = conf.replace(old, new)
    conf, n = re.subn(r"\n(\s*)listen 80;", rf"\n\1listen 127.0.0.1:{port};", conf)
    if n != 1:
        raise ValueError("reference changed: expected one 'listen 80;'")
    conf, n = re.subn(
        r"(server_name _;\n)",
        r"\1    error_page 418 = @admin_proxy;\n    error_page 419 = @admin_proxy_lp;\n",
        conf,
    )
    if n != 1:
        raise ValueError("reference changed: expected one 'server_name _;'")
    return conf


def tuned(port: int, up: Upstreams, keepalive: int) -> str:
    """The reference routes with nginx's usual throughput settings."""
    conf = reference(port, up)
    conf = re.sub(
        r"keepalive \d+;", f"keepalive {keepalive};\n    keepalive_requests 1000000;", conf
    )
    conf = re.sub(r"\n\s*proxy_http_version 1\.1;", "", conf)
    conf = re.sub(r'\n\s*proxy_set_header Connection "upgrade";', "", conf)
    conf = re.sub(
        r"(\n(\s*)proxy_pass [^;]+;)",
        r"\1\n\2proxy_http_version 1.1;\n\2proxy_set_header Connection $connection_upgrade;",
        conf,
    )
    upgrade_map = 'map $http_upgrade $connection_upgrade {\n    default upgrade;\n    "" "";\n}\n'
    return upgrade_map + conf


def sink(port: int, big_file: Path, body_size: int = 1024) -> str:
    """The upstream for every target: 1 KiB answers, a big file, request bodies discarded.

    ``return`` answers before the request body is read; Odoo reads an upload whole first. So
    the upload path reads it first: ``mirror_request_body`` makes nginx read the body before
    the content phase, whose static handler refuses the POST (405), turned into the 200.
    """
    body = "x" * (body_size - 1)
    return f"""server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
    location = /web/content/bench-5m {{
        alias {big_file};
        default_type application/octet-stream;
    }}
    location = /web/binary/upload_attachment {{
        client_body_buffer_size 32m;
        mirror /bench-discard;
        mirror_request_body on;
        alias {big_file};
        error_page 404 405 =200 @uploaded;
    }}
    location = /bench-discard {{
        internal;
        return 204;
    }}
    location @uploaded {{
        default_type text/plain;
        return 200 "{body}\\n";
    }}
    location = /jsonrpc {{
        # The router's master asks db.db_exist before a tenant takes a metrics label slot
        # (it names itself in User-Agent): every database exists here.
        if ($http_user_agent ~ "db\\.db_exist") {{
            return 200 '{{"jsonrpc":"2.0","id":1,"result":true}}';
        }}
        default_type text/plain;
        return 200 "{body}\\n";
    }}
    location / {{
        default_type text/plain;
        return 200 "{body}\\n";
    }}
}}
"""


def check_reference() -> list[str]:
    """What the edits rely on, for a clear message if the reference file moved or changed."""
    problems = []
    if not REFERENCE.is_file():
        problems.append(f"reference not found: {REFERENCE}")
    return problems
