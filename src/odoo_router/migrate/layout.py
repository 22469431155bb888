"""Where the tool's own things are. Every path it reads or writes is under ``root``
(``--root``); the stacks are found under ``stacks`` by discovery (discover.py), never by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def under(root: Path, path: str | Path) -> Path:
    """``/srv/stacks`` under root ``/tmp/x`` is ``/tmp/x/srv/stacks``."""
    p = Path(path)
    return root / p.relative_to(p.anchor) if p.is_absolute() else root / p


@dataclass(frozen=True)
class Layout:
    root: Path
    stacks: Path  # /srv/stacks under root
    state: Path  # the tool's own state: plan, staging, journal, lock, secrets
    backups: Path  # parent of the write-once backup folders

    @classmethod
    def make(
        cls,
        root: str | Path = "/",
        stacks: str = "/srv/stacks",
        state: str = "/var/lib/odoo-router-migrate",
        backups: str = "/mnt/backup",
    ) -> Layout:
        r = Path(root).resolve()
        return cls(
            root=r, stacks=under(r, stacks), state=under(r, state), backups=under(r, backups)
        )

    @property
    def plan_file(self) -> Path:
        return self.state / "plan.json"

    @property
    def staging(self) -> Path:
        return self.state / "staging"

    @property
    def runs(self) -> Path:
        return self.state / "runs"

    @property
    def lock_file(self) -> Path:
        return self.state / "lock"

    @property
    def secrets_file(self) -> Path:
        return self.state / "secrets.json"

    @property
    def scratch(self) -> Path:
        # Temp files for atomic replaces live here, never in Traefik's watched directory.
        return self.state / "tmp"

    def rel(self, path: Path) -> str:
        """The path as the operator knows it (``/srv/stacks/...``)."""
        return (
            "/" + str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        )

    def path(self, rel: str) -> Path:
        """The inverse of ``rel``."""
        return self.root / rel.lstrip("/")
