"""The compiled head parser against the current one (llhttp through httptools, framing.py's
limits): the same events, feed by feed, on every conformance case (the odd requests and the
pipelined smuggling shapes among them), the malformed requests of the integration suite,
and random and mutated request streams, cut into reads at random and in framing.py's 16 KiB
slices. CI runs a bounded sample; ``-m slow`` runs the long one."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from conformance.cases import generate
from harness.heads import GOOD, differ, mutate, random_cuts, random_stream, run
from integration.test_bad_input import BAD
from odoo_router.datapath import headparse

pytestmark = pytest.mark.skipif(
    not headparse.COMPILED, reason="the compiled head parser is not built (pure build)"
)
SLICE = 16384  # framing.FEED_SLICE
LIMITS = ((8192, 1000), (8192, 1000), (64, 1000), (200, 3), (1024, 0), (8192, 1))


def test_every_conformance_case_agrees() -> None:
    rng = random.Random(15)
    cases = generate()
    for case in cases:
        raw = case.raw
        slices = list(range(SLICE, len(raw), SLICE))
        for cuts in ([], slices, random_cuts(rng, min(len(raw), 4096))):
            problem = differ(raw, cuts)
            assert not problem, f"{case.id}: {problem}"
    assert len(cases) > 3000


@pytest.mark.parametrize("name", list(BAD))
def test_the_malformed_requests_agree(name: str) -> None:
    raw = BAD[name][0]
    for cuts in ([], [len(raw) // 2], list(range(1, len(raw), 7))):
        for limit, count in LIMITS:
            assert not differ(raw, cuts, limit, count), name


def _fuzz(seed: int, rounds: int) -> Counter[str]:
    """Random streams and mutations of good ones; what the current parser ended with."""
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for n in range(rounds):
        if n % 2:
            raw = random_stream(rng)
        else:
            raw = mutate(rng, rng.choice(GOOD) if rng.random() < 0.5 else random_stream(rng))
        limit, count = rng.choice(LIMITS)
        cuts = random_cuts(rng, len(raw))
        problem = differ(raw, cuts, limit, count)
        assert not problem, problem
        feeds = run(False, raw, cuts, limit, count)
        tail = feeds[-1][-2:] if feeds else []
        # run() ends the last feed with (status, upgrade_at) where parsing stopped
        last = tail[0] if len(tail) == 2 and isinstance(tail[0], int) else None
        seen[f"ended {last}" if isinstance(last, int) else "parsed"] += 1
        seen["in a head"] += any(f and f[-1] == headparse.IN_HEAD for f in feeds)
        seen["with a head"] += any(isinstance(e, tuple) for f in feeds for e in f)
    return seen


def test_random_and_mutated_streams_agree() -> None:
    seen = _fuzz(seed=1, rounds=20_000)
    # The sample reaches every outcome, not only refusals.
    assert seen["parsed"] > 1_500 and seen["with a head"] > 4_000 and seen["in a head"] > 1_000
    for status in (400, 414, 494, 501, 505, headparse.UPGRADE):
        assert seen[f"ended {status}"] > 0, (status, seen)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_random_and_mutated_streams_agree_long() -> None:
    seen = _fuzz(seed=2, rounds=1_000_000)
    assert seen["parsed"] > 100_000
