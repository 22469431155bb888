"""Load YAML into plain Python values while remembering the line of every key path.

The config validator reports problems as ``hosts[2].routes[0].proxy.pool: ... (router.yaml:41)``;
for that it needs, for each value, the line it came from. PyYAML's composed node tree has
the marks, so we walk it ourselves instead of using ``safe_load``. Anchors and aliases work
(an alias reports the line of its anchor), duplicate keys are an error (PyYAML silently
keeps the last one, which hides typos in a routing table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class Marked:
    """Plain data plus ``lines``: key path -> 1-based line number."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[str, int]] = field(default_factory=list)


def _path(parent: str, key: object) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def load_marked(
    text: str, filename: str = "<config>", loader: type[yaml.SafeLoader] = yaml.SafeLoader
) -> Marked:
    """Parse ``text``; raise ``yaml.YAMLError`` (with its own mark) on syntax errors.
    ``loader``: the migration reads operators' files with Go's tab rule (yamltext/tabs.py).

    Nothing here may form a reference cycle: a reload runs this in the master, where
    garbage left for the cyclic collector (a recursive closure holding the constructor,
    whose memo holds every node and mark of the file) grew the process by 3 MiB over
    200 reloads before the collector caught up."""
    node = yaml.compose(text, Loader=loader)
    out = Marked(data=None)
    if node is None:
        return out
    constructor = yaml.SafeLoader("")
    try:
        out.data = _walk(node, "", constructor, out)
    finally:
        constructor.constructed_objects.clear()
        constructor.dispose()  # the parser's state is a bound method of the loader: a cycle
    return out


def syntax_error(exc: yaml.YAMLError, name: str) -> str:
    """``name:line: not valid YAML: problem`` for what ``load_marked`` raised (the line
    where PyYAML found the problem; none when it gave no mark)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{name}:{mark.line + 1}" if mark is not None else name
    return f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"


def _walk(n: yaml.Node, path: str, constructor: yaml.SafeLoader, out: Marked) -> Any:
    out.lines.setdefault(path, n.start_mark.line + 1)
    if isinstance(n, yaml.MappingNode):
        constructor.flatten_mapping(n)
        result: dict[Any, Any] = {}
        for key_node, value_node in n.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            sub = _path(path, key)
            if key in result:
                out.duplicate_keys.append((sub, key_node.start_mark.line + 1))
            out.lines[sub] = key_node.start_mark.line + 1
            result[key] = _walk(value_node, sub, constructor, out)
        return result
    if isinstance(n, yaml.SequenceNode):
        return [_walk(item, _path(path, i), constructor, out) for i, item in enumerate(n.value)]
    return constructor.construct_object(n, deep=True)
