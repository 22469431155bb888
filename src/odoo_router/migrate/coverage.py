"""Which files a migration covers: one set for the backup (``backup`` and apply's step 1) and
for apply's stale-plan check, so that nothing is compared that is not also saved, and the
reverse.

The set:
- every file the plan read to decide (``plan["inputs"]``: path -> sha256, None for a file
  that did not exist) and every file it writes;
- every file under a watched directory (``plan["watched"]``, Traefik's ``dynamic/`` by
  default): Traefik loads the whole directory, so a file added there after ``plan`` changes
  what the migration does;
- in every stack directory: its compose files, ``.env`` (compose reads it to interpolate),
  and Traefik's static configuration;
- every file discovery reads in the tree (odoo.conf, the nginx config, ...), for a backup
  without a plan.
Paths are as the operator knows them (``/srv/stacks/...``), under ``--root``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .fsops import sha256_file
from .inventory import tree_files, tree_watched
from .layout import Layout

STACK_FILES = (
    "docker-compose.yml",
    "docker-compose.yaml",
    "compose.yml",
    "compose.yaml",
    ".env",
    "traefik.yml",
    "traefik.yaml",
    "traefik.toml",
)


def watched_dirs(layout: Layout, plan: dict[str, Any] | None) -> list[str]:
    """The plan's watched directories; Traefik's dynamic directory for a plan without them."""
    watched = (plan or {}).get("watched")
    if watched:
        return [str(w) for w in watched]
    return tree_watched(layout) if layout.stacks.is_dir() else []  # as discovery finds it


def _walk(directory: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        out += [Path(dirpath) / n for n in sorted(filenames)]
    return out


def discovered(layout: Layout, watched: Iterable[str]) -> list[str]:
    """The files found on disk now: stack files, the layout's files, every watched file."""
    paths: list[Path] = tree_files(layout) if layout.stacks.is_dir() else []
    if layout.stacks.is_dir():
        for stack in sorted(p for p in layout.stacks.iterdir() if p.is_dir()):
            paths += [stack / name for name in STACK_FILES if (stack / name).is_file()]
    for rel in watched:
        paths += _walk(layout.root / rel.lstrip("/"))
    return sorted({layout.rel(p) for p in paths if p.is_file()})


def covered(layout: Layout, plan: dict[str, Any] | None) -> list[str]:
    """Every file the backup copies and the stale check compares (some may not exist)."""
    plan = plan or {}
    rels = set(plan.get("inputs") or {})
    rels |= {str(f["path"]) for f in plan.get("files") or ()}
    rels |= set(discovered(layout, watched_dirs(layout, plan)))
    return sorted(rels)


def fingerprint(layout: Layout, rels: Iterable[str]) -> dict[str, str | None]:
    """sha256 of each file now (None: it does not exist)."""
    return {rel: sha256_file(layout.root / rel.lstrip("/")) for rel in rels}


def stale(layout: Layout, plan: dict[str, Any]) -> list[str]:
    """What changed since ``plan`` among the covered files, in words; [] when nothing did.
    A file may also hold its planned output (this run, or an earlier identical one, wrote it).
    """
    inputs: dict[str, str | None] = plan.get("inputs") or {}
    planned = {str(f["path"]): f["new_sha256"] for f in plan.get("files") or ()}
    out = []
    for rel, now in fingerprint(layout, covered(layout, plan)).items():
        if now is not None and now == planned.get(rel):
            continue
        if rel not in inputs:
            if now is not None:
                out.append(f"{rel} (added after planning)")
        elif now != inputs[rel]:
            out.append(f"{rel} ({'removed' if now is None else 'changed'})")
    return out
