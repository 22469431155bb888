"""The shared bucket table (security/ratelimit_table.py): token buckets, refill, bounded
slots with the least recently used evicted, and one table across forked processes."""

from __future__ import annotations

import os

import pytest

from odoo_router.security.ratelimit_table import WINDOW, BucketTable


def test_burst_then_refused_with_the_wait() -> None:
    table = BucketTable(16)
    assert [table.take(b"a", 1.0, 3, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert table.take(b"a", 1.0, 3, 100.0) == pytest.approx(1.0)
    assert table.take(b"a", 1.0, 3, 100.5) == pytest.approx(0.5)  # half a token came back
    assert table.take(b"b", 1.0, 3, 100.5) == 0.0  # another key: its own bucket


def test_refill_over_time_up_to_the_burst() -> None:
    table = BucketTable(16)
    for _ in range(2):
        table.take(b"a", 0.5, 2, 10.0)
    assert table.take(b"a", 0.5, 2, 10.0) > 0
    assert table.take(b"a", 0.5, 2, 12.0) == 0.0  # one token per 2 s
    assert table.take(b"a", 0.5, 2, 12.0) > 0
    # A long pause refills to the burst, not beyond it.
    assert [table.take(b"a", 0.5, 2, 1000.0) for _ in range(3)][2] > 0


def test_refusals_do_not_earn_tokens() -> None:
    table = BucketTable(16)
    table.take(b"a", 1.0, 1, 0.0)
    for i in range(10):
        assert table.take(b"a", 1.0, 1, 0.1 * i) > 0  # hammering keeps it empty
    assert table.take(b"a", 1.0, 1, 2.0) == 0.0


def test_never_more_keys_than_slots() -> None:
    table = BucketTable(64)
    for i in range(5000):
        table.take(b"key%d" % i, 1.0, 5, float(i))
    assert table.used() <= 64
    assert table.map.size() == 64 * 32


def test_the_least_recently_used_of_the_window_goes() -> None:
    slots = WINDOW
    table = BucketTable(slots)
    # Every key hashes to slot 0's window: the table is that window.
    for h in range(1, slots + 1):
        table.take_hash(h, 0.001, 1, float(h))  # empty buckets (burst 1, one taken)
    table.take_hash(1, 0.001, 1, 100.0)  # key 1 used again: now the most recent
    table.take_hash(99, 0.001, 1, 101.0)  # a new key evicts key 2, the least recent
    assert table.take_hash(1, 0.001, 1, 102.0) > 0  # key 1 kept its empty bucket
    assert table.take_hash(2, 0.001, 1, 103.0) == 0.0  # key 2 starts afresh


def test_a_refilled_bucket_goes_before_a_recent_one() -> None:
    table = BucketTable(WINDOW)
    for h in range(1, WINDOW + 1):
        table.take_hash(h, 1.0 if h == WINDOW else 0.001, 1, 10.0 + h)
    # At t=100 only the last key's bucket (rate 1/s) is full again: it goes, not key 1.
    table.take_hash(99, 0.001, 1, 100.0)
    assert table.take_hash(1, 0.001, 1, 100.0) > 0


def test_forked_processes_share_the_buckets() -> None:
    table = BucketTable(16)
    pid = os.fork()
    if pid == 0:  # the child takes the whole burst
        code = 0 if all(table.take(b"a", 0.001, 3, 5.0) == 0.0 for _ in range(3)) else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert table.take(b"a", 0.001, 3, 5.0) > 0  # nothing left for the parent


def test_keys_hash_with_a_secret() -> None:
    assert BucketTable(4).key_hash(b"a") != BucketTable(4).key_hash(b"a")


def test_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        BucketTable(0)
