"""Health probe for container HEALTHCHECKs: ``python -m odoo_router.probe [URL]``.

Exits 0 when URL answers HTTP 200 within the timeout, 1 otherwise, and prints one short line
(Docker keeps it in ``docker inspect``'s health log). Standard library only, so an image
needs neither curl nor wget. http.client rather than urllib: urllib would follow redirects
(a 302 to a login page is not "healthy") and honour http_proxy from the environment.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1/nginx-health"
DEFAULT_TIMEOUT = 3.0


def probe(url: str, timeout: float = DEFAULT_TIMEOUT, host: str | None = None) -> tuple[bool, str]:
    """(healthy, one-line description)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False, f"unsupported URL {url!r}"
    try:
        port = parts.port
    except ValueError:
        return False, f"bad port in {url!r}"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        # A health check talks to its own container: a certificate for the public name
        # would not match 127.0.0.1, so it is not verified.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": "odoo-router-probe", "Connection": "close"}
    if host:
        headers["Host"] = host
    started = time.monotonic()
    try:
        conn.request("GET", target, headers=headers)
        resp = conn.getresponse()
        resp.read(65536)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{url}: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    if elapsed > timeout:
        return False, f"{url}: {resp.status} after {elapsed:.1f}s (timeout {timeout:g}s)"
    if resp.status == 200:
        return True, f"{url}: {resp.status} {resp.reason}"
    return False, f"{url}: {resp.status} {resp.reason}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="odoo-router probe",
        description="Exit 0 if URL answers HTTP 200 in time, 1 otherwise.",
    )
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"default: {DEFAULT_URL}")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (default: %(default)s)"
    )
    parser.add_argument("--host", help="Host header to send (default: the URL's host)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0; a usage error must be 1, not argparse's 2
        return 0 if exc.code in (0, None) else 1
    ok, message = probe(args.url, args.timeout, args.host)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
