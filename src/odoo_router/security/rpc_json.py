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
* The grammar is Python's (``json.loads``, strict; tokens in rpc_json_lex.py), JSON
  whitespace only. Nesting deeper than MAX_DEPTH is an error: ``json.loads`` stops near the
  interpreter's recursion limit less its caller's frames (Odoo's some 50), so below it.
* Duplicate keys are errors at every depth, compared after decoding (``"a"``, ``"\\u0061"``),
  surrogate pairs joined as ``json`` joins them.
* Captured (``found``, by slot): the top-level object's ``id`` and ``params``; in ``params``:
  ``service``, ``method``, ``args`` with its first element, ``db``; and the first key at each
  of those two levels that folds to one of its names without being it (a lookalike).
UTF-8 validity and the body's first bytes are checked by the caller (rpc_inspect.py).
"""

from __future__ import annotations

from typing import Final

from .rpc_json_lex import (
    KEY_CAP,
    RAW_CAP,
    WORD_CAP,
    JsonError,
    LongText,
    captured,
    compact_word,
    decode,
    digest,
    escape_end,
    simple_string_end,
    special,
    word_end,
    word_value,
)
from .rpc_values import (
    DICT,
    LIST,
    MISSING,
    PARAMS_SLOTS,
    S_ARG0,
    S_ARGS,
    S_DB,
    S_ID,
    S_NONE,
    S_PARAMS,
    S_ROOT,
    TOP_SLOTS,
    fold_matches,
)

MAX_DEPTH: Final = 900

# What comes next.
_VALUE: Final = 0
_VALUE_OR_CLOSE: Final = 1  # after "["
_KEY_OR_CLOSE: Final = 2  # after "{"
_KEY: Final = 3  # after "," in an object
_COLON: Final = 4
_COMMA_OR_CLOSE: Final = 5
_END: Final = 6  # the top-level value is complete

# Frame roles: where a container sits in a JSON-RPC request (value slots: rpc_values.py).
R_TOP: Final = 1
R_PARAMS: Final = 2
R_ARGS: Final = 3
R_OTHER: Final = 4
# What a string being read is for.
_SKIP: Final = 0
_KEYSTR: Final = 1
_CAPTURE: Final = 2


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
        self.long: LongText | None = None
        self.long_capture = False  # a captured string went past RAW_CAP
        # A word (number or literal) being read.
        self.word: bytearray | None = None
        self.word_long = False
        # What the firewall decides on, by slot (MISSING: absent; the id defaults to null).
        self.found: list[object] = [MISSING] * (S_DB + 1)
        self.found[S_ID] = None
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
            end = word_end(buf, 0)
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
                    end = simple_string_end(buf, pos + 1)
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
                end = simple_string_end(buf, pos + 1)
                if end >= 0:
                    if slot != S_NONE:
                        self.found[slot] = captured(buf[pos + 1 : end], False, slot == S_ID)
                    self._value_done()
                    pos = end + 1
                    continue
                self._open_string(_CAPTURE if slot != S_NONE else _SKIP, slot)
                pos = self._string(buf, pos + 1)
                if pos < 0:
                    return
            else:
                end = word_end(buf, pos)
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
            self.found[slot] = kind
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
            i = special(buf, pos, n)
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
            pos = escape_end(buf, i)
            if pos < 0:  # cut by the end of the piece: read again with the next one
                self._collect(buf, start, i)
                self.tail = buf[i:]
                return -1

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
        self.long = LongText(role in (R_TOP, R_PARAMS))
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
            raw = bytes(self.raw)
            self.found[self.str_slot] = captured(raw, self.long_capture, self.str_slot == S_ID)
            self._value_done()
            return
        if self.long is not None:
            self._key_done("")
        else:
            self._key_done(decode(bytes(self.raw)))

    def _key_done(self, key: str) -> None:
        """A key was read: ``key`` decoded, or in ``self.long`` when it went past RAW_CAP."""
        role = self.roles[-1]
        targets = ("params",) if role == R_TOP else self.params_keys
        ident: object
        long = self.long
        if long is not None:
            ident = long.key()
            self.long = None
            lookalike = not long.too_visible and fold_matches(long.visible, targets)
        else:
            ident = key if len(key) <= KEY_CAP else digest(key)
            lookalike = False
            if role in (R_TOP, R_PARAMS):
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
            slot = TOP_SLOTS.get(key, S_NONE)
        elif role == R_PARAMS:
            slot = PARAMS_SLOTS.get(key, S_NONE)
        self.slot = slot
        self.want = _COLON

    # -- words: numbers and literals -------------------------------------------------

    def _word_more(self, buf: bytes, end: int) -> None:
        word = self.word
        assert word is not None
        word += buf[:end]
        if len(word) > WORD_CAP:
            self.word, self.word_long = compact_word(word), True

    def _word_done(self, word: bytes) -> None:
        value = word_value(word, self.word_long, self.slot != S_NONE)
        self.word = None
        self.word_long = False
        if self.slot != S_NONE:
            self.found[self.slot] = value
        self._value_done()
