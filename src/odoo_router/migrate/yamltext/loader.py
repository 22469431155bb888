"""Strict reading: PyYAML's pure-Python loader, with what an editor needs kept.

- Aliases stay visible: ``*x`` composes to an :class:`AliasNode` pointing at the anchored node
  instead of being replaced by it, so an edit can tell an alias from the node it names.
- The scanner's tokens that mark structure (``?`` keys, ``:``, ``-``, ``,``, ``[``/``{``,
  anchors and tags, scalars) are recorded with their character offsets.
- Refused, as :class:`YamlError` with file, line and column: syntax errors, a key twice in one
  mapping (both lines named; keys a merge brings in may be overridden, that is what merges are
  for), a second document, a value Python cannot hold (``2024-13-01``), a global tag that is not
  YAML's own. A local tag (compose's ``!reset``, ``!override``) reads as the plain value.

The pure loader, not libyaml, so that the offsets used for editing and the data checked after an
edit come from one parser.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import tokens as tk
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import YamlError
from .tabs import TabScanner

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
# PyYAML's line breaks (YAML 1.1): its marks count lines this way, so ours do too.
BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class AliasNode(Node):
    """``*name`` where it is written; ``target`` is the anchored node."""

    id = "alias"

    def __init__(self, target: Node, start_mark: yaml.Mark, end_mark: yaml.Mark) -> None:
        super().__init__(target.tag, None, start_mark, end_mark)
        self.target = target


@dataclass
class Tokens:
    """Offsets of the structural tokens, each list in document order."""

    keys: list[int] = field(default_factory=list)  # KeyToken: a key, or its "?"
    values: list[int] = field(default_factory=list)  # ":"
    dashes: list[int] = field(default_factory=list)  # "-" of a block sequence item
    commas: list[int] = field(default_factory=list)
    opens: list[int] = field(default_factory=list)  # "[" or "{"
    props: list[tuple[int, int]] = field(default_factory=list)  # anchors and tags
    scalars: dict[int, int] = field(default_factory=dict)  # end -> start


class _Constructor(SafeConstructor):
    """SafeConstructor; local tags read as their plain value, odd values get a line."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConstructorError(
                None, None, f"cannot read this value ({exc})", node.start_mark
            ) from exc


