"""Random RPC requests for the differential test: valid calls, their mutations and the odd
forms a parser differential hides in (test_rpc_differential.py)."""

from __future__ import annotations

import base64
import gzip
import json
import random
import xmlrpc.client
import zlib
from dataclasses import dataclass
from datetime import datetime

TENANT = "ten_a"


@dataclass
class Case:
    path: str
    content_type: str | None
    content_encoding: str | None
    body: bytes
    limit: int
    desc: str


_DBS = ["ten_a", "ten_b", "ten_ab", "TEN_A", "ten_a ", "ten_a\x00", "", "\u0074en_a", "ｔｅｎ_ａ"]
_SERVICES = ["object", "common", "db", "Object", "objects", "report", "common\x00"]
_METHODS = [
    "execute_kw",
    "execute",
    "login",
    "authenticate",
    "version",
    "about",
    "set_loglevel",
    "server_version",
    "drop",
    "list",
    "execute_kw ",
    "search",
]
_ODD_KEYS = [
    "Params",
    "PARAMS",
    "pa\u200brams",
    "ｐａｒａｍｓ",
    "params\t",
    "DB",
    "d\u00adb",
    "Service",
    "méthod",
    "ARGS",
    "args\x7f",
    "x" * 70 + "\u200b" * 10,
    "\u200b" * 80 + "db",
]
_NUMBERS = [
    "0",
    "-0",
    "1e5",
    "1E+5",
    "1e-5",
    "01",
    "1.",
    ".5",
    "+1",
    "NaN",
    "-Infinity",
    "Infinity",
    "-NaN",
    "1e999",
    "0x10",
    "1_000",
    "1" * 4300,
    "-" + "9" * 4300,
    "1" * 4301,
    "1." + "0" * 5000,
    "2.5e" + "9" * 30,
    "--1",
    "1e",
    "1e+",
    "nan",
    "true",
    "truex",
    "null",
    "nul",
]
_ESCAPED_KEYS = [
    ('"a"', '"\\u0061"'),
    ('"\\ud83d\\ude00"', '"\U0001f600"'),
    ('"\\ud83d"', '"\\uD83D"'),
    ('"\\ud83d\\u0041"', '"\\ud83dA"'),
    ('"\\/"', '"/"'),
    ('"db"', '"d\\u0062"'),
    ('"\\udc00\\ud800"', '"\\udc00\\ud800"'),
]


def _value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(_DBS)
    if kind == 1:
        return rng.randint(-(10**12), 10**12)
    if kind == 2:
        return rng.random() * 1e6
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return "".join(
            rng.choice('abc\u00e9\u4e2d\U0001f600"\\\n') for _ in range(rng.randrange(12))
        )
    if kind == 5:
        return base64.b64encode(rng.randbytes(rng.randrange(300))).decode()
    if kind in (6, 7):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randrange(4))}


def _args(rng: random.Random) -> object:
    shape = rng.randrange(10)
    if shape == 0:
        return []
    if shape == 1:
        return rng.choice([{"db": TENANT}, "ten_a", None, 5])
    db: object = rng.choice(_DBS) if rng.random() < 0.8 else _value(rng)
    return [db, 2, "pw", "res.partner", "read", [[1]], {"fields": ["name"]}][: rng.randrange(1, 8)]


def json_doc(rng: random.Random, authenticate: bool) -> dict[str, object]:
    if authenticate:
        params: dict[str, object] = {"db": rng.choice(_DBS), "login": "admin", "password": "pw"}
        if rng.random() < 0.1:
            del params["db"]
    else:
        params = {
            "service": rng.choice(_SERVICES),
            "method": rng.choice(_METHODS),
            "args": _args(rng),
        }
        if rng.random() < 0.1:
            params.pop(rng.choice(["service", "method", "args"]))
    if rng.random() < 0.2:
        params[rng.choice(_ODD_KEYS)] = _value(rng)
    doc: dict[str, object] = {"jsonrpc": "2.0", "method": "call", "params": params}
    ident = rng.randrange(6)
    if ident:
        doc["id"] = [1, "abc", None, 1.5, True, [1]][ident]
    if rng.random() < 0.1:
        doc[rng.choice(_ODD_KEYS)] = 1
    if rng.random() < 0.05:
        doc["params"] = rng.choice([[["db", TENANT]], "x", None])
    return doc


