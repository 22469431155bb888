"""Render odoo-tenant.conf and odoo-admin.conf from the current odoo.conf, pure: the
operator's file with only these keys changed, every other line as it was.

What changes and why (tests/reference/README.md):
- ``server_wide_modules`` gains ``dbfilter_from_header``: without it Odoo ignores the
  X-Odoo-dbfilter header the router sends and every host sees every database.
- ``db_name`` goes: the database is chosen by the header only.
- ``admin_passwd`` is a generated secret stored as a pbkdf2-sha512 hash (Odoo verifies it
  with passlib), never ``changeme``.
- Both containers keep the old ``data_dir`` (written or Odoo's default) on the same volume,
  so the filestore and sessions carry over and do not diverge between tenant and admin.
- ``list_db`` is on only for admin, which sits behind the allowlist.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import secrets

from .odooconf import ConfText

DBFILTER_MODULE = "dbfilter_from_header"
WEAK_PASSWORDS = frozenset({"", "changeme", "admin", "odoo", "password"})
PBKDF2_ROUNDS = 600_000

_TENANT = {"proxy_mode": "True", "list_db": "False", "gevent_port": "8072"}
_ADMIN = {
    "proxy_mode": "True",
    "list_db": "True",
    "gevent_port": "8072",
    "workers": "1",
    "max_cron_threads": "0",  # crons run once, in the tenant container
    "limit_memory_soft": "536870912",
    "limit_memory_hard": "671088640",
}
_DROP = ("db_name",)


def _ab64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def hash_admin_password(
    password: str, salt: bytes | None = None, rounds: int = PBKDF2_ROUNDS
) -> str:
    """passlib's pbkdf2_sha512 format, which Odoo's admin_passwd check accepts."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"$pbkdf2-sha512${rounds}${_ab64(salt)}${_ab64(digest)}"


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def read_options(text: str) -> dict[str, str]:
    cp = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#", ";"))
    cp.read_string(text)
    return dict(cp["options"]) if cp.has_section("options") else {}


def _render(text: str, overrides: dict[str, str], admin_hash: str, header: str) -> str:
    """The operator's odoo.conf, line for line, with only the keys that must differ changed
    (odooconf.py): its comments, order and other settings stay."""
    options = read_options(text)
    conf = ConfText(text)
    for key in _DROP:
        conf.delete("options", key)
    modules = [
        m.strip() for m in options.get("server_wide_modules", "base,web").split(",") if m.strip()
    ]
    wanted = [*modules, *(m for m in ("base", "web", DBFILTER_MODULE) if m not in modules)]
    if wanted != modules or "server_wide_modules" not in options:
        conf.set("options", "server_wide_modules", ",".join(wanted))
    for key, value in overrides.items():
        if options.get(key) != value:
            conf.set("options", key, value)
    # data_dir stays as it was, written or not: Odoo's default (~/.local/share/Odoo of the
    # image's user) must keep pointing at the same filestore.
    conf.set("options", "admin_passwd", admin_hash)
    conf.prepend_comment(header)
    return conf.render()


def render_tenant_conf(odoo_conf: str, admin_hash: str) -> str:
    return _render(
        odoo_conf,
        _TENANT,
        admin_hash,
        "Rendered by odoo-router-migrate from odoo.conf: the tenant container.\n"
        "The database comes from the router's X-Odoo-dbfilter header (dbfilter_from_header).",
    )


def render_admin_conf(odoo_conf: str, admin_hash: str) -> str:
    return _render(
        odoo_conf,
        _ADMIN,
        admin_hash,
        "Rendered by odoo-router-migrate from odoo.conf: the admin container.\n"
        "Reachable only on the admin host, behind the router's and Traefik's allowlists.",
    )
