"""What the streaming RPC readers keep of a value: the value itself when it is a short string or
a scalar, else its kind (the Python type Odoo would get, and whether it could be a dict key).
Shared by rpc_json.py and rpc_xml.py; the policy in rpc_firewall.py reads them."""

from __future__ import annotations

import unicodedata
from typing import Final


class Kind:
    """A value not kept: only the name of its Python type and whether it hashes."""

    __slots__ = ("hashable", "name")

    def __init__(self, name: str, hashable: bool) -> None:
        self.name = name
        self.hashable = hashable

    def __repr__(self) -> str:
        return f"<{self.name}>"


MISSING: Final = Kind("missing", True)  # a key that never came
DICT: Final = Kind("dict", False)
LIST: Final = Kind("list", False)
FLOAT: Final = Kind("float", True)  # a float whose value is not kept
INT: Final = Kind("int", True)
BOOL: Final = Kind("bool", True)
NONE: Final = Kind("NoneType", True)
BINARY: Final = Kind("Binary", False)  # xmlrpc.client.Binary defines __eq__, not __hash__
DATETIME: Final = Kind("datetime", True)
DECIMAL: Final = Kind("Decimal", True)
SIGNALING_NAN: Final = Kind("Decimal", False)  # hash(Decimal("sNaN")) raises TypeError


# Where a value sits in a JSON-RPC request: what rpc_json.JsonCall.found holds, by index.
S_NONE: Final = 0
S_ROOT: Final = 1
S_ID: Final = 2
S_PARAMS: Final = 3
S_SERVICE: Final = 4
S_METHOD: Final = 5
S_ARGS: Final = 6
S_ARG0: Final = 7
S_DB: Final = 8
TOP_SLOTS: Final = {"id": S_ID, "params": S_PARAMS}
PARAMS_SLOTS: Final = {"service": S_SERVICE, "method": S_METHOD, "args": S_ARGS, "db": S_DB}


def type_name(value: object) -> str:
    return value.name if isinstance(value, Kind) else type(value).__name__


def long_marker(prefix: bytes) -> str:
    """Stands for a string longer than the readers compare: longer than any name it is
    compared with (service, method, database), so it equals none, and still a str."""
    text = prefix.decode("utf-8", "replace")
    return text + "\u2026" * (300 - len(text)) if len(text) < 300 else text + "\u2026"


# ASCII keys fold by lower-casing and dropping controls and spaces (NFKC leaves ASCII alone).
_ASCII_DROP: Final = {c: None for c in (*range(0x21), 0x7F)}


def fold(key: str) -> str:
    """What a lenient parser might make of a key: width, case and invisible characters
    ignored (NFKC, casefold, then no whitespace and no category C)."""
    if key.isascii():
        if key.isprintable() and " " not in key:  # nothing to drop (0x21-0x7e)
            return key.lower()
        return key.lower().translate(_ASCII_DROP)
    folded = unicodedata.normalize("NFKC", key).casefold()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c)[0] != "C")


def visible_part(text: str) -> str:
    """``text`` without whitespace and category C characters: what a long key keeps of
    itself when folded (checked on distinct characters, so cheap for long text)."""
    drop = {ord(c): None for c in set(text) if c.isspace() or unicodedata.category(c)[0] == "C"}
    return text.translate(drop) if drop else text


def fold_matches(key: str, targets: tuple[str, ...]) -> bool:
    """Whether ``key`` folds to one of ``targets`` (the caller has checked it is none of
    them). A long key can only fold to a short ASCII name if nearly all of it is invisible:
    those are dropped first (folding keeps what is dropped here as nothing either)."""
    if len(key) > 64:
        key = visible_part(key)
        if len(key) > 64:
            return False
    return fold(key) in targets
