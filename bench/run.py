"""One command for the whole comparison: ``.venv/bin/python -m bench [--quick]``.

Starts the sink, then for each worker count nginx (reference), nginx (tuned) and
odoo-router, runs every row against each in turn for a few rounds, and prints the table
(median round). Everything listens on 127.0.0.1, every load is bounded in time, and every
process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import baseline, measure, nginx_conf, report
from bench.measure import Row
from bench.procs import descendants, rss_bytes, wait_http
from bench.scenarios import DOWNLOAD_BYTES, SCENARIOS, STATIC, Scenario
from bench.targets import (
    ROUTER_BIN,
    Running,
    Sink,
    start_fake_odoo,
    start_nginx,
    start_router,
    start_sink,
)
from odoo_router.ops import native

ALL_TARGETS = ("nginx-ref", "nginx-tuned", "odoo-router")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 worker, 1 s rows, < 1 min")
    p.add_argument("--workers", default=None, help="comma list, default 1,2 (quick: 1)")
    p.add_argument("--duration", type=float, default=None, help="seconds per row (default 5)")
    p.add_argument("--rounds", type=int, default=None, help="rounds, median kept (default 3)")
    p.add_argument(
        "--rows",
        default=None,
        help="comma list of rows: " + ",".join(s.key for s in (*SCENARIOS, *STATIC)),
    )
    p.add_argument("--targets", default=",".join(ALL_TARGETS), help="comma list of targets")
    p.add_argument(
        "--access-log",
        nargs="?",
        const="on",
        default="off",
        choices=("off", "on", "both"),
        help="every target logs each request to a file in the work directory (named +log); "
        "'both': each target with it off and on, interleaved",
    )
    p.add_argument(
        "--nginx-log-format",
        default="json",
        choices=sorted(nginx_conf.LOG_FORMATS),
        help="json: the router's fields, JSON-escaped (default); main: the nginx image's",
    )
    p.add_argument(
        "--baseline",
        metavar="REF",
        help="add odoo-router as of this commit (built once, cached in bench/results), "
        "interleaved with the others in every round",
    )
    p.add_argument("--ws-count", type=int, default=None, help="idle websockets (default 1000)")
    p.add_argument("--keepalive", type=int, default=256, help="tuned nginx upstream keepalive")
    p.add_argument("--no-warmup", action="store_true", help="no 1 s warm-up (quick: none)")
    p.add_argument("--no-sink-baseline", action="store_true", help="skip wrk straight at the sink")
    p.add_argument("--out", type=Path, help="also write the markdown table here")
    p.add_argument("--json", type=Path, help="also write every measurement here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = p.parse_args(argv)
    args.workers = [int(w) for w in (args.workers or ("1" if args.quick else "1,2")).split(",")]
    args.duration = args.duration or (1.0 if args.quick else 5.0)
    # A before/after comparison takes the median of 5 rounds (issue 15): rows swing by 20%.
    compare = args.baseline is not None or args.access_log == "both"
    args.rounds = args.rounds or (1 if args.quick else 5 if compare else 3)
    args.ws_count = args.ws_count or (200 if args.quick else 1000)
    args.warmup = not (args.no_warmup or args.quick)
    keys = {s.key for s in (*SCENARIOS, *STATIC)}
    args.rows = set(args.rows.split(",")) if args.rows else keys
    if unknown := args.rows - keys:
        p.error(f"unknown rows: {', '.join(sorted(unknown))}")
    args.targets = [t for t in args.targets.split(",") if t]
    if unknown_t := set(args.targets) - set(ALL_TARGETS):
        p.error(f"unknown targets: {', '.join(sorted(unknown_t))}")
    return args


def _scenario(sc: Scenario, ws_count: int) -> Scenario:
    if sc.request is None:
        return Scenario(sc.key, sc.title, None, ws_count)
    return sc


@dataclass(frozen=True)
class Spec:
    """One target of the table: a kind (nginx-ref, nginx-tuned, odoo-router, or a baseline's
    label) with its access log off or on."""

    kind: str
    log: bool = False

    @property
    def name(self) -> str:
        return self.kind + (report.LOG if self.log else "")


def specs(args: argparse.Namespace, base: baseline.Baseline | None) -> list[Spec]:
    kinds = list(args.targets)
    if base is not None:
        kinds.append(base.label)
    logs = {"off": (False,), "on": (True,), "both": (False, True)}[args.access_log]
    return [Spec(kind, log) for log in logs for kind in kinds]


def _start(
    spec: Spec, args: argparse.Namespace, workdir: Path, sink: Sink, workers: int
) -> Running:
    log = workdir / f"{spec.name}-w{workers}-access.log" if spec.log else None
    if spec.kind == "odoo-router":
        return start_router(workdir, sink.upstreams, workers, access_log=log, name=spec.name)
    if args.base is not None and spec.kind == args.base.label:
        return start_router(
            workdir,
            sink.upstreams,
            workers,
            router_bin=args.base.router_bin,
            compat=args.base.compat,
            access_log=log,
            name=spec.name,
        )
    return start_nginx(
        spec.kind,
        workdir,
        sink.upstreams,
        workers,
        args.keepalive,
        access_log=log,
        log_format=args.nginx_log_format,
        name=spec.name,
    )


def _measure(t: Running, sc: Scenario, workers: int, seconds: float, workdir: Path) -> Row:
    """measure.run, then the access log's size per request noted and the file emptied (a
    logging target writes 10-20 MB/s here; its writes are O_APPEND, so they go on at 0)."""
    log = t.access_log
    row = measure.run(t, sc, workers, seconds, workdir)
    if log is not None and log.exists():
        time.sleep(0.2)  # the router's last lines of the round (flushed every 100 ms)
        if row.requests:
            row.notes["log_bytes_per_request"] = log.stat().st_size / row.requests
        os.truncate(log, 0)
    return row


def cpu_pressure() -> str:
    """The share of the last minute in which some runnable task waited for a CPU (Linux
    PSI): how much of the machine others were using, which the load average tells less
    directly."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some "):
                return line.split()[2].removeprefix("avg60=") + "%"
    except OSError:
        pass
    return "n/a"


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def idle_rss(t: Running, workers: int) -> str:
    """The master (the root process) and its workers apart: the targets are per worker."""
    master, *children = [rss_bytes(p) for p in descendants(t.pid)]
    largest_worker = max(children, default=0)
    return (
        f"{t.name} w{workers}: {1 + len(children)} processes, master "
        f"{master / 1048576:.1f} MiB, largest worker {largest_worker / 1048576:.1f} MiB, "
        f"total {(master + sum(children)) / 1048576:.1f} MiB"
    )


