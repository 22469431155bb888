"""The data path's clock: ``time.monotonic`` held as a Final, which the compiled build keeps
in a C static, so a read costs the call alone (``from time import monotonic`` is looked up in
the module's dict on every call: about a third of a read's cost, four or five reads a
request)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

monotonic: Final[Callable[[], float]] = time.monotonic
