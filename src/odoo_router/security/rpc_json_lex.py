"""The lexical layer of the streaming JSON reader (rpc_json.py): string content, words
(numbers and literals) and long keys, each checked as ``json.loads`` (strict) checks them.

* String content: a quote ends it, a backslash starts an escape (``\\"``, ``\\\\``, ``\\/``,
  ``\\b``, ``\\f``, ``\\n``, ``\\r``, ``\\t`` or ``\\u`` and four hex digits), a control
  character (below 0x20) is an error. Long runs are found with memchr and translate.
* Words: maximal runs of ``[A-Za-z0-9+-.]``; after a value JSON allows only whitespace, a comma
  or a bracket, so a run is one token and valid only as a literal (``true``, ``false``,
  ``null``, ``NaN``, ``Infinity``, ``-Infinity``) or a number of json's grammar. An int past
  ``sys.get_int_max_str_digits()`` digits is an error, as ``int()`` raises. A word past
  WORD_CAP is compacted (every digit run to two digits, its first kept: the grammar reads the
  same); an int that long is an error whatever its digits, a float is valid.
* A key past RAW_CAP bytes is decoded as it passes into a 16-byte digest (``LongText``):
  escapes and surrogate pairs as json joins them, so two spellings of one key get one digest.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import sys
from typing import Final

from .rpc_values import FLOAT, MISSING, long_marker

RAW_CAP: Final = 64 * 1024  # bytes of a key or captured string kept before it is streamed
VALUE_CAP: Final = 256  # characters of a captured string compared; longer: a marker
KEY_CAP: Final = 4096  # decoded characters of a key kept as text; longer ones as a digest
WORD_CAP: Final = 64 * 1024  # bytes of a number kept before it is compacted

_SPECIAL: Final = re.compile(rb'["\\\x00-\x1f]')
# Control characters and backslash to 0, the rest to 1: long string content is checked with
# memchr and translate, some 3x faster than the regex's per-byte class test.
_STOPS: Final = bytes(0 if b < 0x20 or b == 0x5C else 1 for b in range(256))
_LONG_SPAN: Final = 256
_WORD: Final = re.compile(rb"[A-Za-z0-9+\-.]*")
_NUMBER: Final = re.compile(rb"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_HEX4: Final = re.compile(rb"[0-9a-fA-F]{4}")
_RUN: Final = re.compile(rb"([0-9])[0-9]{2,}")  # a digit run, compacted to 2 digits
_ESCAPE: Final = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|(.))", re.S)
SIMPLE_ESCAPES: Final = {
    ord('"'): '"',
    ord("\\"): "\\",
    ord("/"): "/",
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
}
_LITERALS: Final[dict[bytes, object]] = {
    b"true": True,
    b"false": False,
    b"null": None,
    b"NaN": float("nan"),
    b"Infinity": float("inf"),
    b"-Infinity": float("-inf"),
}


class JsonError(Exception):
    """The body is not what json.loads accepts (the firewall answers 400)."""

    def __init__(self, reason: str, message: str = "the body is not valid JSON") -> None:
        super().__init__(reason)
        self.message = message  # for the client, as the whole-body parser words it


class LongText:
    """A key or string past RAW_CAP: decoded as json would, into a digest, never kept."""

    def __init__(self, track_fold: bool) -> None:
        self.digest = hashlib.blake2b(digest_size=16)
        self.high = -1  # a high surrogate from an escape, waiting for its low half
        self.track_fold = track_fold
        self.visible = ""  # what survives folding, while it could still be a short key
        self.too_visible = False
        self.prefix = ""  # the first characters, for messages
        # Raw text between escapes: a piece may end inside a multi-byte character.
        self.utf8 = codecs.getincrementaldecoder("utf-8")("strict")

    def feed(self, raw: bytes) -> None:
        """Complete escapes only: the reader never cuts one."""
        pos = 0
        for m in _ESCAPE.finditer(raw):
            if m.start() > pos:
                self._text(self.utf8.decode(raw[pos : m.start()]))
            pos = m.end()
            hexa = m.group(1)
            if hexa is None:
                self._text(SIMPLE_ESCAPES[m.group(2)[0]])
                continue
            code = int(hexa, 16)
            if self.high >= 0 and 0xDC00 <= code <= 0xDFFF:
                joined = 0x10000 + ((self.high - 0xD800) << 10) + (code - 0xDC00)
                self.high = -1
                self._emit(chr(joined))
            elif 0xD800 <= code <= 0xDBFF:
                self._flush()
                self.high = code
            else:
                self._text(chr(code))
        if pos < len(raw):
            self._text(self.utf8.decode(raw[pos:]))

    def _text(self, text: str) -> None:
        self._flush()
        self._emit(text)

    def _flush(self) -> None:
        if self.high >= 0:
            self._emit(chr(self.high))
            self.high = -1

    def _emit(self, text: str) -> None:
        if len(self.prefix) < 64:
            self.prefix += text[:64]
        self.digest.update(text.encode("utf-8", "surrogatepass"))
        if self.track_fold and not self.too_visible:
            from .rpc_values import visible_part

            self.visible += visible_part(text)
            self.too_visible = len(self.visible) > 64

    def key(self) -> bytes:
        self.utf8.decode(b"", True)  # raises on a character left unfinished
        self._flush()
        return self.digest.digest()


def escape_end(buf: bytes, i: int) -> int:
    """Where the escape at buf[i] (a backslash) ends; -1 when buf ends before it does."""
    n = len(buf)
    if i + 1 >= n:
        return -1
    e = buf[i + 1]
    if e == 117:  # \uXXXX
        if i + 6 > n:
            return -1
        if _HEX4.fullmatch(buf, i + 2, i + 6) is None:
            raise JsonError("invalid \\uXXXX escape")
        return i + 6
    if e in SIMPLE_ESCAPES:
        return i + 2
    raise JsonError("invalid \\escape")


def captured(raw: bytes, long: bool, is_id: bool) -> object:
    """A captured string's value from its content (the first RAW_CAP bytes if ``long``):
    past VALUE_CAP characters a marker equal to no name, or for an id null (not echoed)."""
    if long:
        return None if is_id else long_marker(raw[:VALUE_CAP])
    text = decode(raw)
    if not is_id and len(text) > VALUE_CAP:
        return long_marker(raw[:VALUE_CAP])
    return text


def compact_word(word: bytearray) -> bytearray:
    """A long word with every digit run cut to its first digit and one more."""
    return bytearray(_RUN.sub(rb"\g<1>1", word))


def word_value(word: bytes, long: bool, wanted: bool) -> object:
    """The value of a complete word (``long``: compacted), JsonError if json refuses it;
    ints are only converted when ``wanted``."""
    literal = _LITERALS.get(word, MISSING)
    if literal is not MISSING:
        return literal
    m = _NUMBER.fullmatch(word)
    if m is None:
        raise JsonError("expecting a value")
    if m.group(1) is None and m.group(2) is None:
        digits = len(word) - (word[0] == 45)
        # int() takes any int up to 640 digits (the limit's floor): no look-up below.
        limit = sys.get_int_max_str_digits() if digits > 640 or long else 0
        if long or (limit and digits > limit):
            raise JsonError("an integer with too many digits")
        return int(word) if wanted else 0
    return FLOAT if long else float(word)


def special(buf: bytes, pos: int, n: int) -> int:
    """The first quote, backslash or control character in buf[pos:n], -1 if none."""
    quote = buf.find(b'"', pos, n)
    end = n if quote < 0 else quote
    if end - pos < _LONG_SPAN:
        m = _SPECIAL.search(buf, pos, end)
        return quote if m is None else m.start()
    stop = buf[pos:end].translate(_STOPS).find(b"\x00")
    return quote if stop < 0 else pos + stop


def simple_string_end(buf: bytes, start: int) -> int:
    """Where the string whose content starts at ``start`` closes, if it has no escape and
    closes within buf; else -1 (a control character is found again by the long path)."""
    end = special(buf, start, len(buf))
    return end if end >= 0 and buf[end] == 34 else -1


def word_end(buf: bytes, pos: int) -> int:
    m = _WORD.match(buf, pos)
    assert m is not None  # the pattern matches the empty word
    return m.end()


def decode(raw: bytes) -> str:
    """The string's value as json decodes it (raw is validated string content)."""
    if b"\\" not in raw:
        return raw.decode("utf-8")
    value = json.loads(b'"' + raw + b'"')
    assert isinstance(value, str)
    return value


def digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
