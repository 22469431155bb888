"""Status lines and the small HTML pages nginx answers with, so clients see the same thing.

nginx's status line reason differs from its page title for some codes (302 says
"Moved Temporarily" in the status line and "302 Found" on the page); both are kept as nginx
has them. The page names odoo-router where nginx names itself.
"""

from __future__ import annotations

from functools import lru_cache

REASONS: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Not Allowed", 408: "Request Time-out", 411: "Length Required",
    413: "Request Entity Too Large", 414: "Request-URI Too Large",
    415: "Unsupported Media Type", 421: "Misdirected Request", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
    505: "HTTP Version Not Supported",
}  # fmt: skip

_TITLES: dict[int, str] = {
    302: "302 Found",
    401: "401 Authorization Required",
    494: "400 Request Header Or Cookie Too Large",
}

PRODUCT = "odoo-router"


@lru_cache(maxsize=64)
def status_line(status: int) -> bytes:
    """The HTTP/1.1 status line nginx would send; 494 goes out as 400, as in nginx."""
    shown = 400 if status == 494 else status
    return f"HTTP/1.1 {shown} {REASONS.get(shown, 'Unknown')}\r\n".encode("latin-1")


@lru_cache(maxsize=64)
def error_page(status: int) -> bytes:
    title = _TITLES.get(status) or f"{status} {REASONS.get(status, 'Error')}"
    heading = f"<center><h1>{title}</h1></center>\r\n"
    if status == 494:  # nginx shows the 400 heading, then the detail on its own line
        heading = "<center><h1>400 Bad Request</h1></center>\r\n"
        heading += "<center>Request Header Or Cookie Too Large</center>\r\n"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"{heading}<hr><center>{PRODUCT}</center>\r\n</body>\r\n</html>\r\n"
    ).encode("latin-1")


def maintenance_page(until: str | None) -> bytes:
    """The page a tenant in maintenance answers with (503), in the shape of the pages above;
    ``until`` is when it is expected back, as text, if known."""
    back = f"<center>Back at {until}.</center>\r\n" if until else ""
    return (
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
        "<body>\r\n<center><h1>Down for maintenance</h1></center>\r\n"
        "<center>This database is being upgraded. Please try again shortly.</center>\r\n"
        f"{back}<hr><center>{PRODUCT}</center>\r\n</body>\r\n</html>\r\n"
    ).encode("latin-1")
