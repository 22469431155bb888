"""The data an edited text must read back as: the original node graph with the same edits
made to it, constructed by PyYAML. An edit to an anchored node reaches every alias of it and
every mapping that merges it, as it will in the text.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.representer import SafeRepresenter

from .emit import plain_data
from .geometry import converts
from .loader import STR_TAG, GraphEdits, construct, copy_graph
from .splices import ADDS, Edit, new_value, placement
from .tree import Doc


def represent(value: Any) -> Node:
    return SafeRepresenter().represent_data(plain_data(value))


class Expect(GraphEdits):
    """Edits keyed by the original nodes: a mapping entry by its key node, a sequence item by
    its value node (each node object stands at one place; aliases are nodes of their own)."""

    def __init__(self) -> None:
        self.replaced: dict[int, Node] = {}
        self.deleted: set[int] = set()
        self.renamed: dict[int, Node] = {}
        # id(mapping) -> [(id of the key it follows, or None for the end, key node, value node)]
        self.inserted: dict[int, list[tuple[int | None, Node, Node]]] = {}
        self.appended: dict[int, list[Node]] = {}

    def replace(self, node: Node, value: Any) -> None:
        self.replaced[id(node)] = represent(value)

    def insert(self, mapping: Node, after: Node | None, key: str, value: Node) -> Node:
        knode = ScalarNode(STR_TAG, key)
        spot = None if after is None else id(after)
        self.inserted.setdefault(id(mapping), []).append((spot, knode, value))
        return knode

    def append(self, seq: Node, value: Any) -> None:
        self.appended.setdefault(id(seq), []).append(represent(value))

    def replacement(self, node: Node) -> Node | None:
        return self.replaced.get(id(node))

    def pairs(self, node: MappingNode) -> list[tuple[Node, Node]]:
        new = self.inserted.get(id(node), [])
        out: list[tuple[Node, Node]] = []

        def add(k: Node, v: Node, keep: bool) -> None:
            if keep:
                out.append((self.renamed.get(id(k), k), v))
            for spot, nk, nv in new:
                if spot == id(k):
                    add(nk, nv, True)

        for k, v in node.value:
            add(k, v, id(k) not in self.deleted)
        for spot, nk, nv in new:
            if spot is None:
                add(nk, nv, True)
        return out

    def items(self, node: SequenceNode) -> list[Node]:
        kept = [v for v in node.value if id(v) not in self.deleted]
        return kept + self.appended.get(id(node), [])

    def data(self, root: Node | None) -> Any:
        return construct(copy_graph(root, self))


def same(a: Any, b: Any) -> bool:
    """Equal data, types included (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return bool(b != b)
    return bool(a == b)


def expected(doc: Doc, edits: list[Edit]) -> Any:
    """The original data with ``edits`` made to it, read by PyYAML from the edited graph."""
    ex = Expect()
    knodes: dict[int, Any] = {}
    for e in edits:
        if e.op == "delete":
            assert e.entry is not None
            ex.deleted.add(id(e.entry.key.yn if e.entry.key else e.entry.value.yn))
        elif e.op in ("set", "replace"):
            ex.replace(e.node.yn, e.value)
        elif e.op == "rename":
            assert e.entry is not None and e.entry.key is not None
            ex.renamed[id(e.entry.key.yn)] = represent(e.key)
    for group in _by_node(edits).values():
        node = group[0].node
        if converts(node):
            ex.replace(node.yn, new_value(placement(group)[None]))
            continue
        for e in _flat(placement(group)):
            if e.op == "append":
                ex.append(node.yn, e.value)
                continue
            after = e.after_entry.key.yn if e.after_entry and e.after_entry.key else None
            if e.after_edit is not None:
                after = knodes[id(e.after_edit)]
            # a copy is the source node itself: the same data, read again
            value = e.source.yn if e.source is not None else represent(e.value)
            knodes[id(e)] = ex.insert(node.yn, after, e.key, value)
    return ex.data((doc.root or doc.empty).yn)


def _by_node(edits: list[Edit]) -> dict[int, list[Edit]]:
    out: dict[int, list[Edit]] = {}
    for e in edits:
        if e.op in ADDS:
            out.setdefault(id(e.node), []).append(e)
    return out


def _flat(groups: dict[int | None, list[Edit]]) -> list[Edit]:
    return [e for g in groups.values() for e in g if e.after_edit is None] + [
        e for g in groups.values() for e in g if e.after_edit is not None
    ]
