"""One test per generated case: nginx with the reference and odoo-router, same bytes in."""

from __future__ import annotations

import pytest

from .cases import Case, generate
from .client import exchange, exchange_pipeline
from .deviations import compare
from .observe import Fields, observe, observe_pipeline
from .targets import Tally, Target
from .upstreams import Upstreams

CASES = generate()


def run(case: Case, target: Target, upstreams: Upstreams) -> Fields:
    upstreams.recorder.take()  # nothing left over from an earlier exchange
    if case.pipeline:
        answers = exchange_pipeline(target.port, case.raw, heads=case.heads)
        return observe_pipeline(case, answers, upstreams.recorder.take())
    answer = exchange(target.port, case.raw, head=case.head)
    return observe(case, answer, upstreams.recorder.take())


@pytest.mark.nginx
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_agrees_with_nginx(
    case: Case,
    reference: Target,
    candidate: Target,
    upstreams: Upstreams,
    tally: Tally,
    request: pytest.FixtureRequest,
) -> None:
    ref = run(case, reference, upstreams)
    ours = run(case, candidate, upstreams)
    problems = compare(case, ref, ours, deviations=candidate.deviates)
    tally[request.node.nodeid] = not problems
    if problems:
        lines = "\n  ".join(problems)
        pytest.fail(
            f"{candidate.name} differs from nginx on\n  {case.raw[:300]!r}\n  {lines}",
            pytrace=False,
        )
