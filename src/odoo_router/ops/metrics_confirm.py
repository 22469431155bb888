"""The master's confirmations that a candidate database exists, before it takes a label slot.

Why: Odoo answers a JSON-RPC or XML-RPC call with 200 even when it failed because the
database does not exist, so a worker's evidence (metrics_tenants.py) can name a random
subdomain. The master grants a slot only to a database Odoo says it has
(metrics_dbexist.py: ``db.db_exist``, asked of the pool that answered the request).

Rules (all bounds hold whatever the workers report):
* In the background: ``offer`` only queues a name; at most ``in_flight`` threads ask, one
  question each at a time, so neither the master's loop nor a worker ever waits for Odoo
  (the workers' data path does not know this exists).
* At most ``rate`` questions start per second on average, across the threads, after a
  burst of ``BURST`` (a token bucket: a few new tenants are asked at once): a flood of
  random names costs Odoo at most ``BURST + rate * t`` calls in ``t`` seconds, however many
  names it brings. The queue
  holds at most ``PENDING_MAX`` names; an offer past that is dropped (the workers offer
  their candidates again every second).
* Each question has ``timeout`` seconds in all (connect, send, answer).
* A "no" is remembered for ``no_ttl`` seconds (a negative cache: the same random name costs
  one call per ``no_ttl``, and a database created meanwhile is asked again after it). No
  answer (Odoo unreachable, slow, an error) is "not yet": asked again after ``retry``
  seconds, never a grant. The memory of both is bounded (``LATER_MAX``, oldest first).
* A "yes" is handed to ``exists`` (TenantSlots.confirmed), which grants or refuses the slot
  for good: a database decided is never asked again, so the decision is the positive cache.
* An unanswered question is logged at most once per ``LOG_EVERY`` seconds, with the count
  of those not logged: a pool whose Odoo cannot answer shows in the log, a flood does not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .metrics_dbexist import NoAnswer, Servers, db_exist

IN_FLIGHT = 4
RATE = 20.0  # questions started per second, on average
BURST = 4  # questions that may start at once after a quiet time
TIMEOUT = 2.0
NO_TTL = 60.0
RETRY = 5.0
PENDING_MAX = 1000
LATER_MAX = 10_000
LOG_EVERY = 60.0

Ask = Callable[[Servers, int, str, float], bool]  # db_exist's signature


class Confirmations:
    def __init__(
        self,
        exists: Callable[[str], None],
        log: Callable[[str], None] | None = None,
        ask: Ask = db_exist,
        *,
        in_flight: int = IN_FLIGHT,
        rate: float = RATE,
        timeout: float = TIMEOUT,
        no_ttl: float = NO_TTL,
        retry: float = RETRY,
    ) -> None:
        self._exists = exists
        self._log = log
        self._ask = ask
        self.in_flight = in_flight
        self.rate = rate
        self.timeout = timeout
        self.no_ttl = no_ttl
        self.retry = retry
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: dict[str, Servers] = {}  # oldest first
        self._asking: set[str] = set()
        self._later: dict[str, float] = {}  # name -> not asked again before (monotonic)
        self._threads = 0
        self._tokens = float(BURST)  # below 0: questions already promised a later start
        self._filled = time.monotonic()
        self._turn = 0  # round robin over a pool's servers
        self._logged = 0.0
        self._unlogged = 0
        self.asked = 0  # questions put to Odoo so far

    def offer(self, name: str, servers: Servers) -> None:
        """Queue ``name`` unless it is queued, being asked, or not due again yet."""
        if not servers:
            return
        now = time.monotonic()
        with self._lock:
            if name in self._pending or name in self._asking:
                return
            due = self._later.get(name)
            if due is not None:
                if due > now:
                    return
                del self._later[name]
            if len(self._pending) >= PENDING_MAX:
                return
            self._pending[name] = servers
            if self._threads >= self.in_flight:
                return
            self._threads += 1
        try:
            threading.Thread(target=self._work, name="tenant-check", daemon=True).start()
        except RuntimeError:  # no thread to be had now: the next offer tries again
            with self._lock:
                self._threads -= 1

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._threads -= 1
                    self._changed.notify_all()
                    return
                name = next(iter(self._pending))
                servers = self._pending.pop(name)
                self._asking.add(name)
                now = time.monotonic()
                tokens = self._tokens + (now - self._filled) * self.rate
                self._tokens = min(float(BURST), tokens) - 1.0
                self._filled = now
                wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
                first = self._turn
                self._turn += 1
                self.asked += 1
            if wait:
                time.sleep(wait)
            self._settle(name, servers, first)

    def _settle(self, name: str, servers: Servers, first: int) -> None:
        answer: bool | None = None
        why = ""
        try:
            answer = self._ask(servers, first, name, self.timeout)
            if answer:
                self._exists(name)
        except NoAnswer as exc:
            why = str(exc)
        except Exception as exc:  # a bug must not stop the questions for good
            why = f"{type(exc).__name__}: {exc}"
            answer = None
        with self._lock:
            self._asking.discard(name)
            if not answer:
                ttl = self.no_ttl if answer is False else self.retry
                if len(self._later) >= LATER_MAX:
                    del self._later[next(iter(self._later))]
                self._later[name] = time.monotonic() + ttl
            self._changed.notify_all()
            line = self._log_line(name, why) if why else None
        if line is not None and self._log is not None:
            self._log(line)

    def _log_line(self, name: str, why: str) -> str | None:
        now = time.monotonic()
        if self._logged and now - self._logged < LOG_EVERY:
            self._unlogged += 1
            return None
        more = f" ({self._unlogged} more since the last such line)" if self._unlogged else ""
        self._logged, self._unlogged = now, 0
        return (
            f"tenant label slots: no answer from Odoo on whether {name} exists: {why}; "
            f"asking again in {self.retry:g}s, no slot meanwhile{more}"
        )

    def idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being asked (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._asking or self._threads:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True
