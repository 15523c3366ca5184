"""The agents' control room: login, inbox, task pages, supervisor view, ops dashboard, callouts.

Server-rendered pages (Jinja2 with autoescape: everything a robot gathered from another
application may contain markup) plus a small agent-facing JSON API under ``/api/tasks``.
Agents sign in with their user name and password (argon2 hashes in the store) and get a
session cookie: ``username.issued.nonce.signature``, HMAC-SHA256 signed with the server's
``secret_key``, HttpOnly and SameSite=Lax. Every state-changing request also carries a CSRF
token bound to the session (a form field, or the ``X-CSRF-Token`` header for JSON).

What an agent sees is what the store lets them see: tasks of queues owned by their unit and
the units below it; a task of another unit is refused by the page (403) and the API (403).
The ops dashboard follows the same rule for cases (``TaskStore.case_scope``): an ops user of
a branch sees the cases of their units' queues, headquarters every case.

Pages::

    GET  /login, POST /login, POST /logout
    GET  /inbox                      the agent's tasks: filter, sort, SLA state
    GET  /tasks/{id}                 reason, gathered data, screenshot, form, comments, audit trail
    POST /tasks/{id}/claim|release|complete|return|comment|reassign|cancel|escalate
    GET  /supervisor                 SLA breaches, reassign, escalate a task or every overdue one
    GET  /ops                        robots, queues, cases, schedules, KPIs (of the user's units)
    GET  /ops/cases/{id}             a case's timeline, failure screenshot and trace; retry, cancel
    POST /assist                     "customer on the line": starts the customer_assist robot
    GET  /callouts/stream            Server-Sent Events: callouts and task arrivals (callouts.py)
    GET  /api/tasks, GET /api/tasks/{id}
    POST /api/tasks/{id}/claim|release|complete|return|comment|escalate
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import anyio.to_thread
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from loguru import logger
from pydantic import BaseModel, Field

from orchestrator import kpis as kpi_module
from orchestrator.api import ErrorBody
from orchestrator.callouts import Audience, CalloutHub, last_callout_id, parse_cursor, stream
from orchestrator.errors import (
    InvalidTransition,
    NotFound,
    OrchestratorError,
    PayloadInvalid,
    PermissionDenied,
)
from orchestrator.models import FINISHED, OPEN_TASK, Case, HumanTask, StepEntry, User
from orchestrator.tables import CaseRow, QueueRow, TaskRow
from orchestrator.tasks import AnswerInvalid
from orchestrator.throttle import login_throttle
from robots.errors import TandemError

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
SESSION_COOKIE = "tandem_session"
FLASH_COOKIE = "tandem_flash"
SESSION_HOURS = 12
SUPERVISING = ("supervisor", "admin")
OPERATING = ("ops", "admin")
TASK_STATES: dict[str, tuple[str, ...]] = {
    "open": ("open", "claimed"),
    "unclaimed": ("open",),
    "mine": ("claimed",),
    "done": ("completed", "returned", "cancelled"),
    "all": ("open", "claimed", "completed", "returned", "cancelled"),
}

router = APIRouter()

# -- signing: sessions, CSRF tokens and flash messages ----------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, text: str) -> str:
    """HMAC-SHA256 of ``text`` under ``secret``, URL-safe."""
    return _b64(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest())


def session_value(secret: str, username: str, *, now: float | None = None) -> str:
    """A signed session cookie value for ``username`` (a fresh nonce each login)."""
    body = f"{_b64(username.encode())}.{int(now if now is not None else time.time())}.{secrets.token_hex(8)}"
    return f"{body}.{sign(secret, 'session:' + body)}"


def read_session(secret: str, value: str | None, *, now: float | None = None) -> tuple[str, str] | None:
    """``(username, nonce)`` of a valid, unexpired session cookie, else None."""
    if not value or value.count(".") != 3:
        return None
    body, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, sign(secret, "session:" + body)):
        return None
    name, issued, nonce = body.split(".")
    try:
        username, issued_at = _unb64(name).decode(), int(issued)
    except (ValueError, UnicodeDecodeError):
        return None
    moment = now if now is not None else time.time()
    if not 0 <= moment - issued_at <= SESSION_HOURS * 3600:
        return None
    return username, nonce


def csrf_token(secret: str, nonce: str) -> str:
    """The CSRF token of a session: forms and JSON requests must send it back."""
    return sign(secret, "csrf:" + nonce)


# -- who is asking -------------------------------------------------------------------------


@dataclass
class Agent:
    """The signed-in user of a request, with what the pages need to know about them."""

    user: User
    nonce: str
    csrf: str
    store: Any
    _queues: frozenset[str] | None = field(default=None, repr=False)

    @property
    def username(self) -> str:
        """The user name."""
        return self.user.username

    @property
    def role(self) -> str:
        """agent, supervisor, ops or admin."""
        return self.user.role

    @property
    def display_name(self) -> str:
        """The name shown in the header."""
        return self.user.display_name

    @property
    def units(self) -> list[str]:
        """The user's own unit (they see it and everything below)."""
        return [self.user.unit_id]

    @property
    def can_supervise(self) -> bool:
        """May reassign, escalate and see the supervisor view."""
        return self.user.role in SUPERVISING

    @property
    def can_operate(self) -> bool:
        """May see the ops dashboard and retry or cancel cases."""
        return self.user.role in OPERATING

    @property
    def queues(self) -> frozenset[str]:
        """Names of the queues the user may see (their units' queues)."""
        if self._queues is None:
            self._queues = frozenset(q.name for q in self.store.list_queues(self.username))
        return self._queues


