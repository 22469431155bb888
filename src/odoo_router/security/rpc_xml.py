"""Streaming XML-RPC reader: what ``xmlrpc.client.loads`` makes of a call, without the values.

Rules / theory of operation
---------------------------
Odoo runs ``xmlrpc.client.loads``: expat events drive the standard ``Unmarshaller``. We drive
the same expat parser (defusedxml's, so any DTD, entity declaration or external reference
stops it) with ``XmlCall``, a copy of the Unmarshaller's rules that keeps summaries instead of
values, fed as the body arrives:

* Text accumulates from one start tag to the next, and every end tag in between hands all of
  it to that tag's handler (``<string>a<i4>1</i4>b</string>`` appends the int 1, then the
  string "1b"). So the text is summarised for every handler that can still read it: the
  element just started and its open ancestors. The summary keeps the first VALUE_CAP
  characters (strings, booleans, dateTime) and, where an int, double, bigdecimal or base64
  element is open, the state of those parses (rpc_xml_text.py), never the whole text.
* The value stack is flat with marks, as the Unmarshaller's: top-level values are counted and
  the first kept (the database argument); inside an array or struct only the count and, for a
  struct, whether a key is unhashable (``dict[key]`` raises) are kept.
* Errors raise where the Unmarshaller would raise (unknown tag inside ``<value>``, bad
  boolean, int, double, bigdecimal, base64 or dateTime, odd or unhashable struct items), so a
  body is refused exactly when ``loads`` raises. Memory: the open elements (expat keeps them
  too) and the marks.
"""

from __future__ import annotations

from typing import Final