def _json_text(rng: random.Random, doc: object) -> str:
    indent = rng.choice([None, None, 0, 2])
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5, indent=indent)


def _json_oddity(rng: random.Random, text: str) -> str:
    """One of the forms a parser differential hides in, spliced into a valid body."""
    kind = rng.randrange(10)
    if kind == 0:  # a duplicate key somewhere deep
        a, b = rng.choice(_ESCAPED_KEYS)
        return text.replace('"jsonrpc"', '"x": {"y": [{' + f"{a}: 1, {b}: 2" + '}]}, "jsonrpc"', 1)
    if kind == 1:  # an odd number
        return text.replace('"2.0"', rng.choice(_NUMBERS), 1)
    if kind == 2:  # deep nesting, far from the recursion headroom
        depth = rng.choice([1, 50, 200, 800, 2000, 5000])
        return text.replace('"2.0"', "[" * depth + "]" * depth, 1)
    if kind == 3:  # whitespace, JSON's and not
        return rng.choice([" \t\r\n", "\x0b", "\x0c", "\u00a0", "\u2028"]) + text
    if kind == 4:  # a key written with escapes
        return text.replace('"params"', rng.choice(['"p\\u0061rams"', '"\\u0070arams"']), 1)
    if kind == 5:  # the database with escapes
        return text.replace(
            '"ten_a"', rng.choice(['"\\u0074en_a"', '"ten_\\u0061"', '"ten\\u005fa"'])
        )
    if kind == 6:  # a control character or bad escape in a string
        return text.replace(
            '"call"', rng.choice(['"ca\tll"', '"ca\\ll"', '"ca\\u00"', '"\\x41"']), 1
        )
    if kind == 7:  # a batch
        return "[" + text + "]"
    if kind == 8:  # extra data
        return text + rng.choice(["{}", " x", "\n", "]"])
    return text.replace('"jsonrpc"', '"jsonrpc": 1, "jsonrpc"', 1)


def _xml_params(rng: random.Random) -> tuple[object, ...]:
    db: object = rng.choice(_DBS[:6])
    if rng.random() < 0.15:
        db = rng.choice([5, True, 1.5, xmlrpc.client.Binary(b"ten_a"), [TENANT], {"a": 1}])
    rest: list[object] = [2, "pw", "res.partner", "read", [[1]], {"fields": ["name"]}]
    if rng.random() < 0.2:
        rest.append(datetime(2024, 1, 2, 3, 4, 5))
    if rng.random() < 0.2:
        rest.append(xmlrpc.client.Binary(rng.randbytes(rng.randrange(200))))
    return (db, *rest[: rng.randrange(0, 7)])


_XML_ODD = [
    ("<value>ten_a</value>", "<value><![CDATA[ten_a]]></value>"),
    ("<value>ten_a</value>", "<value>ten<!-- c -->_a</value>"),
    ("<value>ten_a</value>", "<value>&#116;en_a</value>"),
    ("<value>ten_a</value>", "<value><string>ten_a</string></value>"),
    ("<value>ten_a</value>", "<value><x:string>ten_a</x:string></value>"),
    ("<value>ten_a</value>", "<value><foo>ten_a</foo></value>"),
    ("<value>ten_a</value>", "<value><int> 5 </int></value>"),
    ("<value>ten_a</value>", "<value><boolean>2</boolean></value>"),
    ("<value>ten_a</value>", "<value><bigdecimal>sNaN</bigdecimal></value>"),
    ("<value>ten_a</value>", "<value><double>1e5</double></value>"),
    ("<value>ten_a</value>", "<value><double>nan</double></value>"),
    ("<value>ten_a</value>", "<value><i8>1_0</i8></value>"),
    ("<value>ten_a</value>", "<value><base64>dGVu=X</base64></value>"),
    ("<value>ten_a</value>", "<value><base64>dGVu\nX2E=</base64></value>"),
    ("<value>ten_a</value>", "<value><base64>dGVuX2</base64></value>"),
    (
        "<value>ten_a</value>",
        "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>",
    ),
    ("<value>ten_a</value>", "<value><dateTime.iso8601>2024-01-02</dateTime.iso8601></value>"),
    ("<value>ten_a</value>", "<value><nil/></value>"),
    ("<params>", "<value>ten_b</value><params>"),
    (
        "<params>",
        "<params><param><value><struct><member><name>a</name></member></struct></value></param>",
    ),
    (
        "<params>",
        "<params><param><value><struct><value><array><data/></array></value><value>1</value></struct></value></param>",
    ),
    ("<methodName>", "<methodName>x<i4>1</i4>"),
    ("</methodName>", "</methodName><params><param><value>ten_b</value></param></params>"),
    ("<?xml version='1.0'?>", "<?xml version='1.0' encoding='iso-8859-1'?>"),
    ("<?xml version='1.0'?>", "<?xml version='1.0' encoding='utf-16'?>"),
    ("<?xml version='1.0'?>", '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e "ten_a">]>'),
    ("<?xml version='1.0'?>", '<?xml version="1.0"?><!DOCTYPE m SYSTEM "http://127.0.0.1/x">'),
    ("<?xml version='1.0'?>", "\ufeff<?xml version='1.0'?>"),
    (
        "<methodCall>",
        "<methodCall><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>",
    ),
    ("ten_a", "ten_&lt;a"),
]


