"""Loopback TCP sockets as the kernel lists them (/proc/net/tcp), to see what the router
still holds after it says a connection is over."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ESTABLISHED = "01"


@dataclass(frozen=True)
class Socket:
    local_port: int
    remote_port: int
    state: str
    send_queue: int


def sockets() -> list[Socket]:
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        found.append(
            Socket(
                local_port=int(local.split(":")[1], 16),
                remote_port=int(remote.split(":")[1], 16),
                state=state,
                send_queue=int(queues.split(":")[0], 16),
            )
        )
    return found


def open_between(local_port: int, remote_port: int) -> list[Socket]:
    """The socket from ``local_port`` (the router's end of an upstream connection) to
    ``remote_port`` (the upstream's), while it is established."""
    return [
        s
        for s in sockets()
        if s.local_port == local_port and s.remote_port == remote_port and s.state == ESTABLISHED
    ]
