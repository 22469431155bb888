"""Where the server's WebSocket frames end in the byte stream a tunnel relays to the client.

The tunnel relays bytes, not frames; to close a websocket itself (maintenance: 1012,
shutdown: 1001) the router must put its close frame *between* two of the server's frames,
never inside one in flight, or the client reads garbage. RFC 6455 5.4 allows a control
frame between the fragments of a message, so a frame's end is always a place for it.

``FrameEnds`` reads only frame headers (2-14 bytes) and counts payload bytes down: a frame
of any size costs one subtraction per read, whatever its size. A header split across
reads is kept until whole. Every tunnel tracks, from its first byte: one opened before a
reload added the ``maintenance`` section may have to be closed too, and a stream joined in
the middle has no frame boundary to be found.
"""

from __future__ import annotations


class FrameEnds:
    def __init__(self) -> None:
        self.left = 0  # bytes of the current frame's payload still to come
        self.head = b""  # the start of a frame header split across reads

    def at_end(self) -> bool:
        """Between two frames: nothing of a frame is in flight."""
        return self.left == 0 and not self.head

    def advance(self, data: bytes, stop: bool) -> int:
        """Walk over ``data``. Without ``stop``: all of it, returns its length. With ``stop``:
        up to the first frame end, returns its offset in ``data`` (0 when between frames
        already), or -1 when ``data`` ends inside a frame (all of it walked)."""
        pos = 0
        n = len(data)
        while pos < n:
            left = self.left
            if left:
                take = left if left < n - pos else n - pos
                self.left = left - take
                pos += take
                if stop and self.left == 0:
                    return pos
                continue
            head = self.head
            if stop and not head:
                return pos
            have = len(head)
            buf = head + data[pos : pos + 14 - have] if have else data[pos : pos + 14]
            if len(buf) < 2:
                self.head = buf
                return -1 if stop else n
            b1 = buf[1]
            length = b1 & 0x7F
            size = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if b1 & 0x80 else 0)
            if len(buf) < size:
                self.head = buf
                return -1 if stop else n
            if length == 126:
                length = int.from_bytes(buf[2:4], "big")
            elif length == 127:
                length = int.from_bytes(buf[2:10], "big")
            pos += size - have
            self.head = b""
            self.left = length
            if stop and length == 0:
                return pos
        if stop:
            return pos if self.at_end() else -1
        return n
