"""odoo-router as of another commit, for before/after rows in one run (``--baseline REF``).

The commit's tree is exported (``git archive``: no worktree is registered in the shared
repository) into ``bench/results/baseline-<commit>/src``, given a venv of its own and
installed there as scripts/test.sh installs the checkout: pip builds it in an isolated
build environment from the commit's own pyproject.toml (its pinned mypy), and setup.py
compiles that commit's NATIVE modules with mypyc. The runtime dependencies (uvloop,
httptools, PyYAML...) come from the bench's own venv through a ``.pth`` line; the bench
venv's editable install of this checkout is not on that path (``.pth`` files are not read
from a directory a ``.pth`` line adds). A built baseline
is kept by commit id and reused by later runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.nginx_conf import REPO

CACHE = REPO / "bench" / "results"
_DONE = "built"  # written last: a directory without it is an interrupted build


@dataclass(frozen=True)
class Baseline:
    commit: str
    label: str  # "odoo-router@<short id>", the target's name in the table
    router_bin: Path
    compat: Path  # that commit's config/nginx-compat.yaml


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve(ref: str) -> str:
    """The full commit id ``ref`` names (a tag, a branch, a short id); RuntimeError if none."""
    return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


def build(ref: str, log: Callable[[str], None], cache: Path = CACHE) -> Baseline:
    """The baseline for ``ref``, built now unless ``cache`` already has it (a minute or so:
    the mypyc compile)."""
    commit = resolve(ref)
    root = cache / f"baseline-{commit}"
    src, venv = root / "src", root / "venv"
    label = f"odoo-router@{commit[:7]}"
    made = Baseline(
        commit, label, venv / "bin" / "odoo-router", src / "config" / "nginx-compat.yaml"
    )
    if (root / _DONE).exists() and made.router_bin.exists():
        return made
    if root.exists():
        shutil.rmtree(root)
    src.mkdir(parents=True)
    log(f"building {made.label} in {root} (mypyc, about a minute)")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit],
        capture_output=True,
        timeout=120,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _share_site_packages(venv)
    python = venv / "bin" / "python"
    argv = [str(python), "-m", "pip", "install", "-q", "--no-deps"]
    done = subprocess.run([*argv, str(src)], capture_output=True, text=True, timeout=900, cwd=root)
    if done.returncode != 0 or not made.router_bin.exists():
        raise RuntimeError(f"baseline build failed: {(done.stdout + done.stderr)[-1500:]}")
    # pip wrote the sources after the extensions: the startup log would call them stale.
    for ext in venv.glob("lib/python*/site-packages/**/*.so"):
        ext.touch()
    (root / _DONE).write_text(commit + "\n")
    return made


def _share_site_packages(venv: Path) -> None:
    """The bench venv's site-packages (and through it pip, mypyc and the dependencies) on the
    new venv's path, after its own."""
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = next((venv / "lib").glob("python*/site-packages"))
    (theirs / "bench-deps.pth").write_text(f"{ours}\n")
