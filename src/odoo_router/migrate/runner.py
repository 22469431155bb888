"""The one place that starts processes. Tests substitute a recording fake or point the real
runner at local binaries; production runs docker and, through ``docker exec -i``, the
PostgreSQL tools. Never a TTY: ``-t`` would turn binary dumps into CRLF soup."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


def _die_with_parent() -> None:
    """Children get SIGKILL when we die (Linux prctl PR_SET_PDEATHSIG): a killed apply
    leaves no docker compose or pg_dump running on behind the journal's back, racing the
    resumed run."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


_PREEXEC = _die_with_parent if sys.platform == "linux" else None


class CommandError(Exception):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-3:]
        super().__init__(f"`{' '.join(argv)}` exited {returncode}: {' | '.join(tail)}")


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input_text: str | None = None,
        timeout: float | None = None,
    ) -> Result: ...

    def run_to_file(self, argv: Sequence[str], out: Path, *, timeout: float | None = None) -> None:
        """stdout -> a new file (exclusive create); exit code checked."""

    def run_from_file(
        self, argv: Sequence[str], src: Path, *, timeout: float | None = None
    ) -> Result:
        """A file -> stdin; exit code checked."""


@dataclass
class SubprocessRunner:
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    default_timeout: float = 3600.0

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input_text: str | None = None,
        timeout: float | None = None,
    ) -> Result:
        proc = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            env=dict(self.env),
            timeout=timeout or self.default_timeout,
            check=False,
            preexec_fn=_PREEXEC,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise CommandError(argv, proc.returncode, proc.stderr)
        return Result(list(argv), proc.returncode, proc.stdout, proc.stderr)

    def run_to_file(self, argv: Sequence[str], out: Path, *, timeout: float | None = None) -> None:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            proc = subprocess.run(
                list(argv),
                stdout=fh,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=dict(self.env),
                timeout=timeout or self.default_timeout,
                check=False,
                preexec_fn=_PREEXEC,
            )
            fh.flush()
            os.fsync(fh.fileno())
        if proc.returncode != 0:
            raise CommandError(argv, proc.returncode, proc.stderr.decode("utf-8", "replace"))

    def run_from_file(
        self, argv: Sequence[str], src: Path, *, timeout: float | None = None
    ) -> Result:
        with src.open("rb") as fh:
            proc = subprocess.run(
                list(argv),
                stdin=fh,
                capture_output=True,
                env=dict(self.env),
                timeout=timeout or self.default_timeout,
                check=False,
                preexec_fn=_PREEXEC,
            )
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise CommandError(argv, proc.returncode, stderr)
        return Result(list(argv), proc.returncode, stdout, stderr)
