"""GET /openapi.json: the OpenAPI 3.1 document of this API, as committed in schemas/.

The document is read once, when the app is made (`load_document`), and served as
application/json: the generic type every HTTP client and OpenAPI tool reads as JSON
(application/vnd.oai.openapi+json would say more, but clients such as aiohttp's `json()` refuse
it by default).
"""

from __future__ import annotations

from pathlib import Path

import structlog
from aiohttp import web

from fraudchannel.api_models import OpenApiDocument
from fraudchannel.http.apidoc import ApiDoc, Reply
from fraudchannel.http.routes import ScopedRoutes
from fraudchannel.schemas import OPENAPI_FILE, SCHEMAS_DIR, render

log = structlog.get_logger(__name__)

OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)
routes = ScopedRoutes(tag="service")


def load_document(folder: Path = SCHEMAS_DIR) -> bytes:
    """Return the committed document (`folder`/openapi.v1.json) as bytes.

    Every checkout and the container image hold the file; an install without it gets the same
    text generated from the code (`make schemas-check` keeps the two equal).
    """
    try:
        return (folder / OPENAPI_FILE).read_bytes()
    except FileNotFoundError:
        from fraudchannel import openapi  # builds from the app's route tables: import late

        log.warning("openapi_document_generated", missing=str(folder / OPENAPI_FILE))
        return render(openapi.document).encode()


@routes.get(
    "/openapi.json",
    public=True,
    doc=ApiDoc(
        "This API's OpenAPI document",
        (Reply(200, "The OpenAPI 3.1 document, as in schemas/openapi.v1.json.", OpenApiDocument),),
    ),
)
async def openapi_document(request: web.Request) -> web.Response:
    """Answer the OpenAPI 3.1 document of this API (read once at start)."""
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type="application/json")
