"""A clone stands on its own: no code, test or doc reads a file outside the repository.

The reference nginx router the conformance suite and the bench run lives in tests/reference/;
a user's clone has nothing beside it (no ../shared), so any path that climbs out of the
repository is a test that passes here and fails there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Every spelling seen or plausible: a relative climb, or pathlib climbing to a sibling.
OUTSIDE = re.compile(
    r"\.\./shared|parents?(\[\d+\])?\s*/\s*[\"']shared[\"']|[\"']shared[\"']\s*/\s*[\"']reference"
)


def _tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    return [REPO / p for p in out.decode().split("\0") if p]


def test_nothing_reads_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    hits = []
    for path in _tracked():
        if path == me or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "paths outside the repository:\n" + "\n".join(hits)


def test_the_reference_is_in_the_repository() -> None:
    ref = REPO / "tests" / "reference" / "nginx-default.conf"
    assert "map $host $tenant_db" in ref.read_text(encoding="utf-8")
