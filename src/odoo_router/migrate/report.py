"""``plan``'s report, for a terminal or a log: one finding per line, nothing wrapped.

Sections, in the order an operator reviews them: pre-flight (what refuses the plan, what
was not checked), where each fact came from, the hazards, a unified diff per file, the
steps with the downtime estimate.
"""

from __future__ import annotations

from .plan import Plan

NOT_CHECKED_OFFLINE = (
    "dbfilter_from_header inside the Odoo image (only the host's addons were searched)",
    "disk space for the backups",
    "the router image on the host",
    "the docker networks' subnets against the trusted proxies and the allowlist",
    "the running containers, volumes and databases",
)


def format_plan(plan: Plan, version_source: str = "") -> str:
    head = f"plan {plan.plan_id} (Traefik {plan.traefik_version or 'unknown'}"
    out = [head + (f", {version_source})" if version_source else ")")]
    if plan.offline:
        out.append("offline render: no Docker engine, PostgreSQL or Traefik API was contacted")
    out += ["", "pre-flight: " + ("OK" if not plan.problems else "REFUSED")]
    out += [f"  ! {p}" for p in plan.problems]
    out += [f"  ~ {w}" for w in plan.warnings]
    if plan.offline:
        out += [f"  - not checked offline: {what}" for what in NOT_CHECKED_OFFLINE]
    out += ["", "facts (where each came from):"]
    out += [f"  {line}" for line in plan.facts]
    if plan.routing:
        out += ["", *plan.routing]
    out += ["", "hazards:"]
    out += [f"  HAZARD {h}" for h in plan.hazards] or ["  (none found)"]
    out.append("")
    for f in plan.files:
        how = f"{f.write}{', watched directory' if f.watched else ''}"
        out.append(f"--- {f.path} ({'new' if f.old_sha256 is None else 'changed'}, {how})")
        out.append(f.diff.rstrip("\n") if f.diff else "(no change)")
        out.append("")
    out.append("steps:")
    for n, s in enumerate(plan.steps, start=1):
        mark = "*" if s.downtime else " "
        out.append(f"  {n:2d}. {mark} {s.id:28s} ~{s.seconds:4d}s  {s.title}")
    out.append(
        f"expected downtime (steps marked *): about {plan.downtime_seconds // 60 + 1} min "
        f"({plan.downtime_seconds}s)"
    )
    return "\n".join(out) + "\n"