def _settings_secret(request: Request) -> str:
    secret: str = request.app.state.settings.secret_key
    return secret


def _store(request: Request) -> Any:
    return request.app.state.store


def current_agent(request: Request) -> Agent | None:
    """The signed-in, active user of this request, or None."""
    secret = _settings_secret(request)
    found = read_session(secret, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    username, nonce = found
    store = _store(request)
    user = store.get_user(username)
    if user is None or not user.active:
        return None
    return Agent(user, nonce, csrf_token(secret, nonce), store)


def _csrf_ok(request: Request, agent: Agent, form: dict[str, Any] | None = None) -> bool:
    sent = request.headers.get("x-csrf-token") or (form or {}).get("csrf_token") or ""
    return hmac.compare_digest(str(sent), agent.csrf)


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an attacker's ?next=https://evil.example must not redirect away.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/inbox"
    return target


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


# -- rendering -----------------------------------------------------------------------------


def _static_url(name: str) -> str:
    path = STATIC_DIR / name
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"
    return f"/static/{name}?v={version}"


TEMPLATES.env.globals["static"] = _static_url


def _flash(response: Response, request: Request, kind: Literal["ok", "error"], text: str) -> Response:
    value = _b64(json.dumps([kind, text]).encode())
    response.set_cookie(
        FLASH_COOKIE,
        f"{value}.{sign(_settings_secret(request), 'flash:' + value)}",
        max_age=60,
        httponly=True,
        samesite="lax",
    )
    return response


def _read_flash(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE, "")
    value, _, signature = raw.rpartition(".")
    if not value or not hmac.compare_digest(signature, sign(_settings_secret(request), "flash:" + value)):
        return []
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        kind, text = json.loads(_unb64(value))
        return [(str(kind), str(text))]
    return []


def render(
    request: Request, agent: Agent | None, template: str, *, status: int = 200, **values: Any
) -> HTMLResponse:
    """A page of the control room, with the header, flash messages and the callout stream."""
    context = {
        "user": agent,
        "csrf": agent.csrf if agent else "",
        "stream_url": "/callouts/stream"
        + (f"?after={values.pop('callout_after')}" if "callout_after" in values else ""),
        "flashes": _read_flash(request),
        "section": values.pop("section", ""),
        **values,
    }
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE)
    return response


def error_page(
    request: Request, agent: Agent | None, status: int, heading: str, message: str
) -> HTMLResponse:
    """An HTML error page that says what went wrong and where to go."""
    return render(request, agent, "error.html", status=status, heading=heading, message=message)


def _error_status(error: Exception) -> int:
    """The HTTP status of a store error, for the pages and the JSON API alike: 403 for
    another unit's task, 404 for an id that names nothing, 409 for anything else."""
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, NotFound):
        return 404
    return 409


PROBLEM_HEADINGS = {403: "Not yours to open", 404: "Not found", 409: "That did not work"}


def _problem_page(request: Request, agent: Agent, error: Exception) -> HTMLResponse:
    status = _error_status(error)
    return error_page(request, agent, status, PROBLEM_HEADINGS[status], str(error))


# -- view models ---------------------------------------------------------------------------

SlaState = Literal["ok", "due_soon", "breached", "closed"]


def sla_state(task: HumanTask, now: datetime | None = None) -> SlaState:
    """Where a task stands against its due time; due soon = less than a quarter of its time left
    (at least 15 minutes), so a 4-hour queue warns an hour ahead and a 30-minute one 15 minutes."""
    moment = now or datetime.now(UTC)
    if task.breached_at is not None or (task.status in OPEN_TASK and moment > task.due_at):
        return "breached"
    if task.status not in OPEN_TASK:
        return "closed"
    warn = max(timedelta(minutes=15), (task.due_at - task.created_at) / 4)
    return "due_soon" if task.due_at - moment <= warn else "ok"


@dataclass
class TaskRowView:
    """One line of the inbox."""

    id: str
    queue: str
    unit: str
    reason: str
    workflow: str
    reference: str
    case_id: str | None
    case_status: str
    priority: int
    status: str
    sla: str
    claimed_by: str | None
    created_at: datetime
    due_at: datetime


def _case_facts(store: Any, case_ids: list[str]) -> dict[str, tuple[str, str, str]]:
    """case id -> (workflow, reference, status), in one query for a whole task list."""
    if not case_ids:
        return {}
    query = sa.select(CaseRow.id, CaseRow.workflow, CaseRow.reference, CaseRow.status).where(
        CaseRow.id.in_(case_ids)
    )
    with store.engine.connect() as connection:
        return {row[0]: (row[1], row[2], row[3]) for row in connection.execute(query)}