def _local_tag(c: _Constructor, suffix: str, node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return c.construct_scalar(node)
    if isinstance(node, SequenceNode):
        return c.construct_sequence(node, deep=True)
    assert isinstance(node, MappingNode)
    return c.construct_mapping(node, deep=True)


_Constructor.add_multi_constructor("!", _local_tag)


class _Strict(
    yaml.reader.Reader,
    TabScanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Constructor,
    yaml.resolver.Resolver,
):
    """PyYAML's safe loader with our constructor, for reading data."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        TabScanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


# token type -> the Tokens list that records its offset
_TRACKED = {
    tk.KeyToken: "keys",
    tk.ValueToken: "values",
    tk.BlockEntryToken: "dashes",
    tk.FlowEntryToken: "commas",
    tk.FlowSequenceStartToken: "opens",
    tk.FlowMappingStartToken: "opens",
}


class _Loader(_Strict):
    """The editor's: structural tokens recorded, aliases kept as AliasNode."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.toks = Tokens()
        self.anchor_of: dict[Node, str] = {}

    def get_token(self) -> Any:
        tok = super().get_token()  # type: ignore[no-untyped-call]
        kind = type(tok)
        name = _TRACKED.get(kind)
        if name is not None:
            getattr(self.toks, name).append(tok.start_mark.index)
        elif kind is tk.ScalarToken:
            self.toks.scalars[tok.end_mark.index] = tok.start_mark.index
        elif kind is tk.AnchorToken or kind is tk.TagToken:
            self.toks.props.append((tok.start_mark.index, tok.end_mark.index))
        return tok

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()  # type: ignore[no-untyped-call]
            if event.anchor not in self.anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            return AliasNode(self.anchors[event.anchor], event.start_mark, event.end_mark)
        anchor = self.peek_event().anchor  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        if anchor is not None and node is not None:
            self.anchor_of[node] = anchor
        return node


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting lines as PyYAML does."""
    line, start = 1, 0
    for m in BREAK_RE.finditer(text, 0, index):
        line, start = line + 1, m.end()
    return line, index - start + 1


def error_from(exc: yaml.YAMLError, text: str, name: str) -> YamlError:
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = line_col(text, exc.position)
        return YamlError(name, line, col, f"unacceptable character #x{exc.character:04x}")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "not valid YAML"
        if exc.problem and exc.context and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        if mark is not None:
            return YamlError(name, mark.line + 1, mark.column + 1, message)
        return YamlError(name, 1, 1, message)
    return YamlError(name, 1, 1, str(exc))


@dataclass
class Loaded:
    root: Node | None  # aliases as AliasNode
    tokens: Tokens
    anchor_of: dict[Node, str]
    data: Any


def _compose(loader: _Strict, name: str) -> Node | None:
    try:
        root = loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        if exc.problem == "but found another document" and exc.problem_mark is not None:
            m = exc.problem_mark
            raise YamlError(
                name, m.line + 1, m.column + 1, "a second document; one is expected here"
            ) from exc
        raise
    finally:
        loader.dispose()
    if root is not None:
        check_duplicates(root, name)
    return root


def load(text: str, name: str) -> Loaded:
    """For the editor: the node graph with its aliases, the tokens, and the data."""
    try:
        loader = _Loader(text)
        root = _compose(loader, name)
        data = construct(copy_graph(root, GraphEdits()))  # the graph stays as composed
    except yaml.YAMLError as exc:
        raise error_from(exc, text, name) from exc
    except RecursionError as exc:
        raise YamlError(name, 1, 1, "nested too deep to read") from exc
    return Loaded(root, loader.toks, loader.anchor_of, data)


def parse_strict(text: str, name: str) -> Any:
    """Plain Python data (aliases and merge keys resolved). Refuses, with YamlError naming file,
    line and column: syntax errors, duplicate keys in one mapping at any depth (both lines
    named), more than one document."""
    try:
        loader = _Strict(text)
        root = _compose(loader, name)
        return None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise error_from(exc, text, name) from exc
    except RecursionError as exc:
        raise YamlError(name, 1, 1, "nested too deep to read") from exc


_MERGE = object()


def key_value(node: Node) -> Hashable | None:
    """The key as the data will hold it; None for a collection key (the constructor refuses
    those as unhashable)."""
    while isinstance(node, AliasNode):
        node = node.target
    if not isinstance(node, ScalarNode):
        return None
    if node.tag == MERGE_TAG:
        return _MERGE
    value = _Constructor().construct_object(node, deep=True)
    return value if isinstance(value, Hashable) else None


def check_duplicates(root: Node, name: str) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, AliasNode) or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            first: dict[Any, Node] = {}
            for k, v in node.value:
                key = key_value(k)
                if key is not None and key in first:
                    a, b = first[key].start_mark, k.start_mark
                    shown = "<<" if key is _MERGE else key
                    raise YamlError(
                        name,
                        b.line + 1,
                        b.column + 1,
                        f"duplicate key {shown!r}: first at line {a.line + 1}, "
                        f"again at line {b.line + 1}",
                    )
                if key is not None:
                    first[key] = k
                stack.extend((k, v))


class GraphEdits:
    """What :func:`copy_graph` changes on the way: none of it here; see ``expect.py``."""

    def replacement(self, node: Node) -> Node | None:
        return None

    def pairs(self, node: MappingNode) -> list[tuple[Node, Node]]:
        return list(node.value)

    def items(self, node: SequenceNode) -> list[Node]:
        return list(node.value)


def copy_graph(root: Node | None, edits: GraphEdits) -> Node | None:
    """A fresh node graph in PyYAML's own shape (each alias is its target node, shared), for
    the constructor, which rewrites merge mappings in place. ``edits`` may swap a node (and
    everything under it) and choose the entries of each collection."""
    memo: dict[int, Node] = {}

    def copy(node: Node) -> Node:
        # An alias may be replaced where it stands, or stand for a node that was replaced.
        while (other := edits.replacement(node)) is None and isinstance(node, AliasNode):
            node = node.target
        if other is not None:
            return other
        done = memo.get(id(node))
        if done is not None:
            return done
        if isinstance(node, ScalarNode):
            memo[id(node)] = node  # scalars are never rewritten
            return node
        new: Node
        if isinstance(node, SequenceNode):
            new = SequenceNode(node.tag, [], node.start_mark, node.end_mark, node.flow_style)
            memo[id(node)] = new
            new.value.extend(copy(v) for v in edits.items(node))
        else:
            assert isinstance(node, MappingNode)
            new = MappingNode(node.tag, [], node.start_mark, node.end_mark, node.flow_style)
            memo[id(node)] = new
            new.value.extend((copy(k), copy(v)) for k, v in edits.pairs(node))
        return new

    return None if root is None else copy(root)


def construct(root: Node | None) -> Any:
    if root is None:
        return None
    return _Constructor().construct_document(root)
