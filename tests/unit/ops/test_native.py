"""The data path runs compiled (mypyc, setup.py) and never from a build older than its source.

A pure-Python build (ODOO_ROUTER_PURE=1) behaves the same, only slower; the suite runs on
whatever was built, and this says which one it was.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os

import pytest

from odoo_router.ops import native

PURE = os.environ.get("ODOO_ROUTER_PURE", "") not in ("", "0")


@pytest.mark.skipif(PURE, reason="ODOO_ROUTER_PURE=1: a pure-Python build was asked for")
@pytest.mark.parametrize("name", native.NATIVE)
def test_data_path_module_runs_compiled(name: str) -> None:
    module = importlib.import_module(f"odoo_router.{name}")
    assert module.__file__ is not None
    assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), (
        f"odoo_router.{name} is not compiled: rebuild with `pip install -e .` "
        "(gcc and Python.h needed), or set ODOO_ROUTER_PURE=1 for the pure build"
    )


def test_no_compiled_module_is_older_than_its_source() -> None:
    assert native.stale() == [], "sources edited after the build: `pip install -e .` again"


def test_no_extension_outside_the_compiled_set() -> None:
    assert native.strays() == [], "extensions left by an older build: `pip install -e .` again"


def test_startup_line_says_which_build_runs() -> None:
    line = native.describe()
    if PURE:
        assert "pure Python" in line
    else:
        assert f"{len(native.NATIVE)}/{len(native.NATIVE)} modules compiled" in line
    assert "STALE" not in line
