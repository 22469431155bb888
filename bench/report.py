"""The table: one line per (row, workers, target), ratios on the odoo-router lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import median

from bench.measure import Row
from bench.scenarios import SCENARIOS, STATIC

TITLES = {s.key: s.title for s in (*SCENARIOS, *STATIC)}
ORDER = {s.key: i for i, s in enumerate((*SCENARIOS, *STATIC))}
TARGET_ORDER = {"sink": 0, "nginx-ref": 1, "nginx-tuned": 2, "odoo-router": 3}
LOG = "+log"  # the suffix of a target running with its access log on
ROUTER = "odoo-router"


def split(target: str) -> tuple[str, str]:
    """("odoo-router@50165fb", "+log") from "odoo-router@50165fb+log"."""
    if target.endswith(LOG):
        return target[: -len(LOG)], LOG
    return target, ""


def _order(target: str) -> tuple[bool, int, bool, str]:
    """Logs off before logs on; in each, nginx-ref, nginx-tuned, odoo-router, baselines."""
    kind, log = split(target)
    return bool(log), TARGET_ORDER.get(kind.split("@")[0], 9), "@" in kind, kind


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
    """Ratios on the odoo-router lines (a baseline's too): req/s over nginx-ref and
    nginx-tuned with the access log in the same state, CPU and p99 over nginx-tuned; the
    checkout over the baseline (``/base``, CPU in the notes); a ``+log`` line over the same
    target without its log, when the run had both."""
    rows = sorted(rows, key=lambda r: (ORDER[r.scenario], r.workers, _order(r.target)))
    by = {(r.scenario, r.workers, r.target): r for r in rows}
    bases = sorted({split(r.target)[0] for r in rows if r.target.startswith(ROUTER + "@")})
    out = [
        "| row | w | target | req/s | MB/s | p50 ms | p99 ms | p99.9 ms | CPU us/req "
        "| peak RSS MiB | errors | /ref | /tuned |" + (" /base |" if bases else "") + " notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|" if bases else "")
        + "---|",
    ]
    for r in rows:
        kind, log = split(r.target)

        def other(target: str, r: Row = r) -> Row | None:
            return by.get((r.scenario, r.workers, target))

        ref, tuned = other("nginx-ref" + log), other("nginx-tuned" + log)
        vs_ref = vs_tuned = vs_base = ""
        notes = []
        if kind.startswith(ROUTER):
            vs_ref = _ratio(r.rps, ref.rps) if ref else ""
            vs_tuned = _ratio(r.rps, tuned.rps) if tuned else ""
            if tuned:
                notes.append(f"CPU {_ratio(r.cpu_us, tuned.cpu_us)} tuned")
                notes.append(f"p99 {_ratio(r.p99_us, tuned.p99_us)} tuned")
            if ref and r.scenario.startswith("static"):
                notes.append(f"p50 {_ratio(ref.p50_us, r.p50_us)} faster than ref")
        if kind == ROUTER and bases:
            base = other(bases[0] + log)
            if base is not None:
                vs_base = _ratio(r.rps, base.rps)
                notes.append(f"CPU {_ratio(r.cpu_us, base.cpu_us)} base")
        unlogged = other(kind) if log else None
        if unlogged is not None:
            notes.append(
                f"log on: {_ratio(r.rps, unlogged.rps)} req/s, "
                f"CPU {r.cpu_us - unlogged.cpu_us:+.1f} us"
            )
        if r.cpu_s:
            notes.append(f"user {r.cpu_user_s / r.cpu_s:.0%}")
        if "log_bytes_per_request" in r.notes:
            notes.append(f"log {r.notes['log_bytes_per_request']:.0f} B/req")
        if "rss_per_ws_kib" in r.notes:
            notes.append(
                f"{r.notes['rss_per_ws_kib']:.1f} KiB RSS/ws, {r.notes['ws_open']:.0f} open"
            )
        mbps = f"{r.mbps:,.0f}" if r.payload_bytes else ""
        out.append(
            f"| {r.scenario} | {r.workers} | {r.target} | {r.rps:,.0f} | {mbps} | "
            f"{_ms(r.p50_us)} | {_ms(r.p99_us)} | {_ms(r.p999_us)} | {r.cpu_us:,.1f} | "
            f"{r.peak_rss / 1048576:.1f} | {r.errors} | {vs_ref} | {vs_tuned} | "
            + (f"{vs_base} | " if bases else "")
            + f"{'; '.join(notes)} |"
        )
    return "\n".join(out)


def legend() -> str:
    lines = ["Rows:"]
    lines += [f"- `{key}`: {title}" for key, title in TITLES.items()]
    return "\n".join(lines)
