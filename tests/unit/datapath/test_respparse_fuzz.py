"""The compiled response parser against the fallback (llhttp through httptools' callbacks):
the same events, feed by feed, to a HEAD and to any other request, on odd upstream answers
(chunked with extensions and trailers, bad and duplicate lengths, obs-fold, bare LF, 1xx
before the answer, 101, close-delimited bodies, bytes after the end), the good ones cut at
every byte, random and mutated answers cut into reads at random. The exchange walks the
events of either the same way, so the same events mean the same bytes to the client and the
same outcome. CI runs a bounded sample; ``-m slow`` runs the long one."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness.answers import GOOD, differ, every_cut, mutated, random_stream, run
from harness.heads import random_cuts
from odoo_router.datapath import respparse

pytestmark = pytest.mark.skipif(
    respparse.CompiledResponseParser is None,
    reason="the compiled head parser is not built (pure build), or switched off",
)


@pytest.mark.parametrize("head_only", [False, True])
@pytest.mark.parametrize("n", range(len(GOOD)))
def test_the_good_answers_agree_cut_at_every_byte(n: int, head_only: bool) -> None:
    raw = GOOD[n]
    for cuts in [[], *every_cut(raw)]:
        problem = differ(raw, cuts, head_only)
        assert not problem, problem


def _fuzz(seed: int, rounds: int) -> Counter[str]:
    """Random answers and mutations of good ones; how the fallback's last feed ended."""
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for n in range(rounds):
        raw = random_stream(rng) if n % 2 else mutated(rng)
        head_only = rng.random() < 0.2
        cuts = random_cuts(rng, len(raw))
        problem = differ(raw, cuts, head_only)
        assert not problem, problem
        feeds = run(False, raw, cuts, head_only)
        tail = feeds[-1][-2:] if feeds and len(feeds[-1]) >= 2 else []
        last = tail[0] if len(tail) == 2 and isinstance(tail[1], int) else None
        if isinstance(last, str):
            seen["error"] += 1
        elif last in (respparse.UNASKED, respparse.UPGRADE):
            seen[f"ended {last}"] += 1
        else:
            seen["parsed"] += 1
        events = [e for f in feeds for e in f]
        seen["with a head"] += any(isinstance(e, tuple) for e in events)
        seen["complete"] += None in events
        seen["with a body"] += any(isinstance(e, bytes) for e in events)
    return seen


def test_random_and_mutated_answers_agree() -> None:
    seen = _fuzz(seed=1, rounds=20_000)
    # The sample reaches every outcome, not only errors.
    assert seen["parsed"] > 2_000 and seen["error"] > 2_000, seen
    assert seen["with a head"] > 7_000 and seen["complete"] > 4_000, seen
    assert seen["with a body"] > 2_000, seen
    for last in (respparse.UNASKED, respparse.UPGRADE):
        assert seen[f"ended {last}"] > 100, (last, seen)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_random_and_mutated_answers_agree_long() -> None:
    seen = _fuzz(seed=2, rounds=1_000_000)
    assert seen["parsed"] > 100_000, seen
