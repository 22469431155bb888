"""File writes with the right replace semantics, and hashes.

Rules:
- A file inside a directory that a container mounts (Traefik's dynamic/) is replaced
  atomically: written to a temp file then renamed over, so the watcher never sees half a file.
  The temp file goes next to the watched directory, never into it (Traefik would load it).
- A file bind-mounted on its own (``./x.conf:/etc/x.conf``) is written in place: a rename
  would give it a new inode and the container would keep seeing the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

TMP_SUFFIX = ".odoo-router-migrate.tmp"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str | None:
    """The file's sha256, or None when it does not exist."""
    try:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except FileNotFoundError:
        return None


def tree_digest(root: Path, skip: Iterable[Path] = ()) -> dict[str, str]:
    """sha256 (and mode) of every file under root, by relative path; for byte-identity checks."""
    skipped = [s.resolve() for s in skip]
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if (here / d).resolve() not in skipped)
        for name in sorted(filenames):
            p = here / name
            if p.is_symlink():
                out[str(p.relative_to(root))] = "symlink:" + os.readlink(p)
                continue
            mode = oct(p.stat().st_mode & 0o7777)
            out[str(p.relative_to(root))] = f"{sha256_file(p)} {mode}"
    return out


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created, renamed or removed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path, data: bytes, *, watched_dir: Path | None = None, mode: int = 0o644
) -> None:
    """Replace ``path`` by rename. With ``watched_dir`` (a directory a watcher reads, containing
    path) the temp file is created in its parent instead, on the same filesystem."""
    parent = path.parent
    tmp_dir = parent
    if watched_dir is not None and parent.resolve().is_relative_to(watched_dir.resolve()):
        tmp_dir = watched_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    tmp = tmp_dir / f".{path.name}{TMP_SUFFIX}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left over by a killed run
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(parent)


def write_in_place(path: Path, data: bytes) -> None:
    """Overwrite the existing inode (single-file bind mounts)."""
    with path.open("r+b") as fh:
        fh.write(data)
        fh.truncate()
        fh.flush()
        os.fsync(fh.fileno())


def write_file(
    path: Path,
    data: bytes,
    *,
    in_place: bool = False,
    watched_dir: Path | None = None,
    mode: int = 0o644,
) -> None:
    if in_place and path.exists():
        write_in_place(path, data)
    else:
        write_atomic(path, data, watched_dir=watched_dir, mode=mode)


def remove_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        fsync_dir(path.parent)


def write_new_exclusive(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create a file that must not exist yet (backups are write-once)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
