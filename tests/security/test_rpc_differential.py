"""Differential fuzz: the streaming RPC firewall decides every random or mutated request as the
whole-body oracle (rpc_oracle.py) does, with the same answer to the client, fed in random
pieces. CI runs 5,000 cases (RPC_FUZZ_CASES changes it); the acceptance run of 100,000 is
marked slow: ``pytest -m slow tests/security/test_rpc_differential.py``."""

from __future__ import annotations

import os
import random
import zlib
from collections import Counter

import pytest

from odoo_router.security.rpc_firewall import Refuse
from security.rpc_compare import UNDECIDED_DEPTHS, oracle, same, streamed
from security.rpc_fuzz import TENANT, Case, case

CASES = int(os.environ.get("RPC_FUZZ_CASES", "5000"))
SEED = int(os.environ.get("RPC_FUZZ_SEED", "14"))


def _depth(body: bytes) -> int:
    """The deepest JSON nesting in the body (decoded if it is compressed), roughly."""
    for wbits in (31, 15):
        out, rest = b"", body
        while rest:  # every member, as far as each goes
            inflater = zlib.decompressobj(wbits)
            try:
                out += inflater.decompress(rest, 1 << 22)
            except zlib.error:
                break
            rest = inflater.unused_data
        if out:
            body = out
            break
    deepest = depth = 0
    for byte in body:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _check(c: Case, rng: random.Random) -> str:
    args = (c.path, c.content_type, c.content_encoding, c.body, TENANT, c.limit)
    if not c.path.startswith("/xmlrpc") and _depth(c.body) in UNDECIDED_DEPTHS:
        return "undecided"  # the oracle's answer depends on its caller's stack depth
    want = oracle(*args)
    assert want is not None, c
    piece = rng.choice([1, 3, 64, 1000, 1 << 20])
    if piece == 1 and len(c.body) > 20000:
        piece = 997
    got = streamed(*args, piece=piece, budget=rng.choice([1, 100, 65536]))
    assert same(got, want), (c, piece, got, want)
    return str(got.status) if isinstance(got, Refuse) else "allow"


@pytest.mark.parametrize(
    "cases", [CASES, pytest.param(100_000, marks=[pytest.mark.slow, pytest.mark.timeout(1800)])]
)
def test_streaming_firewall_decides_as_the_oracle(cases: int) -> None:
    rng = random.Random(SEED)
    seen: Counter[str] = Counter()
    for _ in range(cases):
        seen[_check(case(rng), rng)] += 1
    # The generator reaches every kind of verdict, not only malformed bodies.
    assert {"allow", "400", "403", "413", "415"} <= set(seen), seen
    assert seen["allow"] > cases // 50 and seen["403"] > cases // 20, seen
