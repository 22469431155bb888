"""The worker's memo of routing decisions, kept beside the routing table and never in it.

``routing.decide`` is a pure function of an immutable table and the request's facts; asking
it again for the same host and path gives the same decision. Most requests repeat a host
and path seen before, so the worker remembers (one memo per table generation: a reload
starts a new one with its new table):

* the host rule each host matched, with its regex groups;
* the decision for a (host, path) when it depends on nothing else (``decide_matched`` says
  so: no allowlist, no credentials).

Hosts and paths are chosen by clients, so both dicts are bounded: once full they are
emptied and refilled (only slower, never different).
"""

from __future__ import annotations

from typing import Final

from .table import Decision, Facts, HostMatch, RoutingTable, decide_matched, match_host

HOSTS_MAX: Final = 4096
DECISIONS_MAX: Final = 8192


class RouteMemo:
    def __init__(self, table: RoutingTable) -> None:
        self.table = table
        self.hosts: dict[str, HostMatch] = {}
        # (host, path) -> the decision, for those that depend on the host and path alone.
        self.decisions: dict[tuple[str, str], Decision] = {}

    def decide(self, facts: Facts) -> Decision:
        """``routing.decide(self.table, facts)``, remembered where it may be."""
        key = (facts.host, facts.path)
        known = self.decisions.get(key)
        if known is not None:
            return known
        matched = self.hosts.get(facts.host)
        if matched is None:
            matched = match_host(self.table, facts.host)
            if len(self.hosts) >= HOSTS_MAX:
                self.hosts.clear()
            self.hosts[facts.host] = matched
        decision, fixed = decide_matched(self.table, matched, facts)
        if fixed:
            if len(self.decisions) >= DECISIONS_MAX:
                self.decisions.clear()
            self.decisions[key] = decision
        return decision
