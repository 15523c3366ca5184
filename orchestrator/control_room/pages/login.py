"""Signing in and out, the home redirect, and the control room's static files."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from loguru import logger

from orchestrator.control_room import i18n
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import STATIC_DIR, error_page, render
from orchestrator.control_room.pages.sessions import (
    SESSION_COOKIE,
    csrf_ok,
    current_agent,
    from_another_site,
    safe_next,
    start_session,
    store_of,
)
from orchestrator.control_room.served_files import served_file
from orchestrator.control_room.throttle import login_throttle

router = APIRouter()

# -- login ---------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    """The control room starts at the inbox."""
    return RedirectResponse("/inbox", status_code=303)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/inbox") -> Response:
    """The sign-in form."""
    return render(request, None, "login.html", next=safe_next(next), username="", error="", error_values={})


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Check the password; on success set the session cookie and go where the agent wanted."""
    if from_another_site(request):
        logger.info("audit=login_cross_site: a sign-in posted from another site was refused")
        return error_page(
            request,
            None,
            403,
            N_("Sign-in refused"),
            N_("This sign-in was sent from another site. Sign in on the control room's own sign-in page."),
        )
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/inbox")))
    store = store_of(request)
    throttle = login_throttle(request.app)
    address = request.client.host if request.client else "unknown"

    def locked(wait: float) -> Response:
        seconds = int(wait + 0.999)
        response = render(
            request,
            None,
            "login.html",
            status=429,
            next=target,
            username=username,
            error=N_("Too many failed sign-ins. Wait %(seconds)s seconds and try again."),
            error_values={"seconds": seconds},
        )
        response.headers["Retry-After"] = str(seconds)
        return response

    wait = throttle.wait_seconds(username, address)
    if wait > 0:
        # Answered before the password is checked: a guess costs neither a hash nor a chance.
        return locked(wait)
    user = await anyio.to_thread.run_sync(
        lambda: store.verify_password(username, password) if username else None
    )
    if user is None:
        known = bool(username) and await anyio.to_thread.run_sync(
            lambda: store.get_user(username) is not None
        )
        # Only a real user name is logged: people type their password into the name field.
        logger.info("failed sign-in for {}", repr(username) if known else "an unknown user name")
        wait = throttle.failed(username, address, known_user=known)
        if wait > 0:
            return locked(wait)
        return render(
            request,
            None,
            "login.html",
            status=401,
            next=target,
            username=username,
            error=N_("Wrong user name or password."),
            error_values={},
        )
    throttle.succeeded(username)
    return start_session(request, RedirectResponse(target, status_code=303), user.username)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    agent = current_agent(request)
    form = dict(await request.form())
    if agent is not None and not csrf_ok(request, agent, form):
        return error_page(request, agent, 403, N_("Stale form"), N_("Reload the page and try again."))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- the user's own settings: language and time zone ------------------------------------------


@router.post("/preferences", include_in_schema=False)
async def preferences(request: Request) -> Response:
    """Store the signed-in user's language and time zone (empty: the browser's / the server's)."""
    agent = current_agent(request)
    if agent is None:
        return RedirectResponse("/login", status_code=303)
    form = dict(await request.form())
    if not csrf_ok(request, agent, form):
        return error_page(request, agent, 403, N_("Stale form"), N_("Reload the page and try again."))
    language = i18n.valid_language(str(form.get("language") or ""))
    time_zone = str(form.get("time_zone") or "").strip() or None
    if time_zone is not None and i18n.valid_time_zone(time_zone) is None:
        return error_page(
            request, agent, 422, N_("Unknown time zone"), N_("Choose a time zone from the list.")
        )
    store = store_of(request)
    await anyio.to_thread.run_sync(
        lambda: store.set_user_preferences(agent.username, language=language, time_zone=time_zone)
    )
    return RedirectResponse(safe_next(str(form.get("next") or "/inbox")), status_code=303)


# -- static files --------------------------------------------------------------------------


@router.get("/static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    """The control room's CSS and JavaScript (shipped in the package: works offline)."""
    path = served_file(STATIC_DIR, name)
    if path is None or path.parent != STATIC_DIR:
        return JSONResponse({"error": f"no static file {name!r}"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
