"""The RPC firewall as the body arrives: ``RpcInspector`` takes the body in pieces, undoes its
content coding, feeds the JSON or XML-RPC reader, and gives the verdict once the body ended.

Rules / theory of operation
---------------------------
* ``feed`` only queues a piece; ``work`` inspects at most SLICE bytes of decoded body per call
  and says whether queued input is left, so a caller on the event loop yields between slices
  (a 64 KiB gzip piece can inflate to megabytes: the slice bounds the output, not the input).
* The verdict is the whole-body firewall's, in its order (tests/security/rpc_oracle.py):
  the header checks (endpoint 404, no tenant 403, content type and JSON charset 415), the
  body over ``limit`` (413), the content coding (415), the decoded body (corrupt, truncated or
  trailing bytes 400, over ``limit`` once inflated 413), the body's first bytes (UTF-16/32
  415, JSON byte order mark 400, XML charset 415), empty (400), not UTF-8 (JSON, 400), the
  parse (400; an XML declaration with another charset 415), then the policy (400/403).
* ``tenant_db`` None: no database rules (the login count of a route with
  ``rpc_count_logins``, datapath/rpc_guard.py): the same reading, the keys checked as Odoo
  reads them, but no tenant needed and no service, method or database refused.
  A fault found early is only final at the end: a later one of an earlier rank (413 for a
  body that inflates too far) wins, so the rest of the body is still decoded and counted,
  but no longer parsed.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections import deque
from typing import Final

from .rpc_firewall import (
    ALLOW,
    JSON_CHARSETS,
    JSON_MIMETYPES,
    WIDE_BOMS,
    XML_CHARSETS,
    XML_MIMETYPES,
    Endpoint,
    Reject,
    Verdict,
    check_call,
    check_json,
    check_json_shape,
    content_coding,
    json_error,
    media_type,
    plain,
    rpc_endpoint,
    xml_fault,
)
from .rpc_json import JsonCall
from .rpc_values import DICT, LIST, S_ID, S_METHOD, S_ROOT, S_SERVICE
from .rpc_xml import XmlCall

_LOGINS: Final = ("login", "authenticate")  # the common service's calls that log in
SLICE: Final = 64 * 1024  # decoded bytes inspected per work() call
_NONBLANK: Final = re.compile(rb"[^ \t\n\r\x0b\x0c]")  # what bytes.strip() keeps


class _Inflater:
    """zlib/gzip decoding of a body that arrives in pieces, as rpc_oracle._inflate does it
    on the whole: every gzip member, at most ``limit`` bytes out."""

    def __init__(self, gzip: bool, limit: int) -> None:
        self.wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self.members = gzip
        self.limit = limit
        self.z = zlib.decompressobj(self.wbits)
        self.input = b""
        self.out = 0

    def push(self, data: bytes) -> None:
        self.input = self.input + data if self.input else data

    def pull(self, most: int) -> bytes:
        """Up to ``most`` decoded bytes; b"" when the input so far gives no more."""
        while True:
            z = self.z
            if z.eof:  # self.input holds what follows the member (see below)
                rest = self.input
                if not rest:
                    return b""
                if not self.members:
                    raise Reject(400, "bytes follow the compressed body", "trailing bytes")
                self.z = z = zlib.decompressobj(self.wbits)
                self.input = rest
            if not self.input:
                return b""
            before = len(self.input)
            try:
                # limit + 1 - out >= 1 here: zlib reads max_length 0 as "no limit".
                out = z.decompress(self.input, min(most, self.limit + 1 - self.out))
            except zlib.error as exc:
                raise Reject(400, "the compressed body is corrupt", f"inflate: {exc}") from exc
            # At the end of a member the rest is in unused_data (and may be in the tail too).
            self.input = z.unused_data if z.eof else z.unconsumed_tail
            self.out += len(out)
            if self.out > self.limit:
                raise Reject(
                    413,
                    f"RPC bodies are limited to {self.limit} bytes once decompressed",
                    "decompressed body over the limit",
                )
            if out:
                return out
            if not z.eof and len(self.input) >= before:
                return b""

    def finish(self) -> None:
        if not self.z.eof:
            raise Reject(400, "the compressed body is truncated", "truncated compressed body")


class RpcInspector:
    def __init__(
        self,
        path: str,
        content_type: str | None,
        content_encoding: str | None,
        tenant_db: str | None,
        limit: int,
    ) -> None:
        self.tenant_db = tenant_db
        self.limit = limit
        self.pending: deque[bytes] = deque()
        self.size = 0  # body bytes fed
        self.decoded = 0
        self.head = b""  # the decoded body's first 4 bytes
        self.blank = True  # nothing but ASCII whitespace so far (bytes.strip())
        self.early: Verdict | None = None  # decided from the headers alone
        self.fault: Reject | None = None  # from the body's coding: final once found
        self.inflater: _Inflater | None = None
        self.coding_fault: Reject | None = None
        self.charset: str | None = None
        self.json: JsonCall | None = None
        self.xml: XmlCall | None = None
        # Made at the first non-ASCII byte: all before it was ASCII, so it starts clean there.
        self.utf8: codecs.IncrementalDecoder | None = None
        self.utf8_bad = False
        self.request_id: object = None
        endpoint = rpc_endpoint(path)
        self.endpoint = endpoint or Endpoint("jsonrpc")
        if endpoint is None:
            self.early = plain(
                404, "odoo-router: not an Odoo RPC endpoint", f"no rpc endpoint {path!r:.80}"
            )
            return
        try:
            self._headers(endpoint, content_type, content_encoding, tenant_db)
        except Reject as exc:
            self.early = self._refusal(exc, None)

    def _headers(
        self,
        endpoint: Endpoint,
        content_type: str | None,
        content_encoding: str | None,
        tenant_db: str | None,
    ) -> None:
        if tenant_db == "":
            raise Reject(403, "RPC is not available on this host", "host has no tenant db")
        media, charset = media_type(content_type)
        if endpoint.protocol == "xmlrpc":
            if media not in XML_MIMETYPES:
                raise Reject(415, "XML-RPC needs Content-Type text/xml", f"xmlrpc as {media!r:.60}")
            self.charset = charset
            http_charset = XML_CHARSETS.get(charset) if charset is not None else None
            self.xml = XmlCall(http_charset, XML_CHARSETS)
        else:
            if media not in JSON_MIMETYPES:
                raise Reject(
                    415,
                    "JSON-RPC needs Content-Type application/json",
                    f"jsonrpc as {media!r:.60}",
                )
            if charset is not None and charset not in JSON_CHARSETS:
                raise Reject(415, "JSON-RPC bodies must be UTF-8", f"json charset {charset!r:.40}")
            keys = ("db",) if endpoint.protocol == "authenticate" else ("service", "method", "args")
            self.json = JsonCall(keys)
        try:
            coding = content_coding(content_encoding)
        except Reject as exc:
            self.coding_fault = exc
            return
        if coding is not None:
            self.inflater = _Inflater(coding == "gzip", self.limit)

    # -- the body -------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Queue a piece of the body (no work here: see ``work``)."""
        self.size += len(data)
        if self.early is None and self.coding_fault is None and self.size <= self.limit:
            if data:
                self.pending.append(data)
        else:
            self.pending.clear()  # decided already, whatever else comes

    def work(self, budget: int = SLICE) -> bool:
        """Inspect up to ``budget`` decoded bytes of what was fed; True while some is left."""
        pending = self.pending
        inflater = self.inflater
        while budget > 0 and self.fault is None:
            if inflater is None:
                if not pending:
                    break
                piece = pending[0]
                if len(piece) > budget:
                    pending[0] = piece[budget:]
                    piece = piece[:budget]
                else:
                    pending.popleft()
                self._decoded(piece)
                budget -= len(piece)
                continue
            try:
                out = inflater.pull(budget)
            except Reject as exc:
                self.fault = exc
                break
            if not out:
                if not pending:
                    break
                inflater.push(pending.popleft())
                continue
            self._decoded(out)
            budget -= len(out)
        if self.fault is not None:
            pending.clear()
            return False
        return bool(pending) or (inflater is not None and bool(inflater.input))

    def _decoded(self, data: bytes) -> None:
        if len(self.head) < 4:
            self.head += data[: 4 - len(self.head)]
        if self.blank:
            self.blank = _NONBLANK.search(data) is None
        self.decoded += len(data)
        if self.json is not None:
            if not self.utf8_bad and (self.utf8 is not None or not data.isascii()):
                if self.utf8 is None:
                    self.utf8 = codecs.getincrementaldecoder("utf-8")("strict")
                try:
                    self.utf8.decode(data)
                except UnicodeDecodeError:
                    self.utf8_bad = True
            self.json.feed(data)
        elif self.xml is not None:
            self.xml.feed(data)

    # -- the verdict ------------------------------------------------------------------

    def verdict(self) -> Verdict:
        """Once the whole body was fed and ``work`` says nothing is left."""
        if self.early is not None:
            return self.early
        try:
            if self.size > self.limit:
                raise Reject(
                    413, f"RPC bodies are limited to {self.limit} bytes", f"body {self.size} bytes"
                )
            if self.coding_fault is not None:
                raise self.coding_fault
            if self.fault is not None:
                raise self.fault
            if self.inflater is not None:
                while self.work():  # what the last pieces still hold (callers drained it)
                    pass
                if self.fault is not None:
                    raise self.fault
                self.inflater.finish()
            if self.xml is not None:
                self._xml_verdict(self.xml)
            elif self.json is not None:
                self._json_verdict(self.json)
            return ALLOW
        except Reject as exc:
            return self._refusal(exc, self.request_id)

    def login_call(self) -> bool:
        """After an allowing verdict: whether the call logs in (security/ratelimit.py)."""
        endpoint = self.endpoint
        if endpoint.protocol == "authenticate":
            return True
        if endpoint.protocol == "xmlrpc":
            xml = self.xml
            return endpoint.service == "common" and xml is not None and xml.method in _LOGINS
        json = self.json
        if json is None:
            return False
        found = json.found
        return found[S_SERVICE] == "common" and found[S_METHOD] in _LOGINS

    def _refusal(self, exc: Reject, request_id: object) -> Verdict:
        if self.endpoint.protocol == "xmlrpc":
            return xml_fault(exc)
        return json_error(exc, request_id)

    def _json_verdict(self, call: JsonCall) -> None:
        head = self.head
        if head.startswith(WIDE_BOMS):
            raise Reject(415, "JSON-RPC bodies must be UTF-8", "utf-16/32 json")
        if head.startswith(b"\xef\xbb\xbf"):
            raise Reject(400, "a byte order mark is not accepted", "json bom")
        if self.blank:
            raise Reject(400, "the request body is empty", "empty body")
        if not self.utf8_bad and self.utf8 is not None:
            try:
                self.utf8.decode(b"", True)
            except UnicodeDecodeError:
                self.utf8_bad = True
        if self.utf8_bad:
            raise Reject(400, "the body is not valid UTF-8", "json not utf-8")
        call.close()
        if call.error is not None:
            raise Reject(400, call.error_message, f"bad json: {call.error}"[:120])
        root = call.found[S_ROOT]
        if root is LIST:
            raise Reject(400, "batched JSON-RPC requests are not accepted", "json batch")
        if root is not DICT:
            raise Reject(400, "a JSON-RPC request must be a JSON object", "json not an object")
        self.request_id = call.found[S_ID]  # echoed in a refusal from here on
        if self.tenant_db is None:
            check_json_shape(call)
            found = call.found
            if not isinstance(found[S_SERVICE], str) or not isinstance(found[S_METHOD], str):
                raise Reject(400, "params.service and params.method must be strings", "bad call")
            return
        check_json(self.endpoint, call, self.tenant_db)

    def _xml_verdict(self, call: XmlCall) -> None:
        head = self.head
        if head.startswith(WIDE_BOMS) or b"\x00" in head:
            raise Reject(415, "XML-RPC bodies must be UTF-8", "utf-16/32 xml")
        charset = self.charset
        if charset is not None and charset not in XML_CHARSETS:
            raise Reject(
                415, f"unsupported charset {charset!r:.40}", f"xml charset {charset!r:.40}"
            )
        if self.blank:
            raise Reject(400, "the request body is empty", "empty body")
        call.close()
        if call.bad_charset is not None:
            shown = call.bad_charset
            raise Reject(
                415,
                f"unsupported or conflicting XML encoding {shown!r:.40}",
                f"xml encoding {shown!r:.40}",
            )
        if call.fault:
            raise Reject(400, "a fault is not a call", "xml fault body")
        if call.dtd:
            raise Reject(400, "DTDs and entities are not accepted", str(call.error))
        if call.error is not None:
            raise Reject(
                400, "the body is not a valid XML-RPC call", f"bad xml: {call.error}"[:120]
            )
        if self.tenant_db is None:
            if call.method is None:
                raise Reject(400, "the XML-RPC call has no methodName", "no methodName")
            return
        check_call(self.endpoint.service or "", call.method, call.first, self.tenant_db)


def inspect_rpc(
    path: str,
    content_type: str | None,
    content_encoding: str | None,
    body: bytes,
    tenant_db: str,
    limit: int = 1 << 20,
) -> Verdict:
    """Allow the RPC request only if every database it names is ``tenant_db`` (see module doc):
    the streaming inspector run over a whole body, in one go."""
    inspector = RpcInspector(path, content_type, content_encoding, tenant_db, limit)
    inspector.feed(body)
    while inspector.work():
        pass
    return inspector.verdict()
