"""wsframes.FrameEnds: the server's frame ends found in any split of the byte stream, for
every header form (7-bit, 16-bit and 64-bit lengths, masked or not, empty payloads)."""

from __future__ import annotations

import random

import pytest

from odoo_router.datapath.wsframes import FrameEnds


def frame(payload: bytes, opcode: int = 2, fin: bool = True, mask: bool = False) -> bytes:
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([first, n | (0x80 if mask else 0)])
    elif n < 1 << 16:
        head = bytes([first, 126 | (0x80 if mask else 0)]) + n.to_bytes(2, "big")
    else:
        head = bytes([first, 127 | (0x80 if mask else 0)]) + n.to_bytes(8, "big")
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


FRAMES = [
    frame(b""),
    frame(b"hi", opcode=1),
    frame(b"x" * 125),
    frame(b"y" * 126),
    frame(b"z" * 70_000, fin=False),  # the first fragment of a message
    frame(b"ping", opcode=9),  # a control frame between fragments (RFC 6455 5.4)
    frame(b"w" * 3, opcode=0, mask=True),
    frame(b"v" * 65_535, opcode=0),
]


def ends(frames: list[bytes]) -> set[int]:
    out, at = {0}, 0
    for f in frames:
        at += len(f)
        out.add(at)
    return out


def test_whole_frames_end_where_they_end() -> None:
    fe = FrameEnds()
    for f in FRAMES:
        assert fe.at_end()
        assert fe.advance(f, False) == len(f)
    assert fe.at_end()


@pytest.mark.parametrize("seed", range(20))
def test_any_split_finds_the_same_ends(seed: int) -> None:
    rng = random.Random(seed)
    stream = b"".join(FRAMES)
    expected = ends(FRAMES)
    fe = FrameEnds()
    at = 0
    while at < len(stream):
        piece = stream[at : at + rng.choice((1, 2, 3, 7, 100, 5000, 80_000))]
        assert fe.at_end() == (at in expected), at
        # Without stop the walk takes all; with stop it halts at the first end in the piece.
        probe = FrameEnds()
        probe.left, probe.head = fe.left, fe.head
        cut = probe.advance(piece, True)
        later = sorted(e - at for e in expected if at <= e <= at + len(piece))
        assert cut == (later[0] if later else -1), (at, len(piece))
        assert fe.advance(piece, False) == len(piece)
        at += len(piece)
    assert fe.at_end()


def test_stop_mid_frame_returns_minus_one_then_the_end() -> None:
    fe = FrameEnds()
    big = frame(b"a" * 1000)
    assert fe.advance(big[:10], False) == 10
    assert fe.advance(big[10:500], True) == -1
    rest = big[500:] + frame(b"next")
    assert fe.advance(rest, True) == len(big) - 500
    assert fe.at_end()
