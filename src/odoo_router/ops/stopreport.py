"""How a stop went: what each worker's drain left unfinished, the one-line report it sends
its master over a pipe, and the last line of the master's log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Drained:
    """What a drain left unfinished at the end of ``shutdown_grace``."""

    requests_cut: int = 0
    websockets_cut: int = 0


def report_line(worker_id: int, left: Drained) -> bytes:
    """``<worker id> <requests cut> <websockets cut>``: shorter than PIPE_BUF, so a write of
    it is whole even when several workers write the pipe at once."""
    return f"{worker_id} {left.requests_cut} {left.websockets_cut}\n".encode("ascii")


def sum_reports(data: bytes) -> Drained:
    """The sum of every well-formed report line in ``data`` (others are ignored)."""
    total = Drained()
    for line in data.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            total.requests_cut += int(parts[1])
            total.websockets_cut += int(parts[2])
    return total


def describe_drain(left: Drained, grace: float) -> str:
    """How a stop went, for the last line of the log."""
    if not left.requests_cut and not left.websockets_cut:
        return "drained, every request finished"
    return (
        f"cut after shutdown_grace ({grace:g}s): {left.requests_cut} request(s) and "
        f"{left.websockets_cut} websocket(s) were still open"
    )
