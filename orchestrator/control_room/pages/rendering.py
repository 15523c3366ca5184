"""What every control-room page shares for its answer: rendering a template with the header,
tray and flash messages, static files, translatable messages, and error pages.

Owns: ``TEMPLATES``, ``STATIC_DIR``, ``render`` (and which pages are live:
``LIVE_TEMPLATES``), ``Message``, ``flash`` / ``read_flash``, ``error_page``,
``error_status``, ``problem_page``. Who is asking is ``pages.sessions``; what a task looks
like on a page ``pages.task_views``; what an agent does to it ``pages.task_actions``.

May import: ``pages.sessions``, ``pages.fragments``, ``orchestrator.control_room.i18n``,
``orchestrator.errors`` and ``orchestrator.models``; the store only through
``request.app.state``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from orchestrator.control_room import i18n
from orchestrator.control_room.constant_time import texts_equal
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages import fragments
from orchestrator.control_room.pages.sessions import (
    SESSION_COOKIE,
    Agent,
    decode_b64,
    encode_b64,
    read_session,
    settings_secret,
    sign,
    store_of,
)
from orchestrator.errors import NotFound, PermissionDenied
from orchestrator.models import User

HERE = Path(__file__).resolve().parent.parent  # orchestrator/control_room
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
FLASH_COOKIE = "tandem_flash"
#: A flash cookie's value at most (browsers keep cookies of up to about 4,000 bytes).
FLASH_MAX_CHARACTERS = 3000


def static_url(name: str) -> str:
    path = STATIC_DIR / name
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"
    return f"/static/{name}?v={version}"


TEMPLATES.env.globals["static"] = static_url
i18n.install(TEMPLATES.env)


class Message(str):
    """A message in English that remembers its catalogue text and values, so a page can show
    it in the reader's language (the JSON API sends the English text)."""

    template: str
    values: dict[str, str]

    def __new__(cls, template: str, **values: Any) -> Message:
        shown = {key: str(value) for key, value in values.items()}
        message = super().__new__(cls, template % shown if shown else template)
        message.template, message.values = template, shown
        return message


def flash(response: Response, request: Request, kind: Literal["ok", "error"], text: str) -> Response:
    entry: list[Any] = [kind, text]
    if isinstance(text, Message):
        entry += [text.template, text.values]
    value = encode_b64(json.dumps(entry).encode())
    if len(value) > FLASH_MAX_CHARACTERS:
        # A message that repeats a huge input (a 100,000-character name) would make a cookie
        # no browser keeps and an answer some clients refuse: its start says enough.
        value = encode_b64(json.dumps([kind, str(text)[: FLASH_MAX_CHARACTERS // 4] + "…"]).encode())
    response.set_cookie(
        FLASH_COOKIE,
        f"{value}.{sign(settings_secret(request), 'flash:' + value)}",
        max_age=60,
        httponly=True,
        samesite="lax",
    )
    return response


def read_flash(request: Request) -> list[tuple[str, str]]:
    """The flash message of this request: (kind, text), the text in the reader's language."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    value, _, signature = raw.rpartition(".")
    if not value or not texts_equal(signature, sign(settings_secret(request), "flash:" + value)):
        return []
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        kind, text, *translatable = json.loads(decode_b64(value))
        locale = i18n.for_request(request, _flash_reader(request))
        if len(translatable) == 2 and isinstance(translatable[1], dict):
            text = locale.gettext(str(translatable[0]), **{k: str(v) for k, v in translatable[1].items()})
        else:  # a plain text: the store's refusals are known in other languages too
            text = locale.gettext(str(text))
        return [(str(kind), str(text))]
    return []


#: Pages with regions that follow the data (``data-live``; see ``static/live.js``).
LIVE_TEMPLATES = frozenset(
    {"inbox.html", "supervisor.html", "ops.html", "case.html", "task.html", "notifications.html"}
)


def _flash_reader(request: Request) -> User | None:
    found = read_session(settings_secret(request), request.cookies.get(SESSION_COOKIE))
    user: User | None = store_of(request).get_user(found[0]) if found else None
    return user


def render(
    request: Request, agent: Agent | None, template: str, *, status: int = 200, **values: Any
) -> HTMLResponse:
    """A page of the control room, with the header, flash messages and the callout stream.

    A live page (its regions marked ``data-live``) carries the change marks it was rendered
    with in its stream's address, so a change between rendering and listening is not lost.
    Asked by ``static/live.js`` for some of its regions (``pages.fragments``), the answer is
    only those regions, and what the rest of the page needs is not read."""
    live = template in LIVE_TEMPLATES and agent is not None
    regions = (
        fragments.requested_regions(request.headers.get(fragments.REGIONS_HEADER)) if live else frozenset()
    )
    query = {}
    if "callout_after" in values:
        query["after"] = str(values.pop("callout_after"))
    if live and not regions:
        query["marks"] = store_of(request).change_marks().token()
    # An error page reads nothing more from the database (it may be why the page failed).
    wants_tray = (
        agent is not None and template != "error.html" and (not regions or regions & fragments.TRAY_REGIONS)
    )
    tray = store_of(request).notifications_for(agent.username) if agent and wants_tray else []
    context = {
        "user": agent,
        "csrf": agent.csrf if agent else "",
        "tray": tray,
        "unread": sum(1 for item in tray if not item.read),
        "stream_url": "/callouts/stream" + (f"?{urlencode(query)}" if query else ""),
        "flashes": read_flash(request),
        "section": values.pop("section", ""),
        **values,
    }
    with i18n.using(i18n.for_request(request, agent.user if agent else None)):
        response: HTMLResponse = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    if regions:
        page = bytes(response.body).decode()
        response = HTMLResponse(fragments.fragment(page, regions), status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept-Language, Cookie, X-Tandem-Live-Regions"
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE)
    return response


def error_page(
    request: Request, agent: Agent | None, status: int, heading: str, message: str
) -> HTMLResponse:
    """An HTML error page that says what went wrong and where to go."""
    return render(request, agent, "error.html", status=status, heading=heading, message=message)


def error_status(error: Exception) -> int:
    """The HTTP status of a store error, for the pages and the JSON API alike: 403 for
    another unit's task, 404 for an id that names nothing, 409 for anything else."""
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, NotFound):
        return 404
    return 409


PROBLEM_HEADINGS = {403: N_("Not yours to open"), 404: N_("Not found"), 409: N_("That did not work")}


def problem_page(request: Request, agent: Agent, error: Exception) -> HTMLResponse:
    status = error_status(error)
    return error_page(request, agent, status, PROBLEM_HEADINGS[status], str(error))
