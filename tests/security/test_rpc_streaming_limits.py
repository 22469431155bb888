"""The streaming RPC readers where they stop keeping text: keys, strings, numbers and base64
longer than their caps decide as the oracle does (compared in pieces that split characters
and escapes), and a 45 MiB attachment is inspected in memory that does not grow with it."""

from __future__ import annotations

import base64
import json
import tracemalloc
import xmlrpc.client

import pytest

from odoo_router.security.rpc_firewall import Allow, Refuse
from odoo_router.security.rpc_inspect import RpcInspector
from security.rpc_compare import oracle, same, streamed

TENANT = "ten_a"
KIB = 1024
MIB = 1024 * KIB


def _json(inner: str) -> bytes:
    return ('{"id": 1, "params": {' + inner + "}}").encode("utf-8", "surrogatepass")


OK = '"service": "object", "method": "execute_kw", "args": ["ten_a", 2, "pw"]'
LONG = "é" * (40 * KIB) + "\U0001f600" * (10 * KIB)  # past RAW_CAP, multi-byte

JSON_CASES = [
    ("long key, once", _json(f'"{LONG}": 1, {OK}')),
    ("long keys, the same twice", _json(f'"{LONG}": 1, "{LONG}": 2, {OK}')),
    ("long keys, one escaped", _json(f'"{LONG}": 1, "\\u00e9{LONG[1:]}": 2, {OK}')),
    ("long keys, surrogate pair escaped", _json(f'"{LONG}x": 1, "{LONG[:-1]}\\ud83d\\ude00x": 2')),
    ("long keys, lone surrogates", _json(f'"{LONG}\\ud83d": 1, "{LONG}\\ud83d": 2, {OK}')),
    ("long keys that differ at the end", _json(f'"{LONG}a": 1, "{LONG}b": 2, {OK}')),
    ("long key of 4097 chars twice", _json(f'"{"k" * 4097}": 1, "{"k" * 4097}": 2, {OK}')),
    ("long lookalike key in params", _json(f'"{chr(0x200B) * 70_000}db": 1, {OK}')),
    ("long invisible key, not a lookalike", _json(f'"{chr(0x200B) * 70_000}xdb": 1, {OK}')),
    ("long key at the top", b'{"' + b"\xe2\x80\x8b" * 30_000 + b'params": 1, "params": {}}'),
    (
        "database of 300 chars",
        _json('"service": "object", "method": "x", "args": ["' + "t" * 300 + '"]'),
    ),
    (
        "method of 100 KiB",
        _json(f'"service": "object", "method": "{"m" * 100 * KIB}", "args": ["ten_a"]'),
    ),
    ("int of 4300 digits", _json(f'"n": {"9" * 4300}, {OK}')),
    ("int of 4301 digits", _json(f'"n": {"9" * 4301}, {OK}')),
    ("int of 100 KiB", _json(f'"n": -{"9" * 100 * KIB}, {OK}')),
    ("float of 100 KiB", _json(f'"n": 1.{"0" * 100 * KIB}1e-{"0" * 70 * KIB}5, {OK}')),
    ("bad float of 100 KiB", _json(f'"n": 01{"0" * 100 * KIB}.5, {OK}')),
    ("control char after 1 MiB", _json(f'"n": "{"a" * MIB}\x01", {OK}')),
    ("bad escape after 1 MiB", _json(f'"n": "{"a" * MIB}\\x", {OK}')),
]


