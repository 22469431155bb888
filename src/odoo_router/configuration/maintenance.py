"""The ``maintenance`` section of router.yaml: where the maintenance state file lives.

``maintenance: {file: PATH, retry_after: 5m}``. The file is written by ``odoo-router
maintenance on|off`` and watched by every worker (ops/maintenance_watch.py): a change needs
no reload. The section itself is reloadable (a reload may name another file, or none). A
relative PATH is taken from router.yaml's directory, so that the same router.yaml names the
same file on the host and in the container that mounts its directory (the migration mounts
``state/`` writable inside the read-only config directory).
"""

from __future__ import annotations

import os

from .model import MaintenanceSettings
from .reader import Reader
from .values import as_str, parse_duration


def _as_path(value: object) -> str:
    text = as_str(value)
    if not text.strip():
        raise ValueError("expected a file path, got an empty string")
    if "\x00" in text:
        raise ValueError("a file path cannot hold a NUL character")
    if text.endswith("/"):
        raise ValueError(f"expected a file, got a directory {text!r}")
    return text


def _as_retry(value: object) -> float:
    seconds = parse_duration(value)
    if not 1 <= seconds <= 86400:
        raise ValueError(f"must be between 1s and 24h, got {value!r}")
    return seconds


def read_maintenance(r: Reader, value: object, filename: str) -> MaintenanceSettings:
    d = MaintenanceSettings()
    if value is None:
        return d
    m = r.mapping(value, "maintenance", ("file",), ("retry_after",))
    if m is None or "file" not in m:
        return d
    path = r.get(m, "maintenance", "file", _as_path, None)
    if path is None:
        return d
    if not os.path.isabs(path) and not filename.startswith("<"):
        path = os.path.join(os.path.dirname(os.path.abspath(filename)), path)
    return MaintenanceSettings(
        file=path, retry_after=r.get(m, "maintenance", "retry_after", _as_retry, d.retry_after)
    )
