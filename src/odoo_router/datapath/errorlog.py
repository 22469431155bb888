"""Error lines that cannot flood the log: one per key (pool and cause) per interval.

The first failure of a kind is logged at once; the same kind again within ``interval``
seconds is only counted, and the count is told with the next line of that kind, or by
``flush`` (the worker's timer) once the interval is over. An Odoo that is down makes one
line per pool and cause every ``interval``, whatever the request rate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

INTERVAL: Final = 10.0  # seconds between two lines of one pool and cause


class RateLimitedLog:
    def __init__(self, write: Callable[[str], None], interval: float = INTERVAL) -> None:
        self.write = write
        self.interval = interval
        self._last: dict[tuple[str, str], float] = {}  # key -> when its last line was written
        self._suppressed: dict[tuple[str, str], tuple[int, str]] = {}  # count, last message

    def log(self, pool: str, cause: str, message: str, now: float) -> None:
        key = (pool, cause)
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            count, _ = self._suppressed.get(key, (0, ""))
            self._suppressed[key] = (count + 1, message)
            return
        self._last[key] = now
        count, _ = self._suppressed.pop(key, (0, ""))
        self.write(message + _more(count, self.interval))

    def flush(self, now: float) -> None:
        """Tell the counts of the intervals that are over, with their last message."""
        if not self._suppressed:
            return
        for key, (count, message) in list(self._suppressed.items()):
            if now - self._last[key] >= self.interval:
                del self._suppressed[key]
                self._last[key] = now
                self.write(message + _more(count - 1, self.interval) if count > 1 else message)


def _more(count: int, interval: float) -> str:
    if count <= 0:
        return ""
    return f" ({count} more like it in the last {interval:g}s not logged)"
