"""The text of one XML-RPC element, summarised for every Unmarshaller handler that may read it,
in bounded memory (rpc_xml.py says which handlers those are).

* Strings, booleans and dateTime read the first VALUE_CAP characters; a longer string is a
  marker (rpc_values.long_marker), a longer boolean or dateTime is invalid.
* ``int()``, ``float()`` and ``Decimal()`` accept the same few characters (Unicode digits and
  whitespace, ``_``, signs, ``.``, exponents, inf/nan spellings): one other character and
  none of them can succeed. Up to NUM_CAP characters the text is kept and parsed by the real
  functions; past it, runs of whitespace become one space and runs of digits and underscores
  longer than RUN_CAP one canonical run (invalid runs "__"; valid ones their digits without
  leading zeros, at most RUN_CAP + 1 of them), which none of the three parsers tells apart
  from the original. An int that long has more digits than ``int()`` converts (4300).
* ``base64.decodebytes`` (binascii's non-strict a2b_base64) skips characters outside the
  alphabet, stops at the pad that completes a quantum, and otherwise needs a whole number of
  quanta: its state is the quantum position and the pads seen. The text must be ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from .rpc_values import DECIMAL, FLOAT, SIGNALING_NAN, long_marker

VALUE_CAP: Final = 256
NUM_CAP: Final = 16384
RUN_CAP: Final = 10000
_NOT_NUMERIC: Final = re.compile(r"[^\d\s_+\-.eEiInNfFtTyYaAsS]")
_SPACES: Final = re.compile(r"\s+")
_LONG_RUN: Final = re.compile(r"[\d_]{" + str(RUN_CAP + 1) + ",}")
_VALID_RUN: Final = re.compile(r"\d+(?:_\d+)*")
_NOT_BASE64: Final = bytes(
    c for c in range(256) if not (chr(c).isalnum() and c < 128) and c not in b"+/="
)


def _run_rep(m: re.Match[str]) -> str:
    run = m.group(0)
    if _VALID_RUN.fullmatch(run) is None:
        return "__"
    i = 0
    while i < len(run) and (run[i] == "_" or unicodedata.decimal(run[i], 1) == 0):
        i += 1
    sig = run[i:].replace("_", "")
    if not sig:
        return "0"
    return "1" * (RUN_CAP + 1) if len(sig) > RUN_CAP else sig


class Text:
    def __init__(self, numeric: bool, base64: bool) -> None:
        self.head = ""
        self.length = 0
        self.numeric = numeric
        self.num = ""
        self.num_bad = False
        self.num_compact = False
        self.base64 = base64
        self.b64_ascii = True
        self.b64_quad = 0
        self.b64_pads = 0
        self.b64_done = False

    def add(self, text: str) -> None:
        if self.length <= VALUE_CAP:
            self.head += text[: VALUE_CAP + 1 - len(self.head)]
        self.length += len(text)
        if self.numeric and not self.num_bad:
            self._add_numeric(text)
        if self.base64 and self.b64_ascii:
            self._add_base64(text)

    def _add_numeric(self, text: str) -> None:
        if _NOT_NUMERIC.search(text) is not None:
            self.num_bad = True
            self.num = ""
            return
        num = self.num + text
        if len(num) > NUM_CAP:
            self.num_compact = True
            num = _LONG_RUN.sub(_run_rep, _SPACES.sub(" ", num))
            if len(num) > 3 * (RUN_CAP + 2) + 64:  # more than sign, 3 runs and a few marks
                self.num_bad = True
                num = ""
        self.num = num

    def _add_base64(self, text: str) -> None:
        if not text.isascii():
            self.b64_ascii = False
            return
        if self.b64_done:
            return
        data = text.encode("ascii").translate(None, _NOT_BASE64)
        pos = 0
        while True:
            pad = data.find(b"=", pos)
            run = (len(data) if pad < 0 else pad) - pos
            if run:
                self.b64_pads = 0
                self.b64_quad = (self.b64_quad + run) % 4
            if pad < 0:
                return
            if self.b64_quad >= 2:
                self.b64_pads += 1
                if self.b64_quad + self.b64_pads >= 4:
                    self.b64_done = True
                    return
            pos = pad + 1

    # -- what each handler makes of it ----------------------------------------------

    def string(self) -> str:
        if self.length > VALUE_CAP:
            return long_marker(self.head[:VALUE_CAP].encode("utf-8", "surrogatepass"))
        return self.head

    def head_equals(self, value: str) -> bool:
        return self.length <= VALUE_CAP and self.head == value

    def is_int(self) -> bool:
        if self.num_bad or (self.num_compact and _LONG_RUN.search(self.num) is not None):
            return False
        try:
            int(self.num)
        except ValueError:
            return False
        return True

    def as_double(self) -> object:
        if not self.num_bad:
            try:
                float(self.num)
            except ValueError:
                pass
            else:
                return FLOAT
        raise ValueError("bad double")

    def as_decimal(self) -> object:
        if not self.num_bad:
            try:
                value = Decimal(self.num)
            except (InvalidOperation, ValueError):
                pass
            else:
                return SIGNALING_NAN if value.is_snan() else DECIMAL
        raise ValueError("bad bigdecimal")

    def is_base64(self) -> bool:
        return self.b64_ascii and (self.b64_done or self.b64_quad == 0)

    def is_datetime(self) -> bool:
        if self.length > VALUE_CAP:
            return False
        try:
            datetime.strptime(self.head, "%Y%m%dT%H:%M:%S")
        except ValueError:
            return False
        return True
