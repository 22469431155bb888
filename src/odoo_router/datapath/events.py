"""What a client connection's driver hears, as one interface (driver.Driver implements it).

The parts of the data path below the driver call up through these methods only: framing
reports heads, bodies and parse errors; the exchange, the spool and the tunnel report their
end. None of them knows the driver's type, so nothing imports upward (no import circle), and
each call is still a compiled method call (mypyc's vtable), not a Python callback.
"""

from __future__ import annotations

from ..routing.request_filter import RequestHead


class Events:
    """The driver's inputs. The base does nothing: a part left without a driver (its
    connection closed) reports into the void."""

    # -- from framing (framing.py) --------------------------------------------------

    def new_head(self, start: float) -> RequestHead:
        """A message begins: the head object framing fills."""
        return RequestHead(start)

    def head_complete(self, head: RequestHead) -> None:
        """The head is whole (phase 1 runs); a RequestError raised here refuses it."""

    def body(self, head: RequestHead, data: bytes) -> None:
        """A piece of the body of ``head``'s request."""

    def message_complete(self, head: RequestHead) -> None:
        """The message of ``head`` ended."""

    def parse_error(self, head: RequestHead | None, status: int, source: str) -> None:
        """Parsing stopped on an error in ``head``'s message (None: in one not yet begun)."""

    def upgraded(self, rest: bytes) -> None:
        """The parser stopped after an upgrade request; ``rest`` followed its head."""

    def parse_more(self) -> bool:
        """Whether framing may parse on; False: too many requests wait, framing holds the
        rest (the driver pauses reading and calls ``feed_held`` once there is room)."""
        return True

    def body_due(self, head: RequestHead) -> int:
        """Bytes of ``head``'s body still to come under Content-Length; -1 when chunked."""
        return -1

    # -- from the response side -----------------------------------------------------

    def exchange_done(self) -> None:
        """The current exchange ended (exchange.Outcome says how)."""

    def spool_done(self) -> None:
        """The spool fed the client the whole response (or failed)."""

    def tunnel_closed(self) -> None:
        """The websocket tunnel closed."""
