"""Which data-path modules run compiled, and whether a compiled one is older than its source.

setup.py compiles the modules in NATIVE with mypyc (the same typed Python, turned into C
extensions) unless ODOO_ROUTER_PURE=1. This file must stay free of package imports: setup.py
reads NATIVE from it before the package exists.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

# The modules on every request's path; the rest (config, CLI, metrics, migration) stays Python.
NATIVE = (
    "datapath.accessline",
    "datapath.clock",
    "datapath.downstream",
    "datapath.driver",
    "http.errors",
    "datapath.events",
    "datapath.exchange",
    "datapath.forward",
    "datapath.framing",
    "http.headers",
    "datapath.intake",
    "datapath.pools",
    "datapath.proxy",
    "datapath.request",
    "routing.request_filter",
    "http.response_headers",
    "routing.memo",
    "routing.table",
    "security.rpc_firewall",
    "datapath.rpc_guard",
    "security.rpc_inspect",
    "security.rpc_json",
    "security.rpc_json_lex",
    "security.rpc_values",
    "security.rpc_xml",
    "security.rpc_xml_text",
    "datapath.spool",
    "datapath.state",
    "datapath.tunnel",
    "datapath.wsframes",
    "routing.uri",
    "datapath.headparse",
    "datapath.respparse",
    # The logging phase's counters (every request when metrics are on; ops/observe.py).
    "ops.metrics_histogram",
    "ops.metrics_tenants",
    "ops.metrics",
)
# The compiled head parser, our C over httptools' own llhttp (_headparser*.c), built with the
# modules above where llhttp.h can be had (setup.py); without it headparse.py uses the
# current parser.
HEAD_PARSER = "datapath._headparser"
# Its sources, suffixes of its name: the request side and the module, the response side, the
# join of head pieces.
HEAD_PARSER_C = (".c", "_response.c", "_join.c")

PACKAGE = Path(__file__).resolve().parent.parent


def _file(name: str, suffix: str) -> Path:
    """The file of a dotted module name under the package (``datapath.proxy`` + ``.py``)."""
    return PACKAGE.joinpath(*name.split(".")).with_name(name.rpartition(".")[2] + suffix)


def _dotted(path: Path) -> str:
    """``.../odoo_router/datapath/proxy.cpython-311-x86_64-linux-gnu.so`` -> ``datapath.proxy``."""
    rel = path.relative_to(PACKAGE)
    return ".".join([*rel.parts[:-1], rel.name.split(".")[0]])


def _extension(name: str) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = _file(name, suffix)
        if path.exists():
            return path
    return None


def compiled() -> list[str]:
    """The NATIVE modules that have a C extension beside them (it wins over the .py)."""
    return [name for name in NATIVE if _extension(name) is not None]


def stale() -> list[str]:
    """Compiled modules whose source changed after the build: an editable checkout that was
    edited and not rebuilt runs the old code (``pip install -e .`` rebuilds). Only a source
    checkout is checked: pip writes an installed wheel's files in any order, so there a .py
    file newer than its extension means nothing."""
    if not (PACKAGE.parent.parent / "setup.py").exists():
        return []
    out = []
    for name, source in [(n, _file(n, ".py")) for n in NATIVE] + [
        (HEAD_PARSER, _file(HEAD_PARSER, part)) for part in (*HEAD_PARSER_C, ".h")
    ]:
        ext = _extension(name)
        if ext is not None and source.exists() and source.stat().st_mtime > ext.stat().st_mtime:
            out.append(name)
    return out


def strays() -> list[str]:
    """Extensions beside the sources for modules not in NATIVE (left by an older build):
    they would shadow the .py file and fail to load against the current build."""
    names = {_dotted(path) for path in PACKAGE.rglob("*.so")}
    return sorted(names - set(NATIVE) - {HEAD_PARSER})


def describe() -> str:
    """One line for the startup log."""
    done = compiled()
    if not done:
        return "data path: pure Python (built with ODOO_ROUTER_PURE=1 or without mypyc)"
    line = f"data path: {len(done)}/{len(NATIVE)} modules compiled (mypyc)"
    old = stale()
    if old:
        line += f"; STALE, source newer than the build: {', '.join(old)} (pip install -e .)"
    return line
