"""Real nginx running the reference router, made loadable and mapped to loopback.

The reference (tests/reference/nginx-default.conf, the router this project replaces) stays the
single source: it is read at test time and edited by code, and every edit checks that the text
it replaces is there exactly as expected, so a changed reference fails loudly instead of being
tested half edited. The edits (tests/reference/README.md, fact 1):

- `try_files /nonexistent @admin_proxy;` (refused inside `if`) becomes `return 418;`, and
  `try_files /nonexistent @admin_proxy_lp;` becomes `return 419;`, with server-level
  `error_page 418 = @admin_proxy; error_page 419 = @admin_proxy_lp;`;
- `listen 80;` becomes a loopback port, and the four upstream `server` lines point at the
  test's echo upstreams.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .procs import stop, wait_ready

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "reference" / "nginx-default.conf"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

# (text in the reference, replacement, how many times it must occur)
_ADMIN = "try_files /nonexistent @admin_proxy;"
_ADMIN_LP = "try_files /nonexistent @admin_proxy_lp;"
_UPSTREAM_SERVERS = {
    "odoo_tenant": "odoo-tenant:8069",
    "odoo_tenant_lp": "odoo-tenant:8072",
    "odoo_admin": "odoo-admin:8069",
    "odoo_admin_lp": "odoo-admin:8072",
}
POOL_OF_UPSTREAM = {
    "odoo_tenant": "tenant",
    "odoo_tenant_lp": "tenant_lp",
    "odoo_admin": "admin",
    "odoo_admin_lp": "admin_lp",
}


class ReferenceShapeError(AssertionError):
    """The reference no longer has the shape these edits were written for."""


def _replace_counted(text: str, old: str, new: str, count: int) -> str:
    # "@admin_proxy;" is no substring of "@admin_proxy_lp;": the two edits cannot overlap.
    found = text.count(old)
    if found != count:
        raise ReferenceShapeError(
            f"{REFERENCE}: expected {count} x {old!r}, found {found}; update nginx_ref.py"
        )
    return text.replace(old, new)


def loadable_reference(listen_port: int, upstream_ports: dict[str, int]) -> str:
    """The reference server config with the minimal edits applied (see module doc)."""
    text = REFERENCE.read_text(encoding="utf-8")
    text = _replace_counted(text, _ADMIN_LP, "return 419;", 1)
    text = _replace_counted(text, _ADMIN, "return 418;", 7)
    text = _replace_counted(
        text,
        "server_name _;",
        "server_name _;\n    error_page 418 = @admin_proxy;\n    error_page 419 = @admin_proxy_lp;",
        1,
    )
    text = _replace_counted(text, "listen 80;", f"listen 127.0.0.1:{listen_port};", 1)
    for upstream, server in _UPSTREAM_SERVERS.items():
        block = re.compile(
            r"(upstream\s+" + re.escape(upstream) + r"\s*\{\s*server\s+)" + re.escape(server) + ";"
        )
        pool = POOL_OF_UPSTREAM[upstream]
        text, n = block.subn(rf"\g<1>127.0.0.1:{upstream_ports[pool]};", text)
        if n != 1:
            raise ReferenceShapeError(
                f"{REFERENCE}: expected 'upstream {upstream} {{ server {server}; ...' once"
            )
    return text


def wrapper_conf(
    tmp: Path, server_conf: Path, http_extra: str = "", access_log: bool = False
) -> str:
    """A minimal nginx.conf around the reference, as the nginx:alpine image has it;
    ``http_extra``: directives added to its http block (a test's short timeouts);
    ``access_log``: ``$status $request`` per line in ``access.log``, else none."""
    log = (
        f"log_format status '$status $request';\n    access_log {tmp}/access.log status;"
        if access_log
        else "access_log off;"
    )
    return f"""worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    {log}
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    {http_extra}
    include {server_conf};
}}
"""


def find_nginx() -> str:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in NGINX_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("nginx not found (scripts/test.sh installs nginx-light)")


@dataclass
class NginxProcess:
    proc: subprocess.Popen[bytes]
    port: int
    tmp: Path

    def stop(self) -> None:
        stop(self.proc, self.tmp)

    def access_log(self) -> str:
        path = self.tmp / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_nginx(
    port: int, upstream_ports: dict[str, int], http_extra: str = "", access_log: bool = False
) -> NginxProcess:
    # Workers drop to an unprivileged user when the master runs as root: they must reach the
    # temp dirs nginx creates here, so this dir is world-traversable and sits directly in /tmp.
    tmp = Path(tempfile.mkdtemp(prefix="conformance-nginx-"))
    tmp.chmod(0o755)
    server_conf = tmp / "reference.conf"
    server_conf.write_text(loadable_reference(port, upstream_ports), encoding="utf-8")
    conf = tmp / "nginx.conf"
    conf.write_text(wrapper_conf(tmp, server_conf, http_extra, access_log), encoding="utf-8")
    nginx = find_nginx()
    check = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed on the edited reference:\n{check.stderr}")
    with (tmp / "nginx.out").open("wb") as log:
        proc = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
    handle = NginxProcess(proc, port, tmp)
    try:
        wait_ready(proc, port, "nginx")
    except BaseException:
        handle.stop()
        raise
    return handle