from defusedxml.xmlrpc import (
    DefusedExpatParser,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from .rpc_values import BINARY, BOOL, DATETIME, DICT, INT, LIST, MISSING, NONE, Kind
from .rpc_xml_text import Text

# Element kinds: the Unmarshaller's dispatch table, by local name.
K_OTHER: Final = 0
K_NIL: Final = 1
K_BOOL: Final = 2
K_INT: Final = 3
K_DOUBLE: Final = 4
K_DECIMAL: Final = 5
K_STRING: Final = 6
K_ARRAY: Final = 7
K_STRUCT: Final = 8
K_BASE64: Final = 9
K_DATETIME: Final = 10
K_VALUE: Final = 11
K_PARAMS: Final = 12
K_FAULT: Final = 13
K_METHOD: Final = 14
_KINDS: Final = {
    "nil": K_NIL,
    "boolean": K_BOOL,
    "i1": K_INT,
    "i2": K_INT,
    "i4": K_INT,
    "i8": K_INT,
    "int": K_INT,
    "biginteger": K_INT,
    "double": K_DOUBLE,
    "float": K_DOUBLE,
    "bigdecimal": K_DECIMAL,
    "string": K_STRING,
    "name": K_STRING,
    "array": K_ARRAY,
    "struct": K_STRUCT,
    "base64": K_BASE64,
    "dateTime.iso8601": K_DATETIME,
    "value": K_VALUE,
    "params": K_PARAMS,
    "fault": K_FAULT,
    "methodName": K_METHOD,
}
_NUMERIC: Final = (K_INT, K_DOUBLE, K_DECIMAL)
FAULT: Final = Kind("dict", False)  # a struct Fault(**struct) accepts


class XmlError(Exception):
    """What the Unmarshaller would raise: the firewall answers 400."""


class BadCharset(Exception):
    """An XML declaration naming an encoding we do not read, or not the HTTP charset."""


def _hashable(value: object) -> bool:
    return value.hashable if isinstance(value, Kind) else True


class XmlCall:
    """One XML-RPC call read incrementally; ``error`` (and ``bad_charset``) at the first fault."""

    def __init__(self, http_charset: str | None, charsets: dict[str, str]) -> None:
        self.http_charset = http_charset
        self.charsets = charsets
        self.error: str | None = None
        self.bad_charset: str | None = None
        self.dtd = False  # a DTD, entity declaration or external reference stopped it
        self.type = ""  # "", "params", "fault" or "methodName": the Unmarshaller's _type
        self.value_open = False  # the Unmarshaller's _value
        self.method: str | None = None
        self.first: object = MISSING  # the first top-level value: the database argument
        self.count = 0  # top-level values
        self.frame_counts: list[int] = []  # per open array/struct: its items
        self.frame_bad: list[bool] = []  # per open struct: an unhashable key seen
        # Per open struct, what Fault(**struct) needs: 1 faultCode, 2 faultString, 4 no
        # key that is not a str. A fault body is "a fault", not just malformed, with all three.
        self.frame_fault: list[int] = []
        self.fault = False  # a well-formed fault: close() raised Fault(**params[0])
        self.open: list[int] = []  # kinds of the open elements
        self.numeric_open = 0
        self.base64_open = 0
        self.text = Text(False, False)
        parser = DefusedExpatParser(self, forbid_dtd=True)
        expat = parser._parser
        expat.XmlDeclHandler = self._declaration
        expat.buffer_text = True  # one data() call per text run, not per line
        expat.buffer_size = 64 * 1024
        self.parser = parser

    def feed(self, data: bytes) -> None:
        if self.error is None:
            try:
                self.parser.feed(data)
            except BaseException as exc:
                self._failed(exc)

    def close(self) -> None:
        if self.error is not None:
            return
        try:
            self.parser.close()
            if not self.type or self.frame_counts:
                raise XmlError("not a complete call")
            if self.type == "fault":
                self.fault = self.first is FAULT
                raise XmlError("a fault is not a call")
        except BaseException as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise exc
        if isinstance(exc, BadCharset):
            self.bad_charset = str(exc.args[0])
        elif isinstance(exc, (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden)):
            self.dtd = True
            self.error = type(exc).__name__
            return
        self.error = f"{type(exc).__name__}: {exc}"[:120]

    # -- expat's handlers (the Unmarshaller's interface) --------------------------------

    def _declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding is None:
            return
        declared = self.charsets.get(encoding.lower())
        if declared is None or (self.http_charset is not None and declared != self.http_charset):
            raise BadCharset(encoding)

    def xml(self, encoding: str | None, standalone: object) -> None:
        pass  # ExpatParser passes None: the Unmarshaller then decodes nothing

    def start(self, tag: str, attrs: object) -> None:
        if ":" in tag:
            tag = tag.split(":")[-1]
        kind = _KINDS.get(tag, K_OTHER)
        if kind in (K_ARRAY, K_STRUCT):
            self.frame_counts.append(0)
            self.frame_bad.append(False)
            self.frame_fault.append(4)
        if self.value_open and kind == K_OTHER:
            raise XmlError(f"unknown tag {tag!r:.40}")
        self.value_open = kind == K_VALUE
        numeric = kind in _NUMERIC
        self.text = Text(numeric or self.numeric_open > 0, kind == K_BASE64 or self.base64_open > 0)
        self.open.append(kind)
        if numeric:
            self.numeric_open += 1
        elif kind == K_BASE64:
            self.base64_open += 1

    def data(self, text: str) -> None:
        self.text.add(text)

    def end(self, tag: str) -> None:
        kind = self.open.pop()
        if kind in _NUMERIC:
            self.numeric_open -= 1
        elif kind == K_BASE64:
            self.base64_open -= 1
        if kind == K_OTHER:
            return
        text = self.text
        if kind == K_STRING:
            self._append(text.string())
        elif kind == K_VALUE:
            if self.value_open:
                self._append(text.string())
        elif kind == K_INT:
            if not text.is_int():
                raise XmlError("bad int")
            self._append(INT)
        elif kind == K_DOUBLE:
            self._append(text.as_double())
        elif kind == K_DECIMAL:
            self._append(text.as_decimal())
        elif kind == K_BOOL:
            if text.head_equals("0") or text.head_equals("1"):
                self._append(BOOL)
            else:
                raise XmlError("bad boolean value")
        elif kind == K_NIL:
            self._append(NONE)
        elif kind == K_BASE64:
            if not text.is_base64():
                raise XmlError("bad base64")
            self._append(BINARY)
        elif kind == K_DATETIME:
            if not text.is_datetime():
                raise XmlError("bad dateTime")
            self._append(DATETIME)
            return  # end_dateTime leaves _value as it was
        elif kind == K_ARRAY:
            self.frame_counts.pop()
            self.frame_bad.pop()
            self.frame_fault.pop()
            self._append(LIST)
        elif kind == K_STRUCT:
            items = self.frame_counts.pop()
            fault = self.frame_fault.pop()
            if self.frame_bad.pop():
                raise XmlError("unhashable struct key")
            if items % 2:
                raise XmlError("struct with an odd number of items")
            self._append(FAULT if fault == 7 else DICT)
        elif kind == K_PARAMS:
            self.type = "params"
            return
        elif kind == K_FAULT:
            self.type = "fault"
            return
        elif kind == K_METHOD:
            self.method = text.string()
            self.type = "methodName"
            return
        self.value_open = False

    def _append(self, value: object) -> None:
        counts = self.frame_counts
        if counts:
            i = len(counts) - 1
            n = counts[i]
            if n % 2 == 0:
                if not _hashable(value):
                    self.frame_bad[i] = True
                if not isinstance(value, str):
                    self.frame_fault[i] &= 3
                elif value == "faultCode":
                    self.frame_fault[i] |= 1
                elif value == "faultString":
                    self.frame_fault[i] |= 2
            counts[i] = n + 1
            return
        if self.count == 0:
            self.first = value
        self.count += 1
