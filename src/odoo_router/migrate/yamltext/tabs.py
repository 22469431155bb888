"""Tabs as separators where compose and Traefik (Go's YAML, a libyaml port) take them.

PyYAML's pure scanner skips only spaces between tokens, so ``- web<TAB># comment`` or
``image:<TAB>odoo:18`` is "a character that cannot start any token" for it, while compose
and Traefik load the file: an operator's working file would be refused. Go's scanner eats a
tab in a flow collection, after a token that ends a scalar or collection (no key can start
there), and after a ``:`` value indicator; never as indentation at the start of a line, nor
right after ``-`` or ``?``. TabScanner applies that rule; every YAML reader of the migration
uses it (``safe_load``, ``compose`` here, and yamltext's loaders).
"""

from __future__ import annotations

from typing import Any

import yaml

_BREAKS = "\0\r\n\x85\u2028\u2029"


class TabScanner(yaml.scanner.Scanner):
    def scan_to_next_token(self) -> None:
        if self.index == 0 and self.peek() == "\ufeff":  # type: ignore[attr-defined]
            self.forward()  # type: ignore[attr-defined]
        pointer: int = self.pointer  # type: ignore[attr-defined]
        after_value = pointer > 0 and self.buffer[pointer - 1] == ":"  # type: ignore[attr-defined]
        found = False
        while not found:
            while True:
                ch = self.peek()  # type: ignore[attr-defined]
                tab_ok = self.flow_level or not self.allow_simple_key or after_value
                if ch == " " or (ch == "\t" and tab_ok):
                    self.forward()  # type: ignore[attr-defined]
                    continue
                break
            if self.peek() == "#":  # type: ignore[attr-defined]
                while self.peek() not in _BREAKS:  # type: ignore[attr-defined]
                    self.forward()  # type: ignore[attr-defined]
            if self.scan_line_break():  # type: ignore[no-untyped-call]
                after_value = False  # a tab at the start of a line is indentation: refused
                if not self.flow_level:
                    self.allow_simple_key = True
            else:
                found = True


class SafeLoader(TabScanner, yaml.SafeLoader):
    """yaml.SafeLoader with TabScanner's rule (it comes first in the MRO)."""


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with Go's tab rule."""
    loader = SafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def compose(text: str) -> yaml.Node | None:
    """``yaml.compose`` with Go's tab rule."""
    loader = SafeLoader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()