def _queue_units(store: Any) -> dict[str, str]:
    return {q.name: q.unit_id for q in store.list_queues()}


def task_rows(store: Any, tasks: list[HumanTask], now: datetime | None = None) -> list[TaskRowView]:
    """Inbox lines for tasks, with their case's workflow and reference."""
    facts = _case_facts(store, [t.case_id for t in tasks if t.case_id])
    units = _queue_units(store)
    rows = []
    for task in tasks:
        workflow, reference, case_status = facts.get(task.case_id or "", ("manual", "-", "-"))
        rows.append(
            TaskRowView(
                id=task.id,
                queue=task.queue,
                unit=units.get(task.queue, "?"),
                reason=task.reason,
                workflow=workflow,
                reference=reference,
                case_id=task.case_id,
                case_status=case_status,
                priority=task.priority,
                status=task.status,
                sla=sla_state(task, now),
                claimed_by=task.assignee,
                created_at=task.created_at,
                due_at=task.due_at,
            )
        )
    return rows


def _sorted(rows: list[TaskRowView], sort: str) -> list[TaskRowView]:
    if sort == "priority":
        return sorted(rows, key=lambda r: (-r.priority, r.due_at))
    if sort == "created":
        return sorted(rows, key=lambda r: r.created_at, reverse=True)
    return sorted(rows, key=lambda r: (r.due_at, -r.priority))


def _artifacts(steps: list[StepEntry], suffix: str) -> list[Path]:
    """Files the robot kept for a case's steps (oldest first); only what the steps name, and
    only what exists (another machine's robot may have written it)."""
    found: list[Path] = []
    for step in steps:
        for artifact in step.artifacts or []:
            path = Path(str(artifact.get("path", "")) if isinstance(artifact, dict) else str(artifact))
            if path.suffix.lower() == suffix and path.is_file():
                found.append(path)
    return found


def _screenshots(store: Any, case_id: str | None) -> list[Path]:
    """The robot's screenshots of a case (newest last)."""
    return _artifacts(store.case_timeline(case_id).steps, ".png") if case_id else []


@dataclass
class AuditLine:
    """One line of a task's audit trail (a task event or a transition of its case)."""

    at: datetime
    actor: str
    what: str
    detail: str


def task_view(store: Any, task: HumanTask, agent: Agent) -> dict[str, Any]:
    """Everything the task page shows, as plain values."""
    [row] = task_rows(store, [task])
    events = store.task_events(task.id)
    audit = [AuditLine(e.at, e.actor, e.action, e.detail) for e in events]
    comments = [{"author": e.actor, "at": e.at, "text": e.detail} for e in events if e.action == "comment"]
    screenshots: list[Path] = []
    if task.case_id:
        timeline = store.case_timeline(task.case_id)
        screenshots = _artifacts(timeline.steps, ".png")
        for transition in timeline.transitions:
            change = f"case {transition.from_status or 'new'} → {transition.to_status}"
            audit.append(AuditLine(transition.at, transition.actor, change, transition.reason))
    audit.sort(key=lambda line: line.at)
    is_open = task.status in OPEN_TASK
    mine = task.status == "claimed" and task.assignee == agent.username
    escalate_to = store.escalation_targets().get(task.queue) if is_open and agent.can_supervise else None
    return {
        **row.__dict__,
        "data": task.data,
        "form": task.form,
        "answer": task.answer,
        "kind": task.kind,
        "comments": comments,
        "audit": audit,
        "screenshot_url": f"/tasks/{task.id}/screenshot" if screenshots else None,
        "can_claim": task.status == "open",
        "can_release": task.status == "claimed" and (mine or agent.can_supervise),
        "can_complete": is_open and (task.status == "open" or mine or agent.can_supervise),
        "can_return": is_open and task.case_id is not None and task.kind != "await_human",
        "can_comment": True,
        "escalate_to": escalate_to,
    }


