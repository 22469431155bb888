"""Shared helpers of the yamltext tests: a table case, and running its edits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from odoo_router.migrate.yamltext import YamlText, parse_strict


class kw(dict[str, Any]):
    """Keyword arguments of an edit in a case table."""


Op = tuple[Any, ...]


@dataclass(frozen=True)
class Case:
    desc: str
    text: str
    ops: list[Op]
    want: str


def apply(text: str, ops: list[Op], name: str = "t.yml") -> YamlText:
    y = YamlText(text, name)
    for op, *args in ops:
        k = args.pop() if args and isinstance(args[-1], kw) else {}
        getattr(y, op)(*args, **k)
    return y


def check(case: Case) -> None:
    out = apply(case.text, case.ops).render()
    assert out == case.want, f"{case.desc}\n--- got:\n{out}"
    parse_strict(out, "t.yml")  # and it reads (render checked the data already)


def lines(*ls: str) -> str:
    """A text of these lines, each ending with a line break."""
    return "".join(line + "\n" for line in ls)
