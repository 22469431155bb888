"""The compiled join of head pieces (_headparser_join.c) gives what ``b"".join`` gives, for
the lists the data path joins and for anything else it is handed."""

from __future__ import annotations

import random
from typing import Any

import pytest

from odoo_router.datapath import headparse
from odoo_router.datapath.headparse import join_pieces


def test_the_compiled_join_runs_where_the_parser_is_built() -> None:
    if headparse.httptools.__version__ not in headparse.VERIFIED_HTTPTOOLS:
        pytest.skip("not built against this httptools: bytes.join runs")
    try:
        from odoo_router.datapath import _headparser
    except ImportError:
        pytest.skip("the head parser is not built (a pure build): bytes.join runs")
    assert getattr(join_pieces, "__self__", None) is _headparser


@pytest.mark.parametrize("seed", range(20))
def test_lists_of_bytes_join_as_bytes_join_does(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        pieces = [
            rng.randbytes(rng.choice((0, 1, 2, 5, 40, 1500))) for _ in range(rng.randint(0, 40))
        ]
        joined = join_pieces(pieces)
        assert joined == b"".join(pieces) and type(joined) is bytes


def test_one_piece_is_that_piece() -> None:
    piece = b"HTTP/1.1 200 OK\r\n"
    assert join_pieces([piece]) is piece and join_pieces([]) == b""


class _Pieces(list[bytes]):
    pass


def test_anything_else_goes_to_bytes_join() -> None:
    assert join_pieces((b"a", b"b")) == b"ab"  # type: ignore[arg-type]
    assert join_pieces(_Pieces([b"a", b"b"])) == b"ab"
    assert join_pieces([b"a", bytearray(b"b"), memoryview(b"c")]) == b"abc"  # type: ignore[list-item]
    assert join_pieces(p for p in (b"a", b"b")) == b"ab"  # type: ignore[arg-type]


@pytest.mark.parametrize("pieces", [[b"a", "b"], [b"a", 1], [None]])
def test_what_bytes_join_refuses_is_refused_the_same(pieces: list[Any]) -> None:
    with pytest.raises(TypeError) as ours:
        join_pieces(pieces)
    with pytest.raises(TypeError) as theirs:
        b"".join(pieces)
    assert str(ours.value) == str(theirs.value)
