"""Intended differences from nginx, per field and per case class (docs/deviations.md).

A deviation never skips a case: for one field on one class of cases it replaces "equal to
nginx" by a check of what we intend instead, computed from the case, nginx's observation
and ours. Every other field of those cases is still compared with nginx.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .cases import Case
from .observe import Fields

# (case, nginx's fields, our value of the field) -> does our value match what we intend?
Check = Callable[[Case, Fields, object], bool]
ABSENT = "<absent>"


@dataclass(frozen=True)
class Deviation:
    anchor: str  # heading in docs/deviations.md
    field: str
    case_class: str  # one of Case.classes, or "*" for every case
    intended: str  # what we do instead, shown when the check fails
    check: Check

    def applies(self, case: Case, field: str) -> bool:
        return field == self.field and (self.case_class == "*" or self.case_class in case.classes)


def _none(case: Case, ref: Fields, ours: object) -> bool:
    return ours == ()


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "upstream-http11-keep-alive",
        "upstream_version",
        "*",
        "HTTP/1.1 to every pool",
        lambda case, ref, ours: ours == "1.1",
    ),
    Deviation(
        "connection-named-headers-dropped",
        "connection_named",
        "connection-tokens",
        "no header named by the client's Connection header reaches the upstream",
        _none,
    ),
    Deviation(
        "proxy-connection-dropped",
        "proxy_connection",
        "proxy-connection",
        "no Proxy-Connection upstream",
        _none,
    ),
)


def deviation_for(case: Case, field: str) -> Deviation | None:
    return next((d for d in DEVIATIONS if d.applies(case, field)), None)


def compare(case: Case, ref: Fields, ours: Fields, *, deviations: bool = True) -> list[str]:
    """Every field that differs after the deviations, as readable lines."""
    problems = []
    for field in dict.fromkeys([*ref, *ours]):
        want = ref.get(field, ABSENT)
        got = ours.get(field, ABSENT)
        deviation = deviation_for(case, field) if deviations else None
        if deviation is not None and field in ref and field in ours:
            if not deviation.check(case, ref, got):
                problems.append(
                    f"{field} [deviation {deviation.anchor}: {deviation.intended}]: "
                    f"nginx {want!r}, ours {got!r}"
                )
        elif want != got:
            problems.append(f"{field}: nginx {want!r} != ours {got!r}")
    return problems
