"""What ``insert_copy`` refuses: copies that could not read back as the node they copy."""

from __future__ import annotations

from .errors import YamlError
from .geometry import owned_lines
from .splices import Edit
from .tree import Doc, fmt_path


def check_copy(doc: Doc, e: Edit) -> None:
    """``e``: a recorded insert turned copy. The copied text must not define an anchor (it
    would be defined twice) nor use one defined after the place it goes to; it goes into a
    block mapping that is not inside it."""
    src, where = e.source, fmt_path(e.source_path)
    assert src is not None
    if not e.source_path:
        raise YamlError(doc.name, 1, 1, "the document root cannot be copied")
    if e.path[: len(e.source_path)] == e.source_path:
        raise doc.error(e.node.start, f"{fmt_path(e.path)} is inside the copied node {where}")
    if e.node.kind != "map" or e.node.flow:
        raise doc.error(
            e.node.start, f"{fmt_path(e.path)} is not a block mapping; insert_copy adds to one"
        )
    twice = next((n for n in doc.nodes if n.anchor and src.body <= n.start < src.end), None)
    if twice is not None:
        raise doc.error(
            twice.start, f"{where} defines the anchor &{twice.anchor}: a copy would define it twice"
        )
    first = e
    while first.after_edit is not None:
        first = first.after_edit
    slot = first.after_entry or e.node.entries[-1]
    at = doc.next_start(owned_lines(doc, slot)[1])
    spans, seen = [(src.body, src.end)], set()
    while spans:  # the aliases the copy uses, and those their anchored nodes use
        a, z = spans.pop()
        for alias in doc.aliases:
            target = alias.target
            assert target is not None
            if not a <= alias.start < z or id(target) in seen:
                continue
            seen.add(id(target))
            if target.start >= at:
                raise doc.error(
                    alias.start,
                    f"{where} uses &{target.anchor}, defined after {fmt_path(e.path)}: the "
                    "copy would come before the anchor",
                )
            if target.start <= e.node.start < target.end or target is e.node:
                raise doc.error(
                    alias.start,
                    f"{where} uses &{target.anchor}, which holds {fmt_path(e.path)}: the copy "
                    "would contain itself",
                )
            spans.append((target.start, target.end))
