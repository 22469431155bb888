"""What the fixtures hand to the tests: the two servers compared, and the agreement tally."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


class Tally(dict[str, bool]):
    """Conformance case node id -> agreed; a short repr keeps failure reports readable."""

    def __repr__(self) -> str:
        return f"<Tally agree {sum(self.values())}/{len(self)}>"


TALLY = pytest.StashKey[Tally]()


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    deviates: bool = True  # the documented deviations apply (not to nginx itself)
