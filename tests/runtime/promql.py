"""The metric selectors of a PromQL expression, for the dashboard test: which metric names
it reads, which labels each selector matches on, and which labels its ``by``/``without``/
``on``/``ignoring`` clauses name.

A tokenizer and a walk over the tokens, after the PromQL grammar (Prometheus'
``promql/parser/lex.go``): strings in double, single or back quotes with escapes; range and
subquery brackets (``[5m]``, ``[1h:5m]``) hold durations, never names, and a duration
(``offset 1h30m``) is one token; an identifier
followed by ``(`` is a function or an aggregation; an aggregation may take its ``by (...)``
before or after its argument; keywords are not metric names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATIONS = frozenset(
    [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ]
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"bool", "offset", "and", "or", "unless", "atan2", "start", "end"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI]nf|NaN)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>,(){}\[\]@:])
    """,
    re.VERBOSE,
)


@dataclass
class Selector:
    metric: str
    labels: set[str] = field(default_factory=set)  # label names its matchers use


@dataclass
class Parsed:
    selectors: list[Selector] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)  # labels of by/without/on/ignoring


def tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot read {expr[pos : pos + 20]!r} in {expr!r}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            out.append((kind, m.group()))
        pos = m.end()
    return out


def _matchers(toks: list[tuple[str, str]], i: int, sel: Selector) -> int:
    """Read ``{name op "value", ...}`` from the ``{`` at ``i``; the index after ``}``."""
    assert toks[i][1] == "{"
    i += 1
    while toks[i][1] != "}":
        kind, name = toks[i]
        op, value = toks[i + 1][1], toks[i + 2]
        if kind != "ident" or op not in ("=", "!=", "=~", "!~") or value[0] != "string":
            raise ValueError(f"bad label matcher at {toks[i : i + 3]}")
        if name == "__name__":
            sel.metric = value[1][1:-1]
        else:
            sel.labels.add(name)
        i += 3
        if toks[i][1] == ",":
            i += 1
    return i + 1


def parse(expr: str) -> Parsed:
    toks = tokens(expr)
    found = Parsed()
    i = 0
    depth = 0  # inside [...]: durations only
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if text == "[":
            depth += 1
        elif text == "]":
            depth -= 1
        elif depth:
            pass
        elif kind == "ident" and text in GROUPING:
            if nxt == "(":
                i += 2
                while toks[i][1] != ")":
                    if toks[i][0] == "ident":
                        found.grouping.add(toks[i][1])
                    i += 1
        elif kind == "ident" and text in KEYWORDS:
            pass
        elif kind == "ident" and (nxt == "(" or text in AGGREGATIONS):
            pass  # a function or an aggregation
        elif kind == "ident":
            sel = Selector(text)
            if nxt == "{":
                i = _matchers(toks, i + 1, sel) - 1
            found.selectors.append(sel)
        elif text == "{":  # a selector by matchers alone: {__name__="..."}
            sel = Selector("")
            i = _matchers(toks, i, sel) - 1
            found.selectors.append(sel)
        i += 1
    if depth:
        raise ValueError(f"unbalanced [ in {expr!r}")
    return found
