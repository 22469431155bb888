"""Streaming JSON-RPC reader: accepts what ``json.loads`` accepts and keeps only what the RPC
firewall decides on (rpc_firewall.py holds the policy).

Rules / theory of operation
---------------------------
* The body comes in pieces, split anywhere; ``feed`` reads each as far as it goes and keeps
  only the token in progress: a word (number or literal), a key, or a captured string of at
  most RAW_CAP bytes. A string nobody needs (an attachment's base64 ``datas``) is validated as
  it passes (control characters, escapes) and never kept. Memory is the container stack (one
  frame per level, at most MAX_DEPTH), the keys of the open objects (KEY_CAP characters each;
  a longer key is kept as a 16-byte digest of its decoded text) and the captured values.
* The grammar is Python's (``json.loads`` with ``strict=True``): ``NaN``, ``Infinity`` and
  ``-Infinity`` are values; an int literal with more digits than ``int()`` converts
  (``sys.get_int_max_str_digits()``, 4300) is an error, as ``json.loads`` raises ValueError;
  JSON whitespace only; nesting deeper than MAX_DEPTH is an error (``json.loads`` stops near
  the interpreter's recursion limit, 1000 frames less the caller's; Odoo calls it from some 50
  frames deep, so MAX_DEPTH stays below what Odoo reads).
* Duplicate keys are errors at every depth, compared after decoding (``"a"``, ``"\\u0061"``),
  surrogate pairs joined as ``json`` joins them.
* Captured: the top-level object's ``id`` and ``params``; in ``params``: ``service``, ``method``,
  ``args`` with its first element, and ``db``; the first key at each of those two levels that
  folds to a key of that level without being it (a lookalike, see rpc_firewall._fold).
  Captured strings longer than VALUE_CAP characters are replaced by a longer marker string
  that equals no service, method or database name.
UTF-8 validity and the body's first bytes are checked by the caller (rpc_inspect.py).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import sys
from typing import Final

from .rpc_values import DICT, FLOAT, LIST, MISSING, Kind, fold_matches, long_marker

RAW_CAP: Final = 64 * 1024  # bytes of a key or captured string kept before it is streamed
KEY_CAP: Final = 4096  # decoded characters of a key kept as text; longer ones as a digest
VALUE_CAP: Final = 256  # characters of a captured string compared; longer: a marker
WORD_CAP: Final = 64 * 1024  # bytes of a number kept before it is compacted
MAX_DEPTH: Final = 900

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
_SIMPLE_ESCAPES: Final = {
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

# What comes next.
_VALUE: Final = 0
_VALUE_OR_CLOSE: Final = 1  # after "["
_KEY_OR_CLOSE: Final = 2  # after "{"
_KEY: Final = 3  # after "," in an object
_COLON: Final = 4
_COMMA_OR_CLOSE: Final = 5
_END: Final = 6  # the top-level value is complete

# Frame roles and value slots: where a container or value sits in a JSON-RPC request.
R_TOP: Final = 1
R_PARAMS: Final = 2
R_ARGS: Final = 3
R_OTHER: Final = 4
S_NONE: Final = 0
S_ROOT: Final = 1
S_ID: Final = 2
S_PARAMS: Final = 3
S_SERVICE: Final = 4
S_METHOD: Final = 5
S_ARGS: Final = 6
S_ARG0: Final = 7
S_DB: Final = 8
_TOP_SLOTS: Final = {"id": S_ID, "params": S_PARAMS}
_PARAMS_SLOTS: Final = {"service": S_SERVICE, "method": S_METHOD, "args": S_ARGS, "db": S_DB}

# What a string being read is for.
_SKIP: Final = 0
_KEYSTR: Final = 1
_CAPTURE: Final = 2


class JsonError(Exception):
    """The body is not what json.loads accepts (the firewall answers 400)."""

    def __init__(self, reason: str, message: str = "the body is not valid JSON") -> None:
        super().__init__(reason)
        self.message = message  # for the client, as the whole-body parser words it


class _LongText:
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
                self._text(_SIMPLE_ESCAPES[m.group(2)[0]])
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


class JsonCall:
    """One JSON-RPC body read incrementally; ``error`` is set at the first fault."""

    def __init__(self, params_keys: tuple[str, ...]) -> None:
        self.params_keys = params_keys  # the keys a lookalike in params is checked against
        self.error: str | None = None
        self.error_message = ""
        self.want = _VALUE
        self.tail = b""  # an escape or word cut by the end of a piece
        # Frames: parallel lists, one entry per open container.
        self.is_object: list[bool] = []
        self.roles: list[int] = []
        self.keysets: list[set[object]] = []
        # The first duplicate key of each open object: json's object_pairs_hook refuses it
        # when the object closes, so inner objects and syntax errors come first.
        self.duplicates: list[str | None] = []
        self.slot = S_ROOT  # the slot of the next value
        # The string being read.
        self.in_string = False
        self.str_use = _SKIP
        self.str_slot = S_NONE
        self.raw = bytearray()
        self.long: _LongText | None = None
        self.long_capture = False  # a captured string went past RAW_CAP
        # A word (number or literal) being read.
        self.word: bytearray | None = None
        self.word_long = False
        # What the firewall decides on (MISSING: absent).
        self.root: object = MISSING
        self.request_id: object = None
        self.params: object = MISSING
        self.service: object = MISSING
        self.method: object = MISSING
        self.args: object = MISSING
        self.arg0: object = MISSING
        self.db: object = MISSING
        self.lookalike_top: str | None = None
        self.lookalike_params: str | None = None

    # -- feeding ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        if self.tail:
            data = self.tail + data
            self.tail = b""
        try:
            self._run(data)
        except JsonError as exc:
            self._failed(exc)
        except (UnicodeDecodeError, ValueError) as err:  # a key or captured value
            self._failed(JsonError(str(err)))

    def _failed(self, exc: JsonError) -> None:
        self.error = str(exc)[:120]
        self.error_message = exc.message

    def close(self) -> None:
        if self.error is not None:
            return
        try:
            if self.in_string or self.tail:
                raise JsonError("unterminated string")
            if self.word is not None:
                self._word_done(bytes(self.word))
            if self.want != _END:
                raise JsonError("the JSON text ends early")
        except JsonError as exc:
            self._failed(exc)

    def _run(self, buf: bytes) -> None:
        n = len(buf)
        pos = 0
        if self.in_string:
            pos = self._string(buf, 0)
            if pos < 0:
                return
        elif self.word is not None:
            end = _word_end(buf, 0)
            self._word_more(buf, end)
            if end == n:
                return
            word = bytes(self.word)
            self._word_done(word)
            pos = end
        while pos < n:
            c = buf[pos]
            if c == 32 or c == 10 or c == 13 or c == 9:
                pos += 1
                continue
            want = self.want
            if want == _COMMA_OR_CLOSE:
                pos += 1
                if c == 44:  # ","
                    self.want = _KEY if self.is_object[-1] else _VALUE
                    if not self.is_object[-1]:
                        self.slot = S_NONE
                elif c == (125 if self.is_object[-1] else 93):
                    self._close_container()
                else:
                    raise JsonError("expecting ',' or the end of the container")
            elif want == _COLON:
                if c != 58:
                    raise JsonError("expecting ':'")
                pos += 1
                self.want = _VALUE
            elif want in (_KEY, _KEY_OR_CLOSE):
                if c == 34:
                    end = _simple_string_end(buf, pos + 1)
                    if end >= 0:  # the common case: no escape, all in this piece
                        self._key_done(buf[pos + 1 : end].decode("utf-8"))
                        pos = end + 1
                        continue
                    self._open_string(_KEYSTR, S_NONE)
                    pos = self._string(buf, pos + 1)
                    if pos < 0:
                        return
                elif c == 125 and want == _KEY_OR_CLOSE:
                    pos += 1
                    self._close_container()
                else:
                    raise JsonError("expecting a key")
            elif want == _END:
                raise JsonError("extra data after the JSON value")
            elif c == 93 and want == _VALUE_OR_CLOSE:
                pos += 1
                self._close_container()
            elif c == 123 or c == 91:
                pos += 1
                self._open_container(c == 123)
            elif c == 34:
                slot = self.slot
                end = _simple_string_end(buf, pos + 1)
                if end >= 0:
                    if slot != S_NONE:
                        self._captured(slot, buf[pos + 1 : end], False)
                    self._value_done()
                    pos = end + 1
                    continue
                self._open_string(_CAPTURE if slot != S_NONE else _SKIP, slot)
                pos = self._string(buf, pos + 1)
                if pos < 0:
                    return
            else:
                end = _word_end(buf, pos)
                if end == pos:
                    raise JsonError("expecting a value")
                if end == n:
                    self.word = bytearray()
                    self.word_long = False
                    self._word_more(buf[pos:], end - pos)
                    return
                self._word_done(buf[pos:end])
                pos = end

    # -- containers -----------------------------------------------------------------

    def _open_container(self, is_object: bool) -> None:
        if len(self.roles) >= MAX_DEPTH:
            raise JsonError("json too deep", "the JSON body is nested too deeply")
        slot = self.slot
        kind = DICT if is_object else LIST
        role = R_OTHER
        if slot != S_NONE:
            if slot == S_ROOT and is_object:
                role = R_TOP
            elif slot == S_PARAMS and is_object:
                role = R_PARAMS
            elif slot == S_ARGS and not is_object:
                role = R_ARGS
            self._store(slot, kind)
        self.is_object.append(is_object)
        self.roles.append(role)
        self.keysets.append(set())
        self.duplicates.append(None)
        if is_object:
            self.want = _KEY_OR_CLOSE
        else:
            self.want = _VALUE_OR_CLOSE
            self.slot = S_ARG0 if role == R_ARGS else S_NONE

    def _close_container(self) -> None:
        duplicate = self.duplicates.pop()
        if duplicate is not None:
            raise JsonError(
                f"duplicate key {duplicate:.40}",
                f"duplicate key {duplicate:.40} in a JSON object",
            )
        self.is_object.pop()
        self.roles.pop()
        self.keysets.pop()
        self._value_done()

    def _value_done(self) -> None:
        if self.roles:
            self.want = _COMMA_OR_CLOSE
            self.slot = S_NONE
        else:
            self.want = _END

    def _store(self, slot: int, value: object) -> None:
        if slot == S_ROOT:
            self.root = value
        elif slot == S_ID:
            self.request_id = value
        elif slot == S_PARAMS:
            self.params = value
        elif slot == S_SERVICE:
            self.service = value
        elif slot == S_METHOD:
            self.method = value
        elif slot == S_ARGS:
            self.args = value
        elif slot == S_ARG0:
            self.arg0 = value
        elif slot == S_DB:
            self.db = value

    # -- strings --------------------------------------------------------------------

    def _open_string(self, use: int, slot: int) -> None:
        self.in_string = True
        self.str_use = use
        self.str_slot = slot
        self.long = None
        self.long_capture = False
        if use != _SKIP:
            self.raw = bytearray()

    def _string(self, buf: bytes, pos: int) -> int:
        """Read string content from pos: the index after the closing quote, or -1 when the
        piece ended inside the string (an escape cut at its end is kept in ``tail``)."""
        n = len(buf)
        start = pos
        while True:
            i = _special(buf, pos, n)
            if i < 0:
                self._collect(buf, start, n)
                return -1
            c = buf[i]
            if c == 34:
                self._collect(buf, start, i)
                self._string_done()
                return i + 1
            if c != 92:
                raise JsonError("invalid control character in a string")
            if i + 1 >= n:
                self._collect(buf, start, i)
                self.tail = buf[i:]
                return -1
            e = buf[i + 1]
            if e == 117:  # \uXXXX
                if i + 6 > n:
                    self._collect(buf, start, i)
                    self.tail = buf[i:]
                    return -1
                if _HEX4.fullmatch(buf, i + 2, i + 6) is None:
                    raise JsonError("invalid \\uXXXX escape")
                pos = i + 6
            elif e in _SIMPLE_ESCAPES:
                pos = i + 2
            else:
                raise JsonError("invalid \\escape")

    def _collect(self, buf: bytes, start: int, end: int) -> None:
        use = self.str_use
        if use == _SKIP or start == end:
            return
        if self.long is not None:
            self.long.feed(buf[start:end])
            return
        if self.long_capture:
            return
        if len(self.raw) + (end - start) <= RAW_CAP:
            self.raw += buf[start:end]
            return
        if use == _CAPTURE:
            self.long_capture = True
            return
        role = self.roles[-1]
        self.long = _LongText(role in (R_TOP, R_PARAMS))
        self.long.feed(bytes(self.raw))
        self.long.feed(buf[start:end])
        self.raw = bytearray()

    def _string_done(self) -> None:
        self.in_string = False
        use = self.str_use
        if use == _SKIP:
            self._value_done()
            return
        if use == _CAPTURE:
            self._captured(self.str_slot, bytes(self.raw), self.long_capture)
            self._value_done()
            return
        if self.long is not None:
            self._key_done("")
        else:
            self._key_done(_decode(bytes(self.raw)))

    def _captured(self, slot: int, raw: bytes, long: bool) -> None:
        """A captured string's value: raw is its content (the first RAW_CAP bytes if long)."""
        value: object
        if long:
            value = long_marker(raw[:VALUE_CAP])
            if slot == S_ID:
                value = None  # an id this long is not echoed
        else:
            text = _decode(raw)
            value = text
            if slot != S_ID and len(text) > VALUE_CAP:
                value = long_marker(raw[:VALUE_CAP])
        self._store(slot, value)

    def _key_done(self, key: str) -> None:
        """A key was read: ``key`` decoded, or in ``self.long`` when it went past RAW_CAP."""
        role = self.roles[-1]
        ident: object
        long = self.long
        if long is not None:
            ident = long.key()
            self.long = None
            lookalike = not long.too_visible and fold_matches(long.visible, self._targets(role))
        else:
            ident = key if len(key) <= KEY_CAP else _digest(key)
            lookalike = False
            if role in (R_TOP, R_PARAMS):
                targets = self._targets(role)
                lookalike = key not in targets and fold_matches(key, targets)
        keys = self.keysets[-1]
        if ident in keys:
            if self.duplicates[-1] is None:
                shown = key if long is None else long.prefix
                self.duplicates[-1] = repr(shown)
        else:
            keys.add(ident)
        if lookalike:
            shown = key if long is None else long.prefix
            if role == R_TOP and self.lookalike_top is None:
                self.lookalike_top = shown
            elif role == R_PARAMS and self.lookalike_params is None:
                self.lookalike_params = shown
        slot = S_NONE
        if role == R_TOP:
            slot = _TOP_SLOTS.get(key, S_NONE)
        elif role == R_PARAMS:
            slot = _PARAMS_SLOTS.get(key, S_NONE)
        self.slot = slot
        self.want = _COLON

    def _targets(self, role: int) -> tuple[str, ...]:
        return ("params",) if role == R_TOP else self.params_keys

    # -- words: numbers and literals -------------------------------------------------

    def _word_more(self, buf: bytes, end: int) -> None:
        word = self.word
        assert word is not None
        word += buf[:end]
        if len(word) > WORD_CAP:
            self.word = bytearray(_RUN.sub(rb"\g<1>1", word))
            self.word_long = True

    def _word_done(self, word: bytes) -> None:
        long = self.word_long
        self.word = None
        self.word_long = False
        literal = _LITERALS.get(word, MISSING)
        value: object
        if literal is not MISSING:
            value = literal
        else:
            m = _NUMBER.fullmatch(word)
            if m is None:
                raise JsonError("expecting a value")
            if m.group(1) is None and m.group(2) is None:
                digits = len(word) - (word[0] == 45)
                # int() takes any int up to 640 digits (the limit's floor): no look-up below.
                limit = sys.get_int_max_str_digits() if digits > 640 or long else 0
                if long or (limit and digits > limit):
                    raise JsonError("an integer with too many digits")
                value = int(word) if self.slot != S_NONE else 0
            else:
                value = FLOAT if long else float(word)
        if self.slot != S_NONE:
            self._store(self.slot, value)
        self._value_done()


