"""Checks shared by every handler that reads a request body (batches, the token form).

aiohttp decodes gzip, deflate, br (Brotli, RFC 7932) and zstd (Zstandard, RFC 8878) bodies,
counting the decoded bytes against client_max_size, but reads a body labelled with a coding it
does not know ("bogus", "gzip, gzip", "compress") as if it were plain, and raises
RequestPayloadError for a body that is not the coding it claims. The service reads exactly one
known coding, refuses the rest (RFC 9110 §8.4.1: 415, with Accept-Encoding naming what it does
read), and answers an unreadable body with 400. A batch of reports usually shrinks to a tenth
or less in zstd or br: worth it on a slow link.
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web

CODINGS: Final = ("gzip", "deflate", "br", "zstd", "identity")
ACCEPT_ENCODING: Final = ", ".join(CODINGS)
UNREADABLE_BODY: Final = (
    "The request body could not be read: it is not in the content coding it claims, or it "
    "arrived incomplete."
)


def unsupported_coding(request: web.Request) -> str | None:
    """Return why the request's Content-Encoding cannot be read, None when it can."""
    values = request.headers.getall(hdrs.CONTENT_ENCODING, [])
    codings = [c.strip().lower() for v in values for c in v.split(",") if c.strip()]
    if not codings or (len(codings) == 1 and codings[0] in CODINGS):
        return None
    shown = ", ".join(codings)[:100].encode("ascii", "replace").decode()
    return f"Content-Encoding {shown!r} is not read here; send one of {ACCEPT_ENCODING}."