def main_rows(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], list[str], list[str]]:
    rows: list[Row] = []
    problems: list[str] = []
    idle: list[str] = []
    scenarios = [_scenario(s, args.ws_count) for s in SCENARIOS if s.key in args.rows]
    sink = start_sink(workdir, DOWNLOAD_BYTES)
    try:
        if not args.no_sink_baseline:
            for sc in scenarios:
                if sc.key in ("get8", "get64"):
                    direct = Running("sink", sink.http.port, sink.http.proc)
                    rows.append(measure.run(direct, sc, 1, args.duration, workdir))
        for workers in args.workers:
            targets: list[Running] = []
            for spec in specs(args, args.base):
                try:
                    targets.append(_start(spec, args, workdir, sink, workers))
                    idle.append(idle_rss(targets[-1], workers) + " (after start)")
                except (RuntimeError, OSError) as exc:
                    problems.append(f"{spec.name} (w{workers}) did not start: {str(exc)[-600:]}")
                    _log(problems[-1])
            try:
                for sc in scenarios:
                    for t in targets if args.warmup else []:
                        _log(f"w{workers} {sc.key} {t.name} (warm-up)")
                        _warm(t, sc, workers, workdir)
                    rounds: dict[str, list[Row]] = {t.name: [] for t in targets}
                    for n in range(args.rounds):
                        for t in targets:
                            _log(f"w{workers} {sc.key} {t.name} round {n + 1}")
                            seconds = args.duration * sc.seconds_scale
                            try:
                                rounds[t.name].append(_measure(t, sc, workers, seconds, workdir))
                            except (RuntimeError, OSError) as exc:
                                problems.append(f"{t.name} w{workers} {sc.key}: {str(exc)[-600:]}")
                                _log(problems[-1])
                    rows += [report.combine(r) for r in rounds.values() if r]
            finally:
                for t in targets:
                    idle.append(idle_rss(t, workers) + " (after the rows)")
                    t.stop()
        static = [s for s in STATIC if s.key in args.rows]
        if static:
            rows += _static_rows(args, workdir, sink, static, problems)
    finally:
        sink.stop()
    return rows, problems, idle


