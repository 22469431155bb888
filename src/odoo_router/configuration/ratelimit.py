"""A route's ``rate_limit: {key: client_ip|client_ip_db, rate: 10/min, burst: 5}``.

``rate`` is a positive number of attempts per second, minute or hour (``/s``, ``/min``,
``/h``); ``burst`` a positive whole number, the attempts allowed at once. The limit guards
what reaches Odoo, so it needs a proxy action. How many buckets all routes share is the
static ``server.rate_limit_keys``.
"""

from __future__ import annotations

import re
from typing import Final

from .model import RateLimit
from .reader import Reader
from .values import as_int, kind

_RATE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|min|h)\s*")
_PER_SECOND: Final = {"s": 1.0, "min": 60.0, "h": 3600.0}
KEYS: Final = ("client_ip", "client_ip_db")


def parse_rate(value: object) -> tuple[float, str]:
    """ "10/min" -> (tokens per second, the text as normalised)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a rate such as 10/min, got {kind(value)}")
    m = _RATE.fullmatch(value)
    if m is None:
        raise ValueError(f"expected a rate such as 10/min (units /s, /min, /h), got {value!r}")
    count = float(m.group(1))
    if count <= 0:
        raise ValueError(f"a rate must be positive, got {value!r}")
    return count / _PER_SECOND[m.group(2)], f"{m.group(1)}/{m.group(2)}"


def _key(value: object) -> str:
    if value not in KEYS:
        raise ValueError(f"expected one of {', '.join(KEYS)}, got {value!r}")
    return str(value)


def read_rate_limit(r: Reader, value: object, p: str) -> RateLimit | None:
    d = r.mapping(value, p, ("key", "rate", "burst"), ())
    if d is None or not all(k in d for k in ("key", "rate", "burst")):
        return None  # a missing key was reported by mapping()
    problems = len(r.problems)
    key = r.get(d, p, "key", _key, "client_ip")
    rate, text = r.get(d, p, "rate", parse_rate, (1.0, "1/s"))
    burst = r.get(d, p, "burst", as_int(1, 1_000_000), 1)
    if len(r.problems) > problems:
        return None
    return RateLimit(
        key="client_ip_db" if key == "client_ip_db" else "client_ip",
        rate=rate,
        burst=burst,
        text=f"{key} {text}, burst {burst}",
    )
