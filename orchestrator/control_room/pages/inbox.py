"""The agent's pages: the inbox, a task (reason, data, screenshot, form), its actions, "customer on
the line" assist, and the callout stream."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from orchestrator.control_room.callouts import Audience, CalloutHub, last_callout_id, parse_cursor, stream
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import Message, error_page, flash, problem_page, render
from orchestrator.control_room.pages.sessions import csrf_ok, current_agent, safe_next, store_of, to_login
from orchestrator.control_room.pages.task_actions import act_on_task, answer_from_form, form_input
from orchestrator.control_room.pages.task_views import (
    TASK_STATES,
    screenshots_of,
    sorted_rows,
    task_rows,
    task_view,
)
from orchestrator.errors import (
    InvalidTransition,
    NotFound,
    OrchestratorError,
    PayloadInvalid,
    PermissionDenied,
)
from orchestrator.humans.tasks import AnswerInvalid
from orchestrator.models import ChangeMarks

router = APIRouter()

# -- inbox and tasks -----------------------------------------------------------------------


@router.get("/inbox", response_class=HTMLResponse, include_in_schema=False)
def inbox(
    request: Request, queue: str = "", state: str = "open", sla: str = "", sort: str = "due", q: str = ""
) -> Response:
    """The agent's task list: their units' queues, filtered, searched (``q``: reference, payload
    and data values, queue...; ``orchestrator.humans.task_search``) and sorted."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    store = store_of(request)
    state = state if state in TASK_STATES else "open"
    sort = sort if sort in ("due", "priority", "created") else "due"
    chosen_queue = queue if queue in agent.queues else None
    tasks = store.list_tasks(
        agent.username,
        statuses=TASK_STATES[state],
        queue=chosen_queue,
        assignee=agent.username if state == "mine" else None,
        search=q[:200],
        limit=300,
    )
    rows = task_rows(store, tasks)
    if sla in ("ok", "due_soon", "breached"):
        rows = [r for r in rows if r.sla == sla]
    return render(
        request,
        agent,
        "inbox.html",
        section="inbox",
        tasks=sorted_rows(rows, sort),
        queues=sorted(agent.queues),
        filters={"queue": chosen_queue or "", "state": state, "sla": sla, "sort": sort, "q": q.strip()[:200]},
        callout_after=last_callout_id(store),
    )


@router.get("/tasks/{task_id}", response_class=HTMLResponse, include_in_schema=False)
def task_page(request: Request, task_id: str) -> Response:
    """One task: why, what was gathered, the screenshot, the form, comments, the audit trail."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    store = store_of(request)
    try:
        task = store.get_task(task_id, agent.username)
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    return render(
        request,
        agent,
        "task.html",
        section="inbox",
        task=task_view(store, task, agent),
        answers={},
        form_errors=[],
        callout_after=last_callout_id(store),
    )


@router.get("/tasks/{task_id}/screenshot", include_in_schema=False)
def task_screenshot(request: Request, task_id: str) -> Response:
    """The last screenshot the robot kept for the task's case (same access rule as the task)."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    store = store_of(request)
    try:
        task = store.get_task(task_id, agent.username)
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    shots = screenshots_of(store, task.case_id)
    if not shots:
        return error_page(
            request,
            agent,
            404,
            N_("No screenshot"),
            Message(N_("the robot kept no screenshot for task %(task)s"), task=task_id),
        )
    return FileResponse(shots[-1], media_type="image/png")


@router.post("/tasks/{task_id}/{action}", include_in_schema=False)
async def task_action(request: Request, task_id: str, action: str) -> Response:
    """A button on a task page (or the supervisor view): do it, then show the result."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = dict(await request.form())
    if not csrf_ok(request, agent, form):
        return error_page(
            request, agent, 403, N_("Stale form"), N_("The form expired; reload the page and try again.")
        )
    store = store_of(request)
    back = safe_next(str(form.get("back", "")) or f"/tasks/{task_id}")
    try:
        message = await anyio.to_thread.run_sync(
            lambda: act_on_task(
                store, agent, task_id, action, form_input(store, agent, task_id, action, form)
            )
        )
    except AnswerInvalid as error:
        task = await anyio.to_thread.run_sync(lambda: store.get_task(task_id, agent.username))
        view = await anyio.to_thread.run_sync(lambda: task_view(store, task, agent))
        return render(
            request,
            agent,
            "task.html",
            status=422,
            section="inbox",
            task=view,
            answers=answer_from_form(task, form),
            inputs={k.removeprefix("input."): v for k, v in form.items() if k.startswith("input.")},
            note=str(form.get("outcome_note", "")),
            until=str(form.get("until", "")),
            form_errors=error.problems,
        )
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    except (InvalidTransition, ValueError, OrchestratorError) as error:
        return flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    if action in ("complete", "return", "cancel", "outcome") and back == f"/tasks/{task_id}":
        back = "/inbox"
    if action == "escalate" and back == f"/tasks/{task_id}":
        back = "/supervisor"  # the task may now be above the supervisor's units
    return flash(RedirectResponse(back, status_code=303), request, "ok", message)


# -- assist --------------------------------------------------------------------------------


@router.post("/assist", include_in_schema=False)
async def assist(request: Request) -> Response:
    """ "Customer on the line": start the customer_assist robot; its findings pop up for this agent."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = dict(await request.form())
    if not csrf_ok(request, agent, form):
        return error_page(
            request, agent, 403, N_("Stale form"), N_("The form expired; reload the page and try again.")
        )
    customer = str(form.get("customer_id", "")).strip().upper()
    back = safe_next(request.headers.get("referer", "").split(urlsplit(str(request.base_url)).netloc, 1)[-1])
    store = store_of(request)
    reference = f"assist-{agent.username}-{customer}-{int(time.time())}"
    try:
        case, _ = await anyio.to_thread.run_sync(
            lambda: store.create_case(
                "customer_assist",
                reference,
                {"customer_id": customer, "agent": agent.username},
                priority=90,  # someone is on the phone: ahead of batch work
                actor=agent.username,
                channel="agent",
            )
        )
    except PayloadInvalid as error:
        problems = "; ".join(f"{field}: {message}" for field, message in error.problems)
        return flash(
            RedirectResponse(back, status_code=303),
            request,
            "error",
            Message(N_("Cannot assist: %(problems)s"), problems=problems),
        )
    return flash(
        RedirectResponse(back, status_code=303),
        request,
        "ok",
        Message(
            N_(
                "A robot is gathering what we know about %(customer)s; "
                "it pops up here in a moment (case %(case)s)."
            ),
            customer=customer,
            case=case.id,
        ),
    )


# -- callouts ------------------------------------------------------------------------------


def _hub(request: Request) -> CalloutHub:
    hub: CalloutHub | None = getattr(request.app.state, "callout_hub", None)
    if hub is None:
        hub = request.app.state.callout_hub = CalloutHub(store_of(request))
    return hub


@router.get("/callouts/stream", include_in_schema=False)
async def callout_stream(request: Request, after: str = "", marks: str = "") -> Response:
    """Server-Sent Events for the signed-in agent: callouts and task arrivals for them, and
    ``changed`` events when what the page (rendered with ``marks``) shows moved."""
    agent = await anyio.to_thread.run_sync(current_agent, request)
    if agent is None:
        return JSONResponse(
            {"error": "sign in first: the callout stream needs an agent session"}, status_code=401
        )
    queues = await anyio.to_thread.run_sync(lambda: agent.queues)
    cursor = parse_cursor(request.headers.get("last-event-id"), after)
    return await stream(_hub(request), Audience(agent.username, queues), cursor, ChangeMarks.parse(marks))