def json_case(rng: random.Random) -> Case:
    authenticate = rng.random() < 0.2
    path = "/web/session/authenticate" if authenticate else "/jsonrpc"
    text = _json_text(rng, json_doc(rng, authenticate))
    if rng.random() < 0.5:
        text = _json_oddity(rng, text)
    body = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.05:
        body = rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\x00\x00\xfe\xff", b""]) + body
    return _finish(
        rng, path, rng.choice(["application/json", "application/json; charset=utf-8"]), body
    )


def xml_case(rng: random.Random) -> Case:
    service = rng.choice(["object", "common", "db", "report"])
    path = rng.choice(["/xmlrpc/2/", "/xmlrpc/"]) + service
    method = rng.choice(_METHODS)
    text = xmlrpc.client.dumps(_xml_params(rng), method, allow_none=True)
    if rng.random() < 0.3:
        text = text.replace("<string>", "").replace("</string>", "")
    if rng.random() < 0.5:
        old, new = rng.choice(_XML_ODD)
        text = text.replace(old, new, 1)
    encoding = "latin-1" if "iso-8859-1" in text else "utf-8"
    body = text.encode(encoding, "replace")
    ctype = rng.choice(
        ["text/xml", "application/xml", "text/xml; charset=utf-8", "text/xml; charset=latin1"]
    )
    return _finish(rng, path, ctype, body)


def _mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randrange(1, 4)):
        if not data:
            break
        at = rng.randrange(len(data))
        op = rng.randrange(4)
        if op == 0:
            data[at] = rng.randrange(256)
        elif op == 1:
            del data[at]
        elif op == 2:
            data.insert(at, rng.choice(b'"\\{}[],:<>/&;=\x00\x80\xff 0e-'))
        else:
            data[at : at + 1] = rng.choice([b"\\u", b"\xed\xa0\x80", b"\xc3", b"&#0;", b"]]>"])
    return bytes(data)


def _finish(rng: random.Random, path: str, ctype: str, body: bytes) -> Case:
    desc = "valid"
    roll = rng.random()
    if roll < 0.25:
        body = _mutate(rng, body)
        desc = "mutated"
    elif roll < 0.33:
        body = body[: rng.randrange(len(body) + 1)]
        desc = "truncated"
    coding = None
    limit = 1 << 20
    roll = rng.random()
    if roll < 0.06:
        coding = rng.choice(["gzip", "x-gzip"])
        body = gzip.compress(body)
        if rng.random() < 0.2:
            body = rng.choice([body + gzip.compress(b" "), body[:-3], body + b"\x00", body * 2])
    elif roll < 0.09:
        coding = "deflate"
        body = zlib.compress(body)
        if rng.random() < 0.2:
            body = rng.choice([body[:-2], body + b"x"])
    elif roll < 0.1:
        coding = rng.choice(["br", "gzip, gzip", "identity"])
    if rng.random() < 0.05:
        limit = rng.choice([16, len(body), max(len(body) - 1, 0), 300])
    return Case(path, ctype, coding, body, limit, desc)


def case(rng: random.Random) -> Case:
    return json_case(rng) if rng.random() < 0.55 else xml_case(rng)
