"""Intended differences from nginx, per field and per case class (docs/deviations.md).

A deviation never skips a case: it replaces "equal to nginx" by "equal to what we intend",
computed from the case and nginx's observation, for one field on one class of cases. Every
other field of those cases is still compared with nginx. `expected=None` leaves a field
uncompared; only framing facts that carry no routing meaning use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .cases import Case
from .observe import Fields

Expect = Callable[[Case, Fields], object]


@dataclass(frozen=True)
class Deviation:
    anchor: str  # heading in docs/deviations.md
    field: str
    case_class: str  # one of Case.classes, or "*" for every case
    reason: str
    expected: Expect | None

    def applies(self, case: Case, field: str) -> bool:
        return field == self.field and (self.case_class == "*" or self.case_class in case.classes)


def _nothing(case: Case, ref: Fields) -> object:
    return ()


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "upstream-http11-keep-alive",
        "upstream_version",
        "*",
        "the router talks HTTP/1.1 with keep-alive to every pool; nginx uses HTTP/1.0 and "
        "Connection: close where the location lacks proxy_http_version 1.1",
        None,
    ),
    Deviation(
        "upstream-http11-keep-alive",
        "upstream_connection",
        "*",
        "the Connection header upstream follows from the connection handling above",
        None,
    ),
    Deviation(
        "connection-named-headers-dropped",
        "connection_named",
        "connection-tokens",
        "RFC 9110 7.6.1: headers named in the client's Connection header are hop-by-hop; "
        "nginx forwards them, the router drops them",
        _nothing,
    ),
    Deviation(
        "proxy-connection-dropped",
        "proxy_connection",
        "proxy-connection",
        "Proxy-Connection is a non-standard hop-by-hop header; nginx forwards it, the router "
        "drops it",
        _nothing,
    ),
)


ABSENT = "<absent>"


def deviation_for(case: Case, field: str) -> Deviation | None:
    return next((d for d in DEVIATIONS if d.applies(case, field)), None)


def compare(case: Case, ref: Fields, ours: Fields, *, deviations: bool = True) -> list[str]:
    """Every field that differs after the deviations, as readable lines."""
    problems = []
    for field in dict.fromkeys([*ref, *ours]):
        deviation = deviation_for(case, field) if deviations else None
        if deviation is not None and deviation.expected is None:
            continue
        want = ref.get(field, ABSENT)
        if deviation is not None and deviation.expected is not None and field in ref:
            want = deviation.expected(case, ref)
        got = ours.get(field, ABSENT)
        if want != got:
            label = f" [deviation {deviation.anchor}]" if deviation else ""
            problems.append(f"{field}{label}: nginx {want!r} != ours {got!r}")
    return problems
