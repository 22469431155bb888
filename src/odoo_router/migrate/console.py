"""Operator output: rich progress bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")

err = Console(stderr=True, highlight=False)


def say(message: str) -> None:
    err.print(message, markup=False)


def track(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield from items
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for one long action (a terminal), or a plain line."""
    if not sys.stderr.isatty():
        say(message)
        yield
        return
    with err.status(message):
        yield


def confirm(question: str, yes: bool) -> bool:
    """--yes answers; without a terminal to ask, the answer is no."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
