"""The supervisor view: SLA breaches, reassigning, escalating overdue tasks."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.control_room.callouts import last_callout_id
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import Message, error_page, flash, render
from orchestrator.control_room.pages.sessions import csrf_ok, current_agent, store_of, to_login
from orchestrator.control_room.pages.task_views import sorted_rows, task_rows

router = APIRouter()

# -- supervisor ----------------------------------------------------------------------------


@router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
def supervisor(request: Request) -> Response:
    """SLA breaches and every open task of the supervisor's units; reassign and escalate."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    if not agent.can_supervise:
        return error_page(
            request, agent, 403, N_("Supervisors only"), N_("This view is for supervisors and admins.")
        )
    store = store_of(request)
    rows = sorted_rows(
        task_rows(store, store.list_tasks(agent.username, statuses=("open", "claimed"), limit=500)), "due"
    )
    people = [
        u for u in store.list_users(agent.user.unit_id) if u.active and u.role in ("agent", "supervisor")
    ]
    by_queue: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = by_queue.setdefault(row.queue, {"open": 0, "claimed": 0, "breached": 0, "due_soon": 0})
        counts[row.status] = counts.get(row.status, 0) + 1
        if row.sla in ("breached", "due_soon"):
            counts[row.sla] += 1
    return render(
        request,
        agent,
        "supervisor.html",
        section="supervisor",
        breached=[r for r in rows if r.sla == "breached"],
        tasks=rows,
        people=people,
        escalate_to=store.escalation_targets(),
        by_queue=by_queue,
        callout_after=last_callout_id(store),
    )


@router.post("/supervisor/escalate-overdue", include_in_schema=False)
async def escalate_overdue(request: Request) -> Response:
    """Run the SLA escalation rule now: overdue tasks move to the next level's queue."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = dict(await request.form())
    if not csrf_ok(request, agent, form) or not agent.can_supervise:
        return error_page(request, agent, 403, N_("Not allowed"), N_("Supervisors only, with a fresh form."))
    moved = await anyio.to_thread.run_sync(store_of(request).escalate_overdue_tasks)
    text = (
        Message(N_("%(count)s overdue task(s) moved to the next level."), count=len(moved))
        if moved
        else Message(N_("No task needed escalating."))
    )
    return flash(RedirectResponse("/supervisor", status_code=303), request, "ok", text)
