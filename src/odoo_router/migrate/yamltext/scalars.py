"""Writing one scalar so that it reads back as the same value, in the style asked for if the
value allows it.

A string is written plain only when every reader we care about takes it for that string:
PyYAML (YAML 1.1: ``yes``, ``on``, ``0755``, ``1:20`` are not strings), YAML 1.2 readers such as
compose's Go parser (``0o755``, ``1e3``) and YAML 1.1 readers that know ``y``/``n``. Anything
that starts with an indicator (``*``, ``&``, ``!``, ``#``, ``-``, ``:``, quotes, brackets...) or
holds ``: `` or `` #`` is quoted too. Quoting is double by default: it can carry any character.
"""

from __future__ import annotations

import math
import re

from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .loader import STR_TAG

# PyYAML's printable set; anything else is escaped in double quotes.
_PRINTABLE = re.compile("[\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_BREAKS = "\r\n\x85\u2028\u2029"
_OTHER_TYPED = re.compile(
    r"""(?x)^(
        [-+]?(0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[0-9][0-9_]*)
      | [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
      | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
      | [yYnN]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      | ~|null|Null|NULL|<<|=
    )$"""
)
_ESCAPES = {
    "\0": "0",
    "\x07": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\x0b": "v",
    "\x0c": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}
_RESOLVER = Resolver()


def reads_as_string(s: str) -> bool:
    """A plain ``s`` is a string for PyYAML and for YAML 1.2 / 1.1 readers alike."""
    if _OTHER_TYPED.match(s):
        return False
    tag = _RESOLVER.resolve(ScalarNode, s, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == STR_TAG)


def plain_ok(s: str, flow: bool = False) -> bool:
    if not s or s[0] in " \t" or s[-1] in " \t" or not _PRINTABLE.fullmatch(s):
        return False
    if any(c in s for c in _BREAKS + "\ufeff\t"):  # PyYAML ends a plain scalar at a tab
        return False
    if s[0] in "-?:,[]{}#&*!|>'\"%@`" or s.startswith("..."):
        return False
    if ": " in s or " #" in s or s.endswith(":"):
        return False
    if flow and any(c in s for c in ",[]{}:"):
        return False
    return reads_as_string(s)


def single_ok(s: str) -> bool:
    return bool(_PRINTABLE.fullmatch(s)) and not any(c in s for c in _BREAKS + "\ufeff")


def double(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        elif ch != "\ufeff" and _PRINTABLE.fullmatch(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def single(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def string(s: str, quote: str, flow: bool = False) -> str:
    """``s`` in the quoting asked for ("" plain, "'" or '"'), or the nearest that holds it."""
    if quote == "" and plain_ok(s, flow):
        return s
    if quote == "'" and single_ok(s):
        return single(s)
    return double(s)


def number(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:  # YAML 1.1 floats need the dot: 1e-05 -> 1.0e-05
        text = text.replace("e", ".0e", 1)
    return text


def block(s: str, style: str, indent: int, nl: str) -> str | None:
    """``s`` as a block scalar ("|" or ">") whose content lines are indented ``indent``
    spaces, or None when the value does not fit that style (then quote it)."""
    body = s.rstrip("\n")
    if not body or body[0] in " \t\n" or not single_ok(body.replace("\n", " ")):
        return None
    if style == ">" and "\n" in body:
        style = "|"  # folding would need the text rewrapped; a literal keeps every line
    trailing = len(s) - len(body)
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    lines = body.split("\n") + [""] * max(0, trailing - 1)
    pad = " " * indent
    return style + chomp + "".join(nl + (pad + line if line else "") for line in lines)
