"""Odoo's language prefix: ``/<lang>/web/database/...`` is ``/web/database/...`` to Odoo.

What Odoo 18 does (``http_routing`` ``ir.http._match``): when a path matches no route, its first
segment is taken as a language URL code and looked up among the active frontend languages
(``res.lang.url_code``; ``get_nearest_lang`` also maps unknown codes to a language sharing the
part before ``_``). If the segment equals that language's ``url_code``, the request is rerouted
internally to the rest of the path, ``auth='none'`` routes included, so ``/fr/web/database/x``
reaches the database manager past a ``^/web/database/`` rule. Other near misses answer a
redirect (GET) the client must follow back through us, or a 404 (POST). Only one segment is
stripped: after the reroute ``_match`` runs without the language logic.

Usual url codes are ``en``, ``fr``, ``fr_BE``, ``zh_CN``, ``es`` (es_419), ``es_ES``,
``sr@latin``, ``mya`` (Burmese: ``/my`` is the portal), but ``url_code`` is a free-text field a
tenant administrator can edit (``english``, ``x1``). So ``strip_lang_prefix`` treats *any* first
segment as a possible language: a false positive only makes a deny rule stricter
(``/foo/web/database/x`` is refused where Odoo would have answered 404), a false negative is a
bypass. ``is_lang_code`` tells the usual shapes apart, for explain output.

The path must already be normalised (percent-decoded, ``//`` merged, dot segments resolved):
``/%65n/web/database/x`` and ``/en//web/database/x`` are the uri module's business.
"""

from __future__ import annotations

import re

# language[_-]region/script/variant...[@modifier]: en, fr_BE, zh-Hant-TW, es_419, sr@latin, mya
_LANG_CODE_RE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*(?:@[A-Za-z0-9]{2,16})?")


def is_lang_code(segment: str) -> bool:
    """True when ``segment`` has the shape of a language code (any case, ``_`` or ``-``)."""
    return _LANG_CODE_RE.fullmatch(segment) is not None


def strip_lang_prefix(path: str) -> str | None:
    """``/rest`` for ``/<lang>/rest`` (``/`` for ``/<lang>``); None when there is no first
    segment to strip. Any first segment counts: see the module docstring."""
    if not path.startswith("/"):
        return None
    _, first, *rest = path.split("/", 2)
    if not first:
        return None
    return "/" + (rest[0] if rest else "")
