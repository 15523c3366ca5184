"""Playwright's trace viewer, served by the control room: a case's trace opens with one click.

The Playwright package that the robots use ships the viewer as static files (the page, its
scripts and a service worker that unpacks a trace in the browser). The control room serves
them under ``/ops/trace-viewer/`` to the people who may open case pages, and the case page
links each kept trace as ``/ops/trace-viewer/index.html?trace=<the trace's address>``. The
viewer's service worker fetches the trace from this server with the user's session (the
same origin), so nothing leaves the building and nothing is loaded from the internet.

A service worker needs a secure context: the control room over HTTPS, or on ``localhost``.
Over plain HTTP on another host name the browser refuses the worker; the page then says so
and the trace can still be downloaded and opened with ``python -m playwright show-trace``.
"""

from __future__ import annotations

import importlib.util
import mimetypes
import re
from functools import cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import Message, error_page
from orchestrator.control_room.pages.sessions import current_agent, to_login
from orchestrator.control_room.served_files import served_file

VIEWER_URL = "/ops/trace-viewer"
"""Where the viewer's files are served (the service worker's scope)."""

router = APIRouter()

#: The traces the viewer may open: a case's kept trace on this server (``viewer_link``).
_OWN_TRACE = re.compile(r"^/ops/cases/[A-Za-z0-9_.:-]{1,64}/artifact/trace/\d{1,4}$")


@cache
def viewer_dir() -> Path | None:
    """The folder of the installed Playwright's trace viewer, or None when it has none there.

    Found without importing Playwright (the control room does not drive browsers)."""
    spec = importlib.util.find_spec("playwright")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    folder = package / "driver" / "package" / "lib" / "vite" / "traceViewer"
    return folder.resolve() if (folder / "index.html").is_file() else None


def viewer_link(trace_url: str) -> str | None:
    """The address that opens the trace at ``trace_url`` (a path on this server) in the
    viewer, or None when the installed Playwright has no viewer to serve."""
    if viewer_dir() is None:
        return None
    return f"{VIEWER_URL}/index.html?trace={quote(trace_url, safe='')}"


@router.get(VIEWER_URL, include_in_schema=False)
def viewer_root() -> Response:
    """The viewer's folder itself: its page."""
    return RedirectResponse(f"{VIEWER_URL}/index.html", status_code=307)


@router.get(VIEWER_URL + "/{name:path}", include_in_schema=False)
def viewer_file(request: Request, name: str) -> Response:
    """One of the viewer's files, to the people who may open case pages (ops and admins)."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    if not agent.can_operate:
        return error_page(request, agent, 403, N_("Ops only"), N_("Traces are shown to ops and admins."))
    folder = viewer_dir()
    if folder is None:
        return error_page(
            request,
            agent,
            404,
            N_("No trace viewer"),
            N_(
                "The installed Playwright package has no trace viewer files: download the trace from "
                "the case page and open it with 'python -m playwright show-trace FILE'."
            ),
        )
    path = served_file(folder, name or "index.html")
    if path is None:
        return error_page(
            request,
            agent,
            404,
            N_("No such file"),
            Message(N_("The trace viewer has no file %(name)s."), name=repr(name)),
        )
    traces = request.query_params.getlist("trace")
    if any(not _OWN_TRACE.match(trace) for trace in traces):
        # The viewer loads whatever its 'trace' parameter names: a link that names another
        # site's file would show that site's pages under this server's name.
        return error_page(
            request,
            agent,
            400,
            N_("Not a trace of this server"),
            N_(
                "The trace viewer opens the traces of this server's cases only: use the link on "
                "the case page."
            ),
        )
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        kind = "text/javascript"  # a service worker must come as JavaScript, whatever the OS's table says
    response = FileResponse(path, media_type=kind)
    # The files belong to the installed Playwright: a browser may keep them until it changes.
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response