def _special(buf: bytes, pos: int, n: int) -> int:
    """The first quote, backslash or control character in buf[pos:n], -1 if none."""
    quote = buf.find(b'"', pos, n)
    end = n if quote < 0 else quote
    if end - pos < _LONG_SPAN:
        m = _SPECIAL.search(buf, pos, end)
        return quote if m is None else m.start()
    stop = buf[pos:end].translate(_STOPS).find(b"\x00")
    return quote if stop < 0 else pos + stop


def _simple_string_end(buf: bytes, start: int) -> int:
    """Where the string whose content starts at ``start`` closes, if it has no escape and
    closes within buf; else -1 (a control character is found again by the long path)."""
    end = _special(buf, start, len(buf))
    return end if end >= 0 and buf[end] == 34 else -1


def _word_end(buf: bytes, pos: int) -> int:
    m = _WORD.match(buf, pos)
    assert m is not None  # the pattern matches the empty word
    return m.end()


def _decode(raw: bytes) -> str:
    """The string's value as json decodes it (raw is validated string content)."""
    if b"\\" not in raw:
        return raw.decode("utf-8")
    value = json.loads(b'"' + raw + b'"')
    assert isinstance(value, str)
    return value


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


__all__ = ["JsonCall", "JsonError", "Kind"]