@pytest.mark.parametrize(("desc", "body"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
@pytest.mark.parametrize("piece", [1021, 65536])
def test_long_json_tokens_decide_as_the_oracle(desc: str, body: bytes, piece: int) -> None:
    args = ("/jsonrpc", "application/json", None, body, TENANT, 8 * MIB)
    want = oracle(*args)
    assert want is not None
    assert same(streamed(*args, piece=piece, budget=4096), want)


def test_an_id_past_64_kib_is_answered_null() -> None:
    """The one answer that differs: the oracle echoes any id; keeping one of megabytes would
    defeat bounded memory, so a refusal answers id null (the decision is the same)."""
    body = b'{"id": "' + b"i" * 70 * KIB + b'", "params": {"service": "x"}}'
    args = ("/jsonrpc", "application/json", None, body, TENANT, 8 * MIB)
    want, got = oracle(*args), streamed(*args, piece=4096)
    assert isinstance(want, Refuse) and isinstance(got, Refuse)
    assert got.status == want.status == 400
    assert json.loads(got.body)["id"] is None and json.loads(want.body)["id"] == "i" * 70 * KIB


def _xml(value: str, first: str = "<value>ten_a</value>") -> bytes:
    return (
        "<?xml version='1.0'?><methodCall><methodName>execute_kw</methodName><params>"
        f"<param>{first}</param><param><value>{value}</value></param></params></methodCall>"
    ).encode()


XML_CASES = [
    ("int padded with 100 KiB of spaces", _xml(f"<int>{' ' * 100 * KIB}5 </int>")),
    ("int of 100 KiB digits", _xml(f"<int>{'1' * 100 * KIB}</int>")),
    ("int of 4300 digits and underscores", _xml(f"<int>{'1_' * 4299}1</int>")),
    (
        "double of 100 KiB digits",
        _xml(f"<double> -{'1' * 100 * KIB}.{'2' * 50 * KIB}e-3 </double>"),
    ),
    ("double of long runs with __", _xml(f"<double>{'1' * 20_000}__1</double>")),
    ("double, exponent of leading zeros", _xml(f"<double>1e{'0' * 30_000}1</double>")),
    ("bigdecimal exponent of leading zeros", _xml(f"<bigdecimal>1e{'0' * 30_000}5</bigdecimal>")),
    ("bigdecimal exponent too large", _xml(f"<bigdecimal>1e1{'0' * 30_000}</bigdecimal>")),
    ("bigdecimal sNaN payload", _xml(f"<bigdecimal>sNaN{'7' * 30_000}</bigdecimal>")),
    (
        "sNaN as a struct key",
        _xml("<struct><value><bigdecimal>sNaN</bigdecimal></value><value>1</value></struct>"),
    ),
    ("double with a letter after 20 KiB", _xml(f"<double>{'1' * 20_000}x</double>")),
    ("base64 of 2 MiB", _xml(f"<base64>{base64.encodebytes(b'x' * 1_500_000).decode()}</base64>")),
    (
        "base64 one char short",
        _xml(f"<base64>{base64.b64encode(b'x' * 1_500_000).decode()[:-1]}</base64>"),
    ),
    ("base64 junk after the pad", _xml(f"<base64>{'QUJD' * 100_000}QQ==!!!QQ</base64>")),
    ("base64 non-ASCII after 1 MiB", _xml(f"<base64>{'QUJD' * 300_000}é</base64>")),
    (
        "string of 2 MiB as the database",
        _xml("<string>x</string>", f"<value>{'t' * 2 * MIB}</value>"),
    ),
    ("boolean of 300 chars", _xml(f"<boolean>{'1' * 300}</boolean>")),
    ("dateTime padded", _xml(f"<dateTime.iso8601>20240102T03:04:05{' ' * 300}</dateTime.iso8601>")),
    (
        "100,000 nested arrays",
        _xml("<array><data><value>" * 100_000 + "</value></data></array>" * 100_000),
    ),
]


@pytest.mark.parametrize(("desc", "body"), XML_CASES, ids=[c[0] for c in XML_CASES])
@pytest.mark.parametrize("piece", [1021, 65536])
def test_long_xml_texts_decide_as_the_oracle(desc: str, body: bytes, piece: int) -> None:
    args = ("/xmlrpc/2/object", "text/xml", None, body, TENANT, 64 * MIB)
    want = oracle(*args)
    assert want is not None
    assert same(streamed(*args, piece=piece, budget=65536), want)


def _attachment(protocol: str) -> tuple[str, str, bytes]:
    datas = "QUJD" * (45 * MIB // 4)
    args = [TENANT, 2, "pw", "ir.attachment", "create", [{"name": "a", "datas": datas}]]
    if protocol == "xmlrpc":
        return (
            "/xmlrpc/2/object",
            "text/xml",
            xmlrpc.client.dumps(tuple(args), "execute_kw").encode(),
        )
    call = {"id": 1, "params": {"service": "object", "method": "execute_kw", "args": args}}
    return "/jsonrpc", "application/json", json.dumps(call).encode()


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc"])
def test_a_45_mib_attachment_is_inspected_in_bounded_memory(protocol: str) -> None:
    path, ctype, body = _attachment(protocol)
    inspector = RpcInspector(path, ctype, None, TENANT, 50 * MIB)
    tracemalloc.start()
    try:
        for start in range(0, len(body), 256 * KIB):
            inspector.feed(body[start : start + 256 * KIB])
            while inspector.work():
                pass
        verdict = inspector.verdict()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(verdict, Allow)
    assert peak < 2 * MIB, peak  # a piece and a slice or two, never the 45 MiB string
