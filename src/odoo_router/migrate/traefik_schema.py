"""Strict decoding of a Traefik dynamic configuration file, as the file provider does it.

Facts (Traefik's ``pkg/provider/file/file.go`` and traefik/paerser ``file/raw_node.go``,
``parser/nodes_metadata.go``, ``parser/element_fill.go``; checked with Traefik 3.7 itself in
tests/migrate/test_traefik_real.py):
- The file is a Go template first, then YAML (yaml.v3: duplicate keys are an error) or TOML.
- At the top level only ``http``, ``tcp``, ``udp`` and ``tls`` are read (case-insensitive);
  other top-level keys (``x-anchors:``) are ignored.
- Below, a key names a Go struct field, compared case-insensitively with the field's Go
  name. An unknown key ("field not found, node: X"), a struct written as an empty or scalar
  value ("X cannot be a standalone element") or a value that does not parse (bool, int,
  duration) fails the file, and one failing file fails the provider: none of the directory's
  files is loaded (at start nothing; after a watched change the previous set stays).
- A key whose value is null is skipped before it is looked up.
- The known fields per version come from ``traefik_schema_data.json``, generated from the
  Go structs at the release tags it names (one per minor version).
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import yaml

from .tomltext import loads as toml_loads
from .traefik_rule_tree import RuleError
from .traefik_rules import findings, parse
from .traefik_version import TraefikVersion
from .yamltext.tabs import compose as compose_yaml

Severity = Literal["error", "warning"]
_BOOL = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DURATION = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^0$")
_ROOT = ("http", "tcp", "udp", "tls")


@dataclass(frozen=True)
class SchemaProblem:
    file: str
    line: int  # 1-based; 0 when the format gives no line (TOML)
    message: str
    severity: Severity = "error"
    fatal: bool = True  # the file fails, and with it the provider's whole directory

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class _N:
    """A decoded value with the line of its key: kind map/list/scalar."""

    kind: str
    line: int
    value: Any  # map: list[(key, key_line, _N)]; list: list[_N]; scalar: str
    null: bool = False


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("traefik_schema_data.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def schema_versions() -> list[str]:
    return list(_data()["versions"])


def _index(version: TraefikVersion) -> tuple[int, str]:
    """Which version column describes ``version``, and a note when it is only the nearest."""
    keys = [tuple(int(x) for x in v.split(".")[:2]) for v in schema_versions()]
    if version.key in keys:
        return keys.index(version.key), ""
    if version.key > keys[-1]:
        i = len(keys) - 1
        return i, f" (schema of {schema_versions()[i]}, the newest known)"
    older = [i for i, k in enumerate(keys) if k <= version.key]
    i = older[-1] if older else 0
    return i, f" (schema of {schema_versions()[i]}, the nearest known)"


def _field(type_name: str, key: str, col: int) -> tuple[str, str] | None:
    variants = _data()["types"].get(type_name, {}).get(key.lower())
    if variants is None:
        return None
    if isinstance(variants[0], str):
        variants = [variants]
    for name, kind, mask in variants:
        if mask >> col & 1:
            return str(name), str(kind)
    return None


def _where_known(type_name: str, key: str) -> str:
    variants = _data()["types"].get(type_name, {}).get(key.lower())
    if variants is None:
        return ""
    if isinstance(variants[0], str):
        variants = [variants]
    mask = 0
    for _n, _k, m in variants:
        mask |= m
    names = [".".join(v.split(".")[:2]) for i, v in enumerate(schema_versions()) if mask >> i & 1]
    if not names:
        return ""
    return f"; known to Traefik {names[0]}" + (f" to {names[-1]}" if len(names) > 1 else "")


def _from_yaml(node: yaml.Node) -> _N:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items: list[tuple[str, int, _N]] = []
        explicit = {str(k.value) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge":  # <<: *x or <<: [*x, *y]
                sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
                for src in sources:
                    merged = _from_yaml(src)
                    if merged.kind == "map":
                        items += [it for it in merged.value if it[0] not in explicit]
                continue
            items.append((str(k.value), k.start_mark.line + 1, _from_yaml(v)))
        return _N("map", line, items)
    if isinstance(node, yaml.SequenceNode):
        return _N("list", line, [_from_yaml(x) for x in node.value])
    plain = isinstance(node, yaml.ScalarNode) and node.style is None
    null = node.tag == "tag:yaml.org,2002:null"
    null = null or (plain and node.value in ("", "~", "null", "Null", "NULL"))
    return _N("scalar", line, str(node.value), null)


def _from_toml(value: Any) -> _N:
    if isinstance(value, dict):
        return _N("map", 0, [(str(k), 0, _from_toml(v)) for k, v in value.items()])
    if isinstance(value, list):
        return _N("list", 0, [_from_toml(v) for v in value])
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return _N("scalar", 0, text)


def _duplicates(node: yaml.Node, checker: _Checker) -> None:
    """yaml.v3 refuses a mapping that repeats a key: the file (and the directory) fails."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if k.tag != "tag:yaml.org,2002:merge":
                key, line = str(k.value), k.start_mark.line + 1
                if key in seen:
                    checker.error(line, f'mapping key "{key}" already defined at line {seen[key]}')
                seen.setdefault(key, line)
            _duplicates(v, checker)
    elif isinstance(node, yaml.SequenceNode):
        for x in node.value:
            _duplicates(x, checker)


