"""Operator output, for a terminal and for logs alike.

Rules:
- one message per line, never wrapped: a message that holds several lines is written as one
  line per line, each with the message's prefix (``error: ``), so that ``grep`` finds them all;
- escape sequences and carriage returns in a message (from a command's stderr) are dropped;
- colour only when the stream is a terminal (and ``NO_COLOR`` is unset, ``TERM`` not dumb);
- progress goes to stderr, results (plan, status, a backup folder) to stdout.
No dependency: plain ANSI is enough for a few colours.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import TextIO

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")
_COLOURS = {"error": "31", "warning": "33", "ok": "32", "step": "1"}
_PREFIX = {"error": "error: ", "warning": "warning: "}


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced by a StringIO, or closed
        return False


def _colour(stream: TextIO) -> bool:
    return (
        is_terminal(stream)
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM", "") != "dumb"
    )


def clean(text: str) -> str:
    """``text`` without escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def emit(message: str, kind: str = "info", stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stderr
    prefix = _PREFIX.get(kind, "")
    colour = _COLOURS.get(kind) if _colour(out) else None
    for line in clean(message).split("\n"):
        text = prefix + line
        out.write(f"\x1b[{colour}m{text}\x1b[0m\n" if colour else text + "\n")
    out.flush()


def say(message: str) -> None:
    emit(message)


def step(message: str) -> None:
    emit(message, "step")


def ok(message: str) -> None:
    emit(message, "ok")


def warn(message: str) -> None:
    emit(message, "warning")


def error(message: str) -> None:
    emit(message, "error")


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A long action: one line before it starts (no spinner: it would garble a log)."""
    say(message + " ...")
    yield


def confirm(question: str, yes: bool) -> bool:
    """--yes answers; without a terminal to ask, the answer is no."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