def _warm(t: Running, sc: Scenario, workers: int, workdir: Path) -> None:
    if sc.request is not None and sc.key not in ("upload", "download", "newconn"):
        with contextlib.suppress(RuntimeError, OSError):
            _measure(t, sc, workers, 1.0, workdir)


def _static_rows(
    args: argparse.Namespace, workdir: Path, sink: Sink, static: list[Scenario], problems: list[str]
) -> list[Row]:
    """nginx as configured (every static request reaches the 5 ms Odoo) beside the cache."""
    rows: list[Row] = []
    odoo = start_fake_odoo(workdir, 0.005)
    up = type(sink.upstreams)(odoo.port, sink.websocket.port)
    targets: list[Running] = []
    try:
        if "nginx-ref" in args.targets:
            targets.append(start_nginx("nginx-ref", workdir, up, 1, args.keepalive))
        if "odoo-router" in args.targets:
            try:
                targets.append(start_router(workdir, up, 1, cache=True))
            except (RuntimeError, OSError) as exc:
                problems.append(f"odoo-router (cache) did not start: {str(exc)[-600:]}")
        for sc in static:
            for t in targets:
                _log(f"static {sc.key} {t.name}")
                assert sc.request is not None
                wait_http(t.port, sc.request.path, 5, host=sc.request.host)  # primes the cache
                try:
                    rows.append(measure.run(t, sc, 1, args.duration, workdir))
                except (RuntimeError, OSError) as exc:
                    problems.append(f"{t.name} {sc.key}: {str(exc)[-600:]}")
    finally:
        for t in targets:
            t.stop()
        odoo.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "odoo-router" in args.targets and not ROUTER_BIN.exists():
        _log(f"{ROUTER_BIN} missing: run without odoo-router")
        args.targets.remove("odoo-router")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    args.base = None
    if args.baseline is not None:
        try:
            args.base = baseline.build(args.baseline, _log)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            _log(f"no baseline: {exc}")
            return 1
    workdir = Path(tempfile.mkdtemp(prefix="odoo-router-bench-"))
    load_before, pressure_before = os.getloadavg(), cpu_pressure()
    started = time.time()
    try:
        rows, problems, idle = main_rows(args, workdir)
    finally:
        if args.keep:
            _log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load_after, pressure_after = os.getloadavg(), cpu_pressure()
    header = (
        f"odoo-router bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{os.cpu_count()} CPUs, {args.duration:g} s per row, {args.rounds} round(s) (median), "
        f"loadavg before {load_before[0]:.2f} / after {load_after[0]:.2f}, "
        f"CPU pressure before {pressure_before} / after {pressure_after}, "
        f"took {time.time() - started:.0f} s; odoo-router {native.describe()}"
    )
    if args.base is not None:
        header += f"; baseline {args.base.label} = {args.baseline} ({args.base.commit})"
    if args.access_log != "off":
        header += (
            f"; access logs to files (odoo-router JSON, nginx {args.nginx_log_format} "
            "format, one write per request)"
        )
    text = header + "\n\n" + report.table(rows) + "\n\n" + report.legend()
    text += "\n\nIdle RSS:\n" + "\n".join(f"- {line}" for line in idle)
    if problems:
        text += "\n\nProblems:\n" + "\n".join(f"- {p}" for p in problems)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    errors = sum(r.errors for r in rows)
    return 1 if problems or errors else 0
