"""Where a request's failure arose, and the status it calls for.

h11 tells a peer's protocol violation (``RemoteProtocolError``) from its own misuse
(``LocalProtocolError``), each with an ``error_status_hint``; Pingora tags every error with
its source (upstream, downstream, internal). A proxy has two peers, hence three sources:

* ``CLIENT``: the client broke the protocol, sent what the rules refuse, went away or
  stalled (400, 413, 414, 494, 501, 505, 408, 499);
* ``UPSTREAM``: the upstream could not be reached, failed, or answered what no request
  asked for (502, 504);
* ``LOCAL``: the router's own fault: a resource it could not get (a full temp_dir) or a
  bug (500, or the connection cut).

A ``RequestError`` is raised where a failure is found inside a parser callback (it stops
the parser); everywhere else the request records it (``Request.fail``) and the driver
answers it in order.
"""

from __future__ import annotations

from typing import Final

CLIENT: Final = "client"
UPSTREAM: Final = "upstream"
LOCAL: Final = "local"


class RequestError(Exception):
    """A failure with its status hint and source; ``reason`` is what the log says."""

    def __init__(self, reason: str, status: int = 400, source: str = CLIENT) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.source = source
