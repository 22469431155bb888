"""Build hook: compiles the data path's modules to C extensions with mypyc.

The hot path (request filter, routing, header phases, exchange, pools) is plain typed Python
that mypyc turns into C: the same source, about half the Python time per request (see
docs/performance.md). The same build compiles the head parser (src/odoo_router/datapath/_headparser*.c):
its llhttp types come from llhttp.h of the PyPI package `llhttp`, which only this build
installs (a build requirement, asked for below); without that header the current parser
runs instead. Set ODOO_ROUTER_PURE=1 to build a pure-Python package instead (no C compiler
needed; slower). Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup

_native = runpy.run_path("src/odoo_router/ops/native.py")
NATIVE: tuple[str, ...] = _native["NATIVE"]
HEAD_PARSER: str = _native["HEAD_PARSER"]
HEAD_PARSER_C: tuple[str, ...] = _native["HEAD_PARSER_C"]
# pyllhttp: its llhttp.h (MIT) declares the types of the llhttp that httptools carries.
LLHTTP_HEADERS = "llhttp==9.3.0.0"
PURE = os.environ.get("ODOO_ROUTER_PURE", "") not in ("", "0")


def drop_other_extensions(keep: tuple[str, ...]) -> None:
    """An in-place (editable) build leaves extensions beside the sources, and they win over
    the .py files: those this build will not remake (a pure build, a module no longer in
    NATIVE) must not keep running old compiled code, or fail to load against the new one."""
    package = Path("src/odoo_router")
    for path in package.rglob("*.so"):
        rel = path.relative_to(package)
        if ".".join([*rel.parts[:-1], rel.name.split(".")[0]]) not in keep:
            path.unlink()
    if not keep:
        for path in Path("src").glob("odoo_router_native__mypyc*.so"):
            path.unlink()


def llhttp_header() -> Path | None:
    """llhttp.h as the `llhttp` package installed it (beside its prefix's site-packages)."""
    spec = importlib.util.find_spec("llhttp")
    if spec is None or spec.origin is None:
        return None
    for prefix in list(Path(spec.origin).parents)[:5]:  # .../lib/python3.X/site-packages/llhttp
        found = sorted(prefix.glob("include/**/llhttp/llhttp.h"))
        if found:
            return found[0]
    return None


def head_parser() -> list[Extension]:
    header = llhttp_header()
    if header is None:
        print(
            f"note: {LLHTTP_HEADERS} (llhttp.h) not found: the compiled head parser is not "
            "built, the current parser runs instead",
            file=sys.stderr,
        )
        return []
    return [
        Extension(
            f"odoo_router.{HEAD_PARSER}",
            [f"src/odoo_router/{HEAD_PARSER.replace('.', '/')}{part}" for part in HEAD_PARSER_C],
            include_dirs=[str(header.parent)],
            depends=[f"src/odoo_router/{HEAD_PARSER.replace('.', '/')}.h"],
            extra_compile_args=["-O2"],
        )
    ]


def native_modules() -> list[object]:
    if PURE:
        drop_other_extensions(())
        return []
    parser = head_parser()
    drop_other_extensions(NATIVE + ((HEAD_PARSER,) if parser else ()))
    from mypyc.build import mypycify

    return [
        *mypycify(
            [f"src/odoo_router/{name.replace('.', '/')}.py" for name in NATIVE],
            opt_level="3",
            group_name="odoo_router_native",
        ),
        *parser,
    ]


# The compiled build asks for the llhttp header package through setup_requires, which
# setuptools' PEP 517 backend returns from get_requires_for_build_*: pip installs it into
# the build environment only, and a pure build never needs it (nor the compiler it takes).
setup(ext_modules=native_modules(), setup_requires=[] if PURE else [LLHTTP_HEADERS])
