"""Build hook: compiles the data path's modules to C extensions with mypyc.

The hot path (request filter, routing, header phases, exchange, pools) is plain typed Python
that mypyc turns into C: the same source, about half the Python time per request (see
docs/performance.md). Set ODOO_ROUTER_PURE=1 to build a pure-Python package instead (no C
compiler needed; slower). Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import setup

NATIVE: tuple[str, ...] = runpy.run_path("src/odoo_router/native.py")["NATIVE"]


def drop_other_extensions(keep: tuple[str, ...]) -> None:
    """An in-place (editable) build leaves extensions beside the sources, and they win over
    the .py files: those this build will not remake (a pure build, a module no longer in
    NATIVE) must not keep running old compiled code, or fail to load against the new one."""
    for path in Path("src/odoo_router").glob("*.so"):
        if path.name.split(".")[0] not in keep:
            path.unlink()
    if not keep:
        for path in Path("src").glob("odoo_router_native__mypyc*.so"):
            path.unlink()


def native_modules() -> list[object]:
    if os.environ.get("ODOO_ROUTER_PURE", "") not in ("", "0"):
        drop_other_extensions(())
        return []
    drop_other_extensions(NATIVE)
    from mypyc.build import mypycify

    return list(
        mypycify(
            [f"src/odoo_router/{name}.py" for name in NATIVE],
            opt_level="3",
            group_name="odoo_router_native",
        )
    )


setup(ext_modules=native_modules())
