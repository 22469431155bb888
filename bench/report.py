"""The table: one line per (row, workers, target), ratios on the odoo-router lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import median

from bench.measure import Row
from bench.scenarios import SCENARIOS, STATIC

TITLES = {s.key: s.title for s in (*SCENARIOS, *STATIC)}
ORDER = {s.key: i for i, s in enumerate((*SCENARIOS, *STATIC))}
TARGET_ORDER = {"sink": 0, "nginx-ref": 1, "nginx-tuned": 2, "odoo-router": 3}


def combine(rounds: Sequence[Row]) -> Row:
    """The round with the median requests/s; peak RSS and errors over every round."""
    ordered = sorted(rounds, key=lambda r: r.rps)
    mid = ordered[(len(ordered) - 1) // 2] if len(ordered) % 2 == 0 else ordered[len(ordered) // 2]
    mid.peak_rss = max(r.peak_rss for r in rounds)
    mid.errors = sum(r.errors for r in rounds)
    if "rss_per_ws_kib" in mid.notes:
        mid.notes["rss_per_ws_kib"] = median(r.notes["rss_per_ws_kib"] for r in rounds)
    return mid


def _ms(us: int) -> str:
    return f"{us / 1000:.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def table(rows: Iterable[Row]) -> str:
    rows = sorted(rows, key=lambda r: (ORDER[r.scenario], r.workers, TARGET_ORDER.get(r.target, 9)))
    by = {(r.scenario, r.workers, r.target): r for r in rows}
    out = [
        "| row | w | target | req/s | MB/s | p50 ms | p99 ms | p99.9 ms | CPU us/req "
        "| peak RSS MiB | errors | /ref | /tuned | notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ref = by.get((r.scenario, r.workers, "nginx-ref"))
        tuned = by.get((r.scenario, r.workers, "nginx-tuned"))
        vs_ref = vs_tuned = ""
        notes = []
        if r.target == "odoo-router":
            vs_ref = _ratio(r.rps, ref.rps) if ref else ""
            vs_tuned = _ratio(r.rps, tuned.rps) if tuned else ""
            if tuned:
                notes.append(f"CPU {_ratio(r.cpu_us, tuned.cpu_us)} tuned")
                notes.append(f"p99 {_ratio(r.p99_us, tuned.p99_us)} tuned")
            if ref and r.scenario.startswith("static"):
                notes.append(f"p50 {_ratio(ref.p50_us, r.p50_us)} faster than ref")
        if r.cpu_s:
            notes.append(f"user {r.cpu_user_s / r.cpu_s:.0%}")
        if "rss_per_ws_kib" in r.notes:
            notes.append(
                f"{r.notes['rss_per_ws_kib']:.1f} KiB RSS/ws, {r.notes['ws_open']:.0f} open"
            )
        mbps = f"{r.mbps:,.0f}" if r.payload_bytes else ""
        out.append(
            f"| {r.scenario} | {r.workers} | {r.target} | {r.rps:,.0f} | {mbps} | "
            f"{_ms(r.p50_us)} | {_ms(r.p99_us)} | {_ms(r.p999_us)} | {r.cpu_us:,.1f} | "
            f"{r.peak_rss / 1048576:.1f} | {r.errors} | {vs_ref} | {vs_tuned} | "
            f"{'; '.join(notes)} |"
        )
    return "\n".join(out)


def legend() -> str:
    lines = ["Rows:"]
    lines += [f"- `{key}`: {title}" for key, title in TITLES.items()]
    return "\n".join(lines)
