"""Every command output the README quotes is what the command prints today.

A fenced block that opens with `$ odoo-router ...` is run from the repository root with the
installed entry point, and its output must equal the rest of the block: line numbers in
`explain`, the wording of `check`, all of it. A README that drifts from the program fails here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```[a-z]*\n(\$ odoo-router[^\n]*)\n(.*?)^```", re.M | re.S)


def _quoted() -> list[tuple[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [(m.group(1)[2:], m.group(2)) for m in BLOCK.finditer(text)]


def test_the_readme_quotes_commands() -> None:
    assert len(_quoted()) >= 2


@pytest.mark.parametrize(("command", "expected"), _quoted(), ids=lambda v: v[:60])
def test_quoted_output_is_current(command: str, expected: str) -> None:
    argv = shlex.split(command)
    argv[0] = str(Path(sys.executable).parent / argv[0])
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.stdout + done.stderr == expected
