"""The notification tray: the signed-in user's callouts and task arrivals, read or unread.

The tray is in every page's header (``base.html``, filled by ``rendering.render``); this module
serves its full page and marks notifications read. Opening one marks it read and leads to its
task. The store decides what is in a tray (``orchestrator/humans/notifications.py``).
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import error_page, render
from orchestrator.control_room.pages.sessions import csrf_ok, current_agent, safe_next, store_of, to_login

router = APIRouter()


@router.get("/notifications", response_class=HTMLResponse, include_in_schema=False)
def notifications(request: Request) -> Response:
    """Every notification in the user's tray, newest first, unread ones marked."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    return render(request, agent, "notifications.html", section="notifications")


@router.get("/notifications/{callout_id}/open", include_in_schema=False)
def open_notification(request: Request, callout_id: int) -> Response:
    """Mark one notification read and go to its task (or to the tray when it has none now)."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    store = store_of(request)
    store.mark_notifications_read(agent.username, [callout_id])
    for item in store.notifications_for(agent.username):
        if item.callout.id == callout_id and item.task_id:
            return RedirectResponse(f"/tasks/{item.task_id}", status_code=303)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/read", include_in_schema=False)
async def mark_read(request: Request) -> Response:
    """Mark the posted ``ids`` (none: the whole tray) read. A form gets the page it came from
    back; a script (``X-CSRF-Token``) gets 204."""
    agent = await anyio.to_thread.run_sync(current_agent, request)
    if agent is None:
        return to_login(request)
    form = await request.form()
    if not csrf_ok(request, agent, dict(form)):
        return error_page(
            request, agent, 403, N_("Not allowed"), N_("This form has expired: reload the page.")
        )
    ids = [
        int(value)
        for value in map(str, form.getlist("ids"))
        if value.isascii() and value.isdigit() and len(value) <= 18
    ]
    store = store_of(request)
    await anyio.to_thread.run_sync(lambda: store.mark_notifications_read(agent.username, ids or None))
    if request.headers.get("x-csrf-token"):
        return Response(status_code=204)
    return RedirectResponse(safe_next(str(form.get("back") or "/notifications")), status_code=303)
