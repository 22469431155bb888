"""File descriptors against RLIMIT_NOFILE, sampled once a second by each worker.

uvloop (libuv) keeps one spare descriptor: when accept() fails with EMFILE it closes the
spare, accepts the waiting connections and closes them at once, and takes the spare back,
all without telling Python. Clients see their connection closed and the operator sees
nothing, so the worker looks for itself: the lowest free descriptor is what an open() of
/dev/null returns (two system calls). EMFILE there means the worker is at its limit now;
a lowest free descriptor above 90 % of the limit means at least that many are open, and
only then is /proc/self/fd listed for the exact count (10,000 entries take about 10 ms, too
much to pay every second on a busy worker that is far from its limit). Lines are rate-limited
per level; each sample at the limit is counted as an ``fd_exhausted`` fault.
"""

from __future__ import annotations

import errno
import os
import resource
from collections.abc import Callable

NEAR = 0.9  # of the soft limit: the warning level
EVERY = 10.0  # seconds between two lines of the same level


def soft_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else hard


def _exact_count() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # the listing's own descriptor
    except OSError:
        return None


class FdWatch:
    def __init__(self, log: Callable[[str], None], count_fault: Callable[[], None]) -> None:
        self.log = log
        self.count_fault = count_fault
        self.last_line = {"exhausted": float("-inf"), "near": float("-inf")}

    def sample(self, now: float) -> None:
        limit = soft_limit()  # read each time: prlimit(1) can change it under a running worker
        try:
            fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                return
            self.count_fault()
            what = "this process" if exc.errno == errno.EMFILE else "the system (ENFILE)"
            self._line(
                "exhausted",
                now,
                f"file descriptors exhausted: all {limit} allowed (RLIMIT_NOFILE) are open in "
                f"{what}; new connections are accepted and closed at once until some are "
                "freed (raise the limit: ulimit -n, systemd LimitNOFILE, docker --ulimit nofile)",
            )
            return
        os.close(fd)
        if fd < NEAR * limit:  # fds 0..fd-1 are open: at least fd of them
            return
        count = _exact_count()
        if count is not None and count >= NEAR * limit:
            self._line(
                "near",
                now,
                f"file descriptors nearly exhausted: {count} of {limit} allowed "
                "(RLIMIT_NOFILE) are open",
            )

    def _line(self, level: str, now: float, message: str) -> None:
        if now - self.last_line[level] >= EVERY:
            self.last_line[level] = now
            self.log(message)