# -- login ---------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    """The control room starts at the inbox."""
    return RedirectResponse("/inbox", status_code=303)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/inbox") -> Response:
    """The sign-in form."""
    return render(request, None, "login.html", next=_safe_next(next), username="", error="")


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Check the password; on success set the session cookie and go where the agent wanted."""
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/inbox")))
    store = _store(request)
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
            error=f"Too many failed sign-ins. Wait {seconds} seconds and try again.",
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
            error="Wrong user name or password.",
        )
    throttle.succeeded(username)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(_settings_secret(request), user.username),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.secure_cookies),
    )
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    agent = current_agent(request)
    form = dict(await request.form())
    if agent is not None and not _csrf_ok(request, agent, form):
        return error_page(request, agent, 403, "Stale form", "Reload the page and try again.")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- static files --------------------------------------------------------------------------


@router.get("/static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    """The control room's CSS and JavaScript (shipped in the package: works offline)."""
    path = (STATIC_DIR / name).resolve()
    if path.parent != STATIC_DIR or not path.is_file():
        return JSONResponse({"error": f"no static file {name!r}"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


# -- inbox and tasks -----------------------------------------------------------------------


@router.get("/inbox", response_class=HTMLResponse, include_in_schema=False)
def inbox(
    request: Request, queue: str = "", state: str = "open", sla: str = "", sort: str = "due"
) -> Response:
    """The agent's task list: their units' queues, filtered and sorted."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    store = _store(request)
    state = state if state in TASK_STATES else "open"
    sort = sort if sort in ("due", "priority", "created") else "due"
    chosen_queue = queue if queue in agent.queues else None
    tasks = store.list_tasks(
        agent.username,
        statuses=TASK_STATES[state],
        queue=chosen_queue,
        assignee=agent.username if state == "mine" else None,
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
        tasks=_sorted(rows, sort),
        queues=sorted(agent.queues),
        filters={"queue": chosen_queue or "", "state": state, "sla": sla, "sort": sort},
        callout_after=last_callout_id(store),
    )


@router.get("/tasks/{task_id}", response_class=HTMLResponse, include_in_schema=False)
def task_page(request: Request, task_id: str) -> Response:
    """One task: why, what was gathered, the screenshot, the form, comments, the audit trail."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    store = _store(request)
    try:
        task = store.get_task(task_id, agent.username)
    except (PermissionDenied, NotFound) as error:
        return _problem_page(request, agent, error)
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
        return _to_login(request)
    store = _store(request)
    try:
        task = store.get_task(task_id, agent.username)
    except (PermissionDenied, NotFound) as error:
        return _problem_page(request, agent, error)
    shots = _screenshots(store, task.case_id)
    if not shots:
        return error_page(
            request, agent, 404, "No screenshot", f"the robot kept no screenshot for task {task_id}"
        )
    return FileResponse(shots[-1], media_type="image/png")


def _answer_from_form(task: HumanTask, form: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for spec in task.form:
        name = spec.get("name") if isinstance(spec, dict) else None
        if not name:
            continue
        if spec.get("type") == "boolean":
            answer[name] = form.get(name) == "true"
        elif name in form and str(form[name]) != "":
            answer[name] = str(form[name])
    return answer


TaskAction = Literal["claim", "release", "complete", "return", "comment", "reassign", "cancel", "escalate"]


@dataclass(frozen=True)
class TaskInput:
    """What an agent sent with a task action, read from a page's form or the API's JSON body.

    The page and the API each read their own input into this; ``_act`` then does the action
    the same way for both.
    """

    answer: dict[str, Any] | None = None  # complete (the form's values); return (optional)
    note: str = ""  # return
    text: str = ""  # comment
    to: str = ""  # reassign: the user name
    reason: str = ""  # cancel, escalate


def _form_input(store: Any, agent: Agent, task_id: str, action: str, form: dict[str, Any]) -> TaskInput:
    """A task page's form as the action's input; complete reads the answer by the task's form."""
    answer = (
        _answer_from_form(store.get_task(task_id, agent.username), form) if action == "complete" else None
    )
    return TaskInput(
        answer=answer,
        note=str(form.get("note", "")).strip(),
        text=str(form.get("text", "")),
        to=str(form.get("to", "")).strip(),
        reason=str(form.get("reason", "")).strip(),
    )


def _act(store: Any, agent: Agent, task_id: str, action: str, given: TaskInput) -> str:
    """Do one thing to a task as ``agent``; the message to show. Store errors pass through
    (the store checks that the agent may do it)."""
    name = agent.username
    if action == "claim":
        store.claim_task(task_id, name)
        return f"Task {task_id} is yours now."
    if action == "release":
        store.release_task(task_id, name)
        return f"Task {task_id} is back in its queue."
    if action == "complete":
        store.complete_task(task_id, name, given.answer or {})
        return f"Task {task_id} completed; the case goes on."
    if action == "return":
        store.return_to_robot(task_id, name, given.answer or None, comment=given.note)
        return f"Task {task_id} returned to a robot."
    if action == "comment":
        store.comment_task(task_id, name, given.text)
        return "Comment added."
    if action == "reassign":
        store.reassign_task(task_id, name, given.to)
        return f"Task {task_id} reassigned to {given.to}."
    if action == "cancel":
        store.cancel_task(task_id, name, given.reason or "cancelled by a supervisor")
        return f"Task {task_id} cancelled."
    if action == "escalate":
        moved = store.escalate_task(task_id, name, given.reason)
        return f"Task {task_id} escalated to {moved.queue}."
    raise NotFound("task action", action)


@router.post("/tasks/{task_id}/{action}", include_in_schema=False)
async def task_action(request: Request, task_id: str, action: str) -> Response:
    """A button on a task page (or the supervisor view): do it, then show the result."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    form = dict(await request.form())
    if not _csrf_ok(request, agent, form):
        return error_page(
            request, agent, 403, "Stale form", "The form expired; reload the page and try again."
        )
    store = _store(request)
    back = _safe_next(str(form.get("back", "")) or f"/tasks/{task_id}")
    try:
        message = await anyio.to_thread.run_sync(
            lambda: _act(store, agent, task_id, action, _form_input(store, agent, task_id, action, form))
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
            answers=_answer_from_form(task, form),
            form_errors=error.problems,
        )
    except (PermissionDenied, NotFound) as error:
        return _problem_page(request, agent, error)
    except (InvalidTransition, ValueError, OrchestratorError) as error:
        return _flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    if action in ("complete", "return", "cancel") and back == f"/tasks/{task_id}":
        back = "/inbox"
    if action == "escalate" and back == f"/tasks/{task_id}":
        back = "/supervisor"  # the task may now be above the supervisor's units
    return _flash(RedirectResponse(back, status_code=303), request, "ok", message)


# -- assist --------------------------------------------------------------------------------


@router.post("/assist", include_in_schema=False)
async def assist(request: Request) -> Response:
    """ "Customer on the line": start the customer_assist robot; its findings pop up for this agent."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    form = dict(await request.form())
    if not _csrf_ok(request, agent, form):
        return error_page(
            request, agent, 403, "Stale form", "The form expired; reload the page and try again."
        )
    customer = str(form.get("customer_id", "")).strip().upper()
    back = _safe_next(request.headers.get("referer", "").split(urlsplit(str(request.base_url)).netloc, 1)[-1])
    store = _store(request)
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
        return _flash(RedirectResponse(back, status_code=303), request, "error", f"Cannot assist: {problems}")
    return _flash(
        RedirectResponse(back, status_code=303),
        request,
        "ok",
        f"A robot is gathering what we know about {customer}; it pops up here in a moment (case {case.id}).",
    )


# -- callouts ------------------------------------------------------------------------------


def _hub(request: Request) -> CalloutHub:
    hub: CalloutHub | None = getattr(request.app.state, "callout_hub", None)
    if hub is None:
        hub = request.app.state.callout_hub = CalloutHub(_store(request))
    return hub


@router.get("/callouts/stream", include_in_schema=False)
async def callout_stream(request: Request, after: str = "") -> Response:
    """Server-Sent Events for the signed-in agent: callouts and task arrivals for them."""
    agent = await anyio.to_thread.run_sync(current_agent, request)
    if agent is None:
        return JSONResponse(
            {"error": "sign in first: the callout stream needs an agent session"}, status_code=401
        )
    queues = await anyio.to_thread.run_sync(lambda: agent.queues)
    cursor = parse_cursor(request.headers.get("last-event-id"), after)
    return await stream(_hub(request), Audience(agent.username, queues), cursor)


# -- supervisor ----------------------------------------------------------------------------


@router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
def supervisor(request: Request) -> Response:
    """SLA breaches and every open task of the supervisor's units; reassign and escalate."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    if not agent.can_supervise:
        return error_page(request, agent, 403, "Supervisors only", "This view is for supervisors and admins.")
    store = _store(request)
    rows = _sorted(
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
        return _to_login(request)
    form = dict(await request.form())
    if not _csrf_ok(request, agent, form) or not agent.can_supervise:
        return error_page(request, agent, 403, "Not allowed", "Supervisors only, with a fresh form.")
    moved = await anyio.to_thread.run_sync(_store(request).escalate_overdue_tasks)
    text = f"{len(moved)} overdue task(s) moved to the next level." if moved else "No task needed escalating."
    return _flash(RedirectResponse("/supervisor", status_code=303), request, "ok", text)


# -- ops dashboard -------------------------------------------------------------------------


def queue_counts(store: Any, within: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Every queue (or those named in ``within``) with its number of tasks per state (one
    grouped query)."""
    query = sa.select(TaskRow.queue, TaskRow.status, sa.func.count()).group_by(TaskRow.queue, TaskRow.status)
    with store.engine.connect() as connection:
        counted = connection.execute(query).all()
        queues = connection.execute(sa.select(QueueRow.name, QueueRow.unit_id, QueueRow.sla_minutes)).all()
    rows = {
        name: {"name": name, "unit": unit, "sla_minutes": sla, "counts": {}} for name, unit, sla in queues
    }
    for name, status, count in counted:
        rows.setdefault(name, {"name": name, "unit": "?", "sla_minutes": None, "counts": {}})["counts"][
            status
        ] = count
    return [rows[name] for name in sorted(rows) if within is None or name in within]


def schedule_service(request: Request) -> Any:
    """The schedule service of this app (list, pause, resume, run now), made on first use."""
    service = getattr(request.app.state, "schedule_service", None)
    if service is None:
        from orchestrator.schedules import ScheduleService

        store = _store(request)
        service = ScheduleService(store, engine=store.engine, root=store.project.root)
        request.app.state.schedule_service = service
    return service


def _schedule_rows(request: Request) -> tuple[list[Any], str]:
    try:
        service = schedule_service(request)
        problems = "; ".join(str(p) for p in service.problems)
        return list(service.list_schedules()), (
            f"Some schedule files have problems: {problems}" if problems else ""
        )
    except Exception as error:  # a broken schedules folder must not take the whole dashboard down
        logger.warning("listing schedules failed: {}", error)
        return [], f"Schedules cannot be listed: {error}"


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
def ops(
    request: Request, reference: str = "", workflow: str = "", state: str = "", period: str = "7d"
) -> Response:
    """The ops dashboard: robots, queues, cases, schedules and KPIs."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    if not agent.can_operate:
        return error_page(request, agent, 403, "Ops only", "The operations dashboard is for ops and admins.")
    store = _store(request)
    period = period if period in kpi_module.PERIODS else "7d"
    scope = store.case_scope(agent.username)
    rows = kpi_module.compute_kpis(
        store.engine, store.project, since=kpi_module.period_start(period), scope=scope
    )
    cases = store.list_cases(
        workflow=workflow or None,
        status=state or None,
        reference=reference or None,
        visible_to=agent.username,
        limit=50,
    )
    schedules, schedule_note = _schedule_rows(request)
    now = datetime.now(UTC)
    robots = store.list_robots()
    return render(
        request,
        agent,
        "ops.html",
        section="ops",
        scoped=scope is not None,
        robots=robots,
        robot_stale=lambda robot: (now - robot.heartbeat_at) > timedelta(seconds=90),
        robot_cases=store.visible_case_ids(agent.username, [r.case_id for r in robots if r.case_id]),
        queues=queue_counts(store, None if scope is None else agent.queues),
        counts=store.count_cases(visible_to=agent.username),
        cases=cases,
        workflows=sorted(store.project.workflow_files()),
        filters={"reference": reference, "workflow": workflow, "state": state, "period": period},
        periods=list(kpi_module.PERIODS),
        kpis=rows,
        total=kpi_module.totals(rows),
        schedules=schedules,
        schedule_note=schedule_note,
        states=[
            "queued",
            "running",
            "waiting_human",
            "done",
            "failed_business",
            "failed_system",
            "cancelled",
        ],
        callout_after=last_callout_id(store),
    )


@router.get("/ops/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def ops_case(request: Request, case_id: str) -> Response:
    """A case: its timeline, runs, tasks, the failure's screenshot and trace; retry or cancel."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    if not agent.can_operate:
        return error_page(request, agent, 403, "Ops only", "Cases are shown to ops and admins.")
    store = _store(request)
    try:
        store.check_case_visible(case_id, agent.username)
        timeline = store.case_timeline(case_id)
    except (PermissionDenied, NotFound) as error:
        return _problem_page(request, agent, error)
    case: Case = timeline.case
    return render(
        request,
        agent,
        "case.html",
        section="ops",
        case=case,
        timeline=timeline,
        entries=timeline.entries(),
        screenshots=len(_artifacts(timeline.steps, ".png")),
        traces=len(_artifacts(timeline.steps, ".zip")),
        can_retry=case.status in ("failed_business", "failed_system", "waiting_human", "cancelled"),
        can_cancel=case.status not in FINISHED,
        callout_after=last_callout_id(store),
    )


@router.get("/ops/cases/{case_id}/artifact/{kind}/{index}", include_in_schema=False)
def ops_case_artifact(request: Request, case_id: str, kind: str, index: int) -> Response:
    """A failure screenshot (``png``) or Playwright trace (``trace``) of a case, by position."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    if not agent.can_operate:
        return error_page(request, agent, 403, "Ops only", "Artifacts are shown to ops and admins.")
    store = _store(request)
    try:
        store.check_case_visible(case_id, agent.username)
        suffix = {"png": ".png", "trace": ".zip"}.get(kind)
        files = _artifacts(store.case_timeline(case_id).steps, suffix) if suffix else []
    except (PermissionDenied, NotFound) as error:
        return _problem_page(request, agent, error)
    if not 0 <= index < len(files):
        return error_page(request, agent, 404, "No such file", f"case {case_id} has no {kind} number {index}")
    path = files[index]
    if kind == "png":
        return FileResponse(path, media_type="image/png")
    return FileResponse(path, media_type="application/zip", filename=path.name)


@router.post("/ops/cases/{case_id}/{action}", include_in_schema=False)
async def ops_case_action(request: Request, case_id: str, action: str) -> Response:
    """Retry or cancel a case by hand."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    form = dict(await request.form())
    if not _csrf_ok(request, agent, form) or not agent.can_operate:
        return error_page(request, agent, 403, "Not allowed", "Ops and admins only, with a fresh form.")
    store = _store(request)
    reason = str(form.get("reason", "")).strip()
    back = f"/ops/cases/{case_id}"
    actions: dict[str, Callable[[], Any]] = {
        "retry": lambda: store.retry_case(case_id, actor=agent.username, reason=reason or "retried by hand"),
        "cancel": lambda: store.cancel_case(
            case_id, actor=agent.username, reason=reason or "cancelled by hand"
        ),
    }
    if action not in actions:
        return error_page(
            request, agent, 404, "Unknown action", f"cases can be retried or cancelled, not {action!r}"
        )
    try:
        await anyio.to_thread.run_sync(lambda: store.check_case_visible(case_id, agent.username))
        await anyio.to_thread.run_sync(actions[action])
    except (PermissionDenied, NotFound) as error:
        return _problem_page(request, agent, error)
    except (InvalidTransition, OrchestratorError) as error:
        return _flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    done = "queued again" if action == "retry" else "cancelled"
    return _flash(RedirectResponse(back, status_code=303), request, "ok", f"Case {case_id} {done}.")


@router.post("/ops/schedules/{name}/{action}", include_in_schema=False)
async def ops_schedule_action(request: Request, name: str, action: str) -> Response:
    """Pause, resume or fire a schedule now."""
    agent = current_agent(request)
    if agent is None:
        return _to_login(request)
    form = dict(await request.form())
    if not _csrf_ok(request, agent, form) or not agent.can_operate:
        return error_page(request, agent, 403, "Not allowed", "Ops and admins only, with a fresh form.")
    if action not in ("pause", "resume", "run"):
        return error_page(
            request, agent, 404, "Unknown action", f"schedules can pause, resume or run, not {action!r}"
        )
    actor = f"ops:{agent.username}"

    def act() -> str:
        service = schedule_service(request)
        if action == "pause":
            service.pause(name, actor=actor)
            return f"Schedule {name} paused."
        if action == "resume":
            service.resume(name, actor=actor)
            return f"Schedule {name} resumed."
        summary = service.run_now(name)
        return f"Schedule {name} fired: {summary}"

    try:
        message = await anyio.to_thread.run_sync(act)
    except (TandemError, ValueError, KeyError) as error:
        return _flash(RedirectResponse("/ops#schedules", status_code=303), request, "error", str(error))
    return _flash(RedirectResponse("/ops#schedules", status_code=303), request, "ok", message)


@router.get("/ops/kpis.json", include_in_schema=False)
def ops_kpis(request: Request, period: str = "7d") -> Response:
    """The KPIs as JSON (for a BI tool), per workflow and in total, of the cases the user sees."""
    agent = current_agent(request)
    if agent is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    if not agent.can_operate:
        return JSONResponse({"error": "ops and admins only"}, status_code=403)
    if period not in kpi_module.PERIODS:
        problems = [{"field": "period", "message": f"use one of {', '.join(kpi_module.PERIODS)}"}]
        return JSONResponse({"error": "unknown period", "problems": problems}, status_code=422)
    store = _store(request)
    rows = kpi_module.compute_kpis(
        store.engine,
        store.project,
        since=kpi_module.period_start(period),
        scope=store.case_scope(agent.username),
    )
    return JSONResponse(
        {
            "period": period,
            "workflows": [r.as_dict() for r in rows],
            "total": kpi_module.totals(rows).as_dict(),
        }
    )


# -- the agent-facing JSON API ---------------------------------------------------------------


class TaskOut(BaseModel):
    """A task as an agent's client sees it."""

    id: str
    queue: str
    reason: str
    status: str
    sla: str
    priority: int
    assignee: str | None
    case_id: str | None
    workflow: str
    reference: str
    created_at: datetime
    due_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
    form: list[Any] = Field(default_factory=list)
    answer: dict[str, Any] | None = None


class TaskAnswer(BaseModel):
    """The body of complete / return: the form's values (and a note for return)."""

    answer: dict[str, Any] = Field(default_factory=dict)
    note: str = ""


class CommentIn(BaseModel):
    """The body of comment."""

    text: str = Field(min_length=1, max_length=5000)


class EscalateIn(BaseModel):
    """The body of escalate: why the task goes to the next level (the next level reads it)."""

    reason: str = Field(min_length=1, max_length=2000)


def _api_agent(request: Request, *, writing: bool) -> Agent | JSONResponse:
    agent = current_agent(request)
    if agent is None:
        return JSONResponse(
            {"error": "sign in first (POST /login); this API uses the agent's session cookie"},
            status_code=401,
        )
    if writing and not _csrf_ok(request, agent):
        return JSONResponse(
            {"error": "send the session's CSRF token in the X-CSRF-Token header (GET /api/tasks returns it)"},
            status_code=403,
        )
    return agent


def _task_out(store: Any, task: HumanTask, *, full: bool) -> dict[str, Any]:
    [row] = task_rows(store, [task])
    out = TaskOut(
        id=task.id,
        queue=task.queue,
        reason=task.reason,
        status=task.status,
        sla=row.sla,
        priority=task.priority,
        assignee=task.assignee,
        case_id=task.case_id,
        workflow=row.workflow,
        reference=row.reference,
        created_at=task.created_at,
        due_at=task.due_at,
        data=task.data if full else {},
        form=task.form if full else [],
        answer=task.answer if full else None,
    )
    return out.model_dump(mode="json")


def _api_error(error: Exception) -> JSONResponse:
    if isinstance(error, AnswerInvalid):
        problems = [
            {"field": p.split(":", 1)[0], "message": p.split(":", 1)[-1].strip()} for p in error.problems
        ]
        return JSONResponse({"error": str(error), "problems": problems}, status_code=422)
    if isinstance(error, ValueError):
        return JSONResponse({"error": str(error), "problems": []}, status_code=422)
    return JSONResponse({"error": str(error)}, status_code=_error_status(error))


#: What the agents' JSON API answers besides success (documented in the OpenAPI schema).
AGENT_API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No session: sign in first (POST /login)."},
    403: {"model": ErrorBody, "description": "Not the agent's unit or role, or a stale CSRF token."},
    404: {"model": ErrorBody, "description": "No such task."},
    409: {"model": ErrorBody, "description": "The task is not in a state that allows this."},
    413: {"model": ErrorBody, "description": "The request body is too large."},
    422: {"model": ErrorBody, "description": "The request is not valid; every problem is listed."},
}


@router.get("/api/tasks", tags=["agents"], summary="The signed-in agent's tasks", responses=AGENT_API_ERRORS)
def api_tasks(request: Request, state: str = "open", queue: str | None = None) -> Response:
    """Tasks of the agent's units (session cookie); ``state``: open, unclaimed, mine, done, all."""
    agent = _api_agent(request, writing=False)
    if isinstance(agent, JSONResponse):
        return agent
    if state not in TASK_STATES:
        problems = [{"field": "state", "message": f"use one of {', '.join(TASK_STATES)}"}]
        return JSONResponse({"error": "unknown state", "problems": problems}, status_code=422)
    store = _store(request)
    tasks = store.list_tasks(
        agent.username,
        statuses=TASK_STATES[state],
        queue=queue,
        assignee=agent.username if state == "mine" else None,
    )
    return JSONResponse(
        {"csrf_token": agent.csrf, "tasks": [_task_out(store, task, full=False) for task in tasks]},
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/api/tasks/{task_id}",
    tags=["agents"],
    summary="One task, if the agent may see it",
    responses=AGENT_API_ERRORS,
)
def api_task(request: Request, task_id: str) -> Response:
    """The task with its data and form; 403 when it belongs to a unit outside the agent's."""
    agent = _api_agent(request, writing=False)
    if isinstance(agent, JSONResponse):
        return agent
    store = _store(request)
    try:
        task = store.get_task(task_id, agent.username)
    except OrchestratorError as error:
        return _api_error(error)
    return JSONResponse(_task_out(store, task, full=True), headers={"Cache-Control": "no-store"})


def _api_action(request: Request, task_id: str, action: str, given: TaskInput) -> Response:
    agent = _api_agent(request, writing=True)
    if isinstance(agent, JSONResponse):
        return agent
    store = _store(request)
    try:
        _act(store, agent, task_id, action, given)
        # An escalated task may now be above the supervisor's units; they just moved it, so
        # they are shown where it went.
        task = store.get_task(task_id, None if action == "escalate" else agent.username)
    except (OrchestratorError, ValueError) as error:
        return _api_error(error)
    return JSONResponse(_task_out(store, task, full=True))


@router.post(
    "/api/tasks/{task_id}/claim", tags=["agents"], summary="Claim a task", responses=AGENT_API_ERRORS
)
def api_claim(request: Request, task_id: str) -> Response:
    """Take an open task (session cookie and X-CSRF-Token)."""
    return _api_action(request, task_id, "claim", TaskInput())


@router.post(
    "/api/tasks/{task_id}/release",
    tags=["agents"],
    summary="Release a claimed task",
    responses=AGENT_API_ERRORS,
)
def api_release(request: Request, task_id: str) -> Response:
    """Give a claimed task back to its queue."""
    return _api_action(request, task_id, "release", TaskInput())


@router.post(
    "/api/tasks/{task_id}/complete",
    tags=["agents"],
    summary="Complete a task with its form",
    responses=AGENT_API_ERRORS,
)
def api_complete(request: Request, task_id: str, body: TaskAnswer) -> Response:
    """Complete the task; the answer is checked against the task's form (422 lists every problem)."""
    return _api_action(request, task_id, "complete", TaskInput(answer=body.answer))


@router.post(
    "/api/tasks/{task_id}/return",
    tags=["agents"],
    summary="Return a task's case to a robot",
    responses=AGENT_API_ERRORS,
)
def api_return(request: Request, task_id: str, body: TaskAnswer) -> Response:
    """The case is queued again and a robot resumes it."""
    return _api_action(request, task_id, "return", TaskInput(answer=body.answer, note=body.note))


@router.post(
    "/api/tasks/{task_id}/comment", tags=["agents"], summary="Comment on a task", responses=AGENT_API_ERRORS
)
def api_comment(request: Request, task_id: str, body: CommentIn) -> Response:
    """Add a comment to the task's history."""
    return _api_action(request, task_id, "comment", TaskInput(text=body.text))


@router.post(
    "/api/tasks/{task_id}/escalate",
    tags=["agents"],
    summary="Escalate a task to the next level",
    responses=AGENT_API_ERRORS,
)
def api_escalate(request: Request, task_id: str, body: EscalateIn) -> Response:
    """Move the task to the next level's queue (supervisors and admins of its unit); the task
    as it is now, in its new queue."""
    return _api_action(request, task_id, "escalate", TaskInput(reason=body.reason))
