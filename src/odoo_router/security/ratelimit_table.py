"""Token buckets every worker shares: a fixed table of slots in shared memory.

Rules / theory of operation
---------------------------
* One table for the whole router, made by the master before it forks the workers: a memfd
  (an anonymous shared-memory file) mapped ``MAP_SHARED``, so every worker, and every worker
  forked later (a crash, a reload), reads and writes the same slots. A limit therefore holds
  for the router, not per worker, and survives reloads; a restart starts it empty.
* Memory is bounded by construction: ``slots`` slots of 32 bytes (the key's hash, the
  tokens, the last access, when the bucket is full again), 3.2 MB for the default 100,000
  keys, allocated by the kernel only as slots are touched.
* Open addressing: a key lives within ``WINDOW`` slots of its home slot (its hash modulo the
  table size). Slots are never emptied, only reused, so a lookup stops at the first empty
  slot. A new key takes the first empty slot of its window; when there is none, a slot whose
  bucket has refilled (it holds nothing a new bucket would not), else the least recently
  used of the window: an LRU sampled over the window, as Redis samples its keys.
* The hash is a keyed BLAKE2b of the key (a random key per table), so clients cannot choose
  addresses that collide; 64 bits make two live keys sharing a hash negligible.
* One lock for the table: ``fcntl.lockf`` on the memfd, held for one lookup (a few
  microseconds). A POSIX record lock belongs to its process, so the kernel drops it when a
  worker dies holding it (SIGKILL past the grace): no worker ever waits on a dead one.
  Only requests a route limits take it.
* Times are ``time.monotonic()``: CLOCK_MONOTONIC is the same clock in every process.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import tempfile
from typing import Final

# key hash (0: an empty slot), tokens, last access, when the bucket holds ``burst`` again
_SLOT: Final = struct.Struct("=Qddd")
SLOT_SIZE: Final = _SLOT.size
WINDOW: Final = 8


def _shared_file(size: int) -> int:
    """A file descriptor of ``size`` zero bytes in memory, shared with forked children."""
    try:
        fd = os.memfd_create("odoo-router-rate-limits", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # no memfd: an unlinked temporary file instead
        with tempfile.TemporaryFile() as fh:
            fd = os.dup(fh.fileno())
    os.ftruncate(fd, size)
    return fd


class BucketTable:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a bucket table needs at least one slot")
        self.slots = slots
        self.fd = _shared_file(slots * SLOT_SIZE)
        self.map = mmap.mmap(self.fd, slots * SLOT_SIZE)  # MAP_SHARED: seen by every worker
        self.salt = os.urandom(16)

    def key_hash(self, key: bytes) -> int:
        digest = hashlib.blake2b(key, digest_size=8, key=self.salt).digest()
        return int.from_bytes(digest, "little") or 1  # 0 marks an empty slot

    def take(self, key: bytes, rate: float, burst: int, now: float) -> float:
        """Take one token of ``key``'s bucket: 0.0 when there was one, else the seconds
        until there is."""
        return self.take_hash(self.key_hash(key), rate, burst, now)

    def take_hash(self, h: int, rate: float, burst: int, now: float) -> float:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            return self._take(h, rate, burst, now)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def _take(self, h: int, rate: float, burst: int, now: float) -> float:
        slots = self.slots
        data = self.map
        unpack = _SLOT.unpack_from
        home = h % slots
        at = -1  # where the key is, or goes
        tokens = float(burst)  # a new bucket is full
        victim = -1
        victim_rank = 0.0
        for i in range(min(WINDOW, slots)):
            index = (home + i) % slots
            slot_hash, slot_tokens, last, full_at = unpack(data, index * SLOT_SIZE)
            if slot_hash == h:
                at = index
                tokens = min(float(burst), slot_tokens + (now - last) * rate)
                break
            if slot_hash == 0:
                at = index
                break
            rank = -1.0 if full_at <= now else last  # a refilled bucket goes first, then LRU
            if victim < 0 or rank < victim_rank:
                victim, victim_rank = index, rank
        if at < 0:
            at = victim
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate
        full_at = now + (burst - tokens) / rate
        _SLOT.pack_into(data, at * SLOT_SIZE, h, tokens, now, full_at)
        return wait

    def used(self) -> int:
        """How many slots hold a key (tests and diagnostics; reads without the lock)."""
        data = self.map
        return sum(1 for i in range(self.slots) if _SLOT.unpack_from(data, i * SLOT_SIZE)[0] != 0)
