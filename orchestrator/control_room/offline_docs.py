"""The API's documentation pages (Swagger UI at ``/docs``, ReDoc at ``/redoc``), served offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so ``/docs`` is blank on a machine
without internet, which back-office networks often are. The JavaScript and CSS here come from
the ``fastapi-offline`` package's files (installed with Tandem), served under
``/docs-assets/``; ReDoc is told not to fetch Google's fonts. Nothing on these pages asks the
network for anything but this server. ``/favicon.ico`` is the control room's icon, so no
browser asks for one elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from orchestrator.control_room.pages.rendering import STATIC_DIR
from orchestrator.control_room.served_files import served_file

#: Where the Swagger UI and ReDoc bundles live (a package's files, not the network).
ASSETS_DIR = (Path(fastapi_offline.__file__).resolve().parent / "static").resolve()
ASSETS_URL = "/docs-assets"
FAVICON_URL = "/favicon.ico"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

#: The docs pages may load only from this server. ReDoc's sidebar links a logo on its maker's CDN;
#: the policy keeps the browser from even asking for it (and anything else a future bundle adds).
CONTENT_POLICY = (
    "default-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
)

router = APIRouter()
favicon_router = APIRouter()


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_POLICY
    return page


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, with its bundle served by this server."""
    root = _root(request)
    return _local_only(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - API",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{FAVICON_URL}",
        )
    )


@router.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 helper page (part of Swagger UI; the API itself uses bearer tokens)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``, without Google's fonts."""
    root = _root(request)
    return _local_only(
        get_redoc_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{FAVICON_URL}",
            with_google_fonts=False,
        )
    )


@router.get(ASSETS_URL + "/{name}", include_in_schema=False)
def docs_asset(name: str) -> Response:
    """One file of the Swagger UI / ReDoc bundles."""
    path = served_file(ASSETS_DIR, name)
    if path is None or path.parent != ASSETS_DIR:
        return JSONResponse({"error": f"no documentation asset {name!r}"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


@favicon_router.get(FAVICON_URL, include_in_schema=False)
def favicon() -> Response:
    """The control room's icon (an SVG: every current browser shows one at this address too)."""
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