class _Checker:
    def __init__(self, file: str, version: TraefikVersion, default_rule_syntax: str | None) -> None:
        self.file = file
        self.version = version
        self.col, self.note = _index(version)
        self.default_rule_syntax = default_rule_syntax
        self.problems: list[SchemaProblem] = []
        self.consequence = (
            f"Traefik {version}{self.note} fails this file and loads none of the directory's files"
        )

    def error(self, line: int, message: str) -> None:
        self.problems.append(SchemaProblem(self.file, line, f"{message}: {self.consequence}"))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(SchemaProblem(self.file, line, message, "warning", fatal=False))

    def struct(self, type_name: str, node: _N, path: str) -> None:
        for key, line, value in node.value:
            if value.null:
                continue  # skipped by the decoder before the field is looked up
            found = _field(type_name, key, self.col)
            where = f"{path}.{key}" if path else key
            if found is None:
                self.error(
                    line,
                    f"unknown key {where!r} (field not found, node: {key})"
                    + _where_known(type_name, key),
                )
                continue
            name, kind = found
            if name == "IPWhiteList" and self.version.key >= (2, 11):
                self.warn(
                    line,
                    f"{where}: ipWhiteList is deprecated since Traefik 2.11 (loads "
                    "with a warning at every load); write ipAllowList",
                )
            if name == "RuleSyntax" and self.version.key >= (3, 7):
                self.warn(line, f"{where}: ruleSyntax is deprecated in Traefik 3.7")
            self.value(kind, value, where, line)
            if type_name == "Router" and name == "Rule" and value.kind == "scalar":
                self.rule(node, value, where)

    def value(self, kind: str, node: _N, where: str, line: int) -> None:
        kind, _, flag = kind.partition("|")
        if flag == "-" or kind == "raw":
            return
        if kind.startswith("s:"):
            if node.kind == "map" and node.value:
                self.struct(kind[2:], node, where)
            elif flag != "e" or node.kind == "list":
                self.error(line, f"{where} cannot be a standalone element (it takes a mapping)")
        elif kind.startswith("m:"):
            if node.kind != "map" or (not node.value and flag != "e"):
                if node.kind != "map" or kind[2:].startswith("s:"):
                    self.error(line, f"{where} cannot be a standalone element (it takes a mapping)")
                return
            for key, kline, sub in node.value:
                if not sub.null:
                    self.value(kind[2:], sub, f"{where}.{key}", kline)
        elif kind.startswith("l:"):
            inner = kind[2:]
            items = node.value if node.kind == "list" else [node]
            if node.kind == "map":
                self.error(line, f"{where} takes a list, not a mapping")
                return
            for i, item in enumerate(items):
                if inner.startswith("s:") and item.kind == "scalar" and not item.null:
                    # Measured with Traefik 3.7: decoded as an empty entry, no error.
                    self.problems.append(
                        SchemaProblem(
                            self.file,
                            item.line or line,
                            f"{where}[{i}] is a bare value where a mapping belongs: Traefik "
                            f"{self.version} ignores it (a server without url: no server)",
                            fatal=False,
                        )
                    )
                elif inner.startswith("s:") and item.kind != "map":
                    self.error(item.line or line, f"{where}[{i}] takes a mapping")
                elif not item.null:
                    self.value(inner, item, f"{where}[{i}]", item.line or line)
        else:
            self.scalar(kind, node, where, line)

    def scalar(self, kind: str, node: _N, where: str, line: int) -> None:
        if node.kind != "scalar":
            shape = "mapping" if node.kind == "map" else "list"
            self.error(line, f"{where} takes a single value, not a {shape}")
            return
        text = str(node.value).strip()
        bad = (
            (kind == "bool" and text not in _BOOL)
            or (kind == "int" and not _INT.match(text))
            or (kind == "float" and not _FLOAT.match(text))
            or (kind == "dur" and not (_INT.match(text) or _DURATION.match(text)))
        )
        if bad:
            what = {"bool": "a boolean", "int": "an integer", "float": "a number"}.get(
                kind, "a duration"
            )
            self.error(line, f"{where}: {text!r} is not {what}")

    def rule(self, router: _N, rule: _N, where: str) -> None:
        syntax_node = next((v for k, _l, v in router.value if k.lower() == "rulesyntax"), None)
        router_syntax = str(syntax_node.value) if syntax_node is not None else None
        syntax = self.version.rule_syntax(router_syntax, self.default_rule_syntax)
        try:
            parsed = parse(str(rule.value), syntax)
        except RuleError as exc:
            self._rule_problem(rule, where, exc, syntax, "disables this router")
            return
        for finding in findings(parsed):
            self._rule_problem(
                rule, where, finding, syntax, "loads this router, which matches nothing"
            )

    def _rule_problem(self, rule: _N, where: str, exc: RuleError, syntax: str, does: str) -> None:
        self.problems.append(
            SchemaProblem(
                self.file,
                rule.line,
                f"{where}: {exc.reason} (column {exc.column} of the rule, {syntax} syntax): "
                f"Traefik {self.version} {does}",
                fatal=False,
            )
        )


def lint_text(
    text: str, file: str, version: TraefikVersion, default_rule_syntax: str | None = None
) -> list[SchemaProblem]:
    """Every problem Traefik ``version``'s file provider would have with this file."""
    checker = _Checker(file, version, default_rule_syntax)
    if "{{" in text:
        checker.warn(
            text[: text.index("{{")].count("\n") + 1,
            "Go template action: Traefik renders the file as a template first; "
            "the check reads it as written",
        )
    if file.lower().endswith(".toml"):
        try:
            root = _from_toml(toml_loads(text))
        except tomllib.TOMLDecodeError as exc:
            checker.error(0, f"not TOML ({exc})")
            return checker.problems
    else:
        try:
            node = compose_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            checker.error(
                mark.line + 1 if mark else 0, f"not YAML ({getattr(exc, 'problem', exc)})"
            )
            return checker.problems
        if node is None:
            return checker.problems
        _duplicates(node, checker)
        root = _from_yaml(node)
    if root.kind != "map":
        checker.error(root.line, "the file is not a mapping")
        return checker.problems
    top = _N("map", root.line, [it for it in root.value if it[0].lower() in _ROOT])
    checker.struct("Configuration", top, "")
    return checker.problems
