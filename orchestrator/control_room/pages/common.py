"""What every control-room page shares: signed sessions and CSRF tokens, who is asking,
rendering, flash messages, error pages, the task views, and the task actions the pages and
the JSON API both perform."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from orchestrator.control_room import i18n
from orchestrator.control_room.constant_time import texts_equal
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages import fragments
from orchestrator.errors import (
    NotFound,
    PermissionDenied,
)
from orchestrator.humans.outcomes import MEANINGS, label_for, offered_outcomes, plain_reason
from orchestrator.models import OPEN_TASK, HumanTask, StepEntry, User

HERE = Path(__file__).resolve().parent.parent  # orchestrator/control_room
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
SESSION_COOKIE = "tandem_session"
FLASH_COOKIE = "tandem_flash"
#: A flash cookie's value at most (browsers keep cookies of up to about 4,000 bytes).
FLASH_MAX_CHARACTERS = 3000
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
    if not texts_equal(signature, sign(secret, "session:" + body)):
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
    time_zone: str = "UTC"  # where the user's clock is: their setting, else the server's

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


def settings_secret(request: Request) -> str:
    secret: str = request.app.state.settings.secret_key
    return secret


def store_of(request: Request) -> Any:
    return request.app.state.store


def current_agent(request: Request) -> Agent | None:
    """The signed-in, active user of this request, or None."""
    secret = settings_secret(request)
    found = read_session(secret, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    username, nonce = found
    store = store_of(request)
    user = store.get_user(username)
    if user is None or not user.active:
        return None
    zone = i18n.for_request(request, user).time_zone
    return Agent(user, nonce, csrf_token(secret, nonce), store, time_zone=zone)


def csrf_ok(request: Request, agent: Agent, form: dict[str, Any] | None = None) -> bool:
    sent = request.headers.get("x-csrf-token") or (form or {}).get("csrf_token") or ""
    return texts_equal(str(sent), agent.csrf)


def safe_next(target: str | None) -> str:
    # Only paths on this site: an attacker's ?next=https://evil.example must not redirect away.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/inbox"
    return target


def start_session(request: Request, response: Response, username: str) -> Response:
    """Sign ``username`` in: the session cookie on ``response`` (password or identity provider)."""
    response.set_cookie(
        SESSION_COOKIE,
        session_value(settings_secret(request), username),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.secure_cookies),
    )
    return response


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


# -- rendering -----------------------------------------------------------------------------


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
    value = _b64(json.dumps(entry).encode())
    if len(value) > FLASH_MAX_CHARACTERS:
        # A message that repeats a huge input (a 100,000-character name) would make a cookie
        # no browser keeps and an answer some clients refuse: its start says enough.
        value = _b64(json.dumps([kind, str(text)[: FLASH_MAX_CHARACTERS // 4] + "…"]).encode())
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
        kind, text, *translatable = json.loads(_unb64(value))
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
    postponed_until: datetime | None = None
    outcome: str | None = None


def queue_units(store: Any) -> dict[str, str]:
    return {q.name: q.unit_id for q in store.list_queues()}


def task_rows(store: Any, tasks: list[HumanTask], now: datetime | None = None) -> list[TaskRowView]:
    """Inbox lines for tasks, with their case's workflow and reference."""
    facts = store.case_facts([t.case_id for t in tasks if t.case_id])
    units = queue_units(store)
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
                postponed_until=task.available_at if task.available_at and task.status in OPEN_TASK else None,
                outcome=task.outcome,
            )
        )
    return rows


def sorted_rows(rows: list[TaskRowView], sort: str) -> list[TaskRowView]:
    if sort == "priority":
        return sorted(rows, key=lambda r: (-r.priority, r.due_at))
    if sort == "created":
        return sorted(rows, key=lambda r: r.created_at, reverse=True)
    return sorted(rows, key=lambda r: (r.due_at, -r.priority))


def artifacts_of(steps: list[StepEntry], suffix: str) -> list[Path]:
    """Files the robot kept for a case's steps (oldest first); only what the steps name, and
    only what exists (another machine's robot may have written it)."""
    found: list[Path] = []
    for step in steps:
        for artifact in step.artifacts or []:
            path = Path(str(artifact.get("path", "")) if isinstance(artifact, dict) else str(artifact))
            if path.suffix.lower() == suffix and path.is_file():
                found.append(path)
    return found


def screenshots_of(store: Any, case_id: str | None) -> list[Path]:
    """The robot's screenshots of a case (newest last)."""
    return artifacts_of(store.case_timeline(case_id).steps, ".png") if case_id else []


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
        screenshots = artifacts_of(timeline.steps, ".png")
        for transition in timeline.transitions:
            change = f"case {transition.from_status or 'new'} → {transition.to_status}"
            audit.append(AuditLine(transition.at, transition.actor, change, transition.reason))
    audit.sort(key=lambda line: line.at)
    is_open = task.status in OPEN_TASK
    mine = task.status == "claimed" and task.assignee == agent.username
    escalate_to = store.escalation_targets().get(task.queue) if is_open and agent.can_supervise else None
    may_work = is_open and (task.status == "open" or mine or agent.can_supervise)
    picture = store.case_picture(task.case_id)
    reason_text, reason_detail = plain_reason(task)
    return {
        **row.__dict__,
        "data": task.data,
        "form": task.form,
        "answer": task.answer,
        "kind": task.kind,
        "comments": comments,
        "audit": audit,
        "screenshot_url": f"/tasks/{task.id}/screenshot" if screenshots else None,
        # A postponed task waits for its time (the store refuses the claim before it).
        "can_claim": task.status == "open"
        and (task.available_at is None or task.available_at <= store.now()),
        "can_release": task.status == "claimed" and (mine or agent.can_supervise),
        "can_complete": is_open and (task.status == "open" or mine or agent.can_supervise),
        "can_return": is_open and task.case_id is not None and task.kind != "await_human",
        "can_comment": True,
        "escalate_to": escalate_to,
        "outcomes": [
            (name, label_for(task, name), MEANINGS[name]) for name in offered_outcomes(task, agent.role)
        ]
        if may_work
        else [],
        "correction_fields": store.correction_fields(task) if may_work else [],
        "outcome": task.outcome,
        "outcome_note": task.outcome_note,
        "available_at": task.available_at,
        "origin": task.origin,
        "picture": picture,
        "reason_text": reason_text,
        "reason_detail": reason_detail,
    }


# -- task actions, shared by the pages and the JSON API ----------------------------------------


def answer_from_form(task: HumanTask, form: dict[str, Any]) -> dict[str, Any]:
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


TaskAction = Literal[
    "claim", "release", "complete", "return", "comment", "reassign", "cancel", "escalate", "outcome"
]


@dataclass(frozen=True)
class TaskInput:
    """What an agent sent with a task action, read from a page's form or the API's JSON body.

    The page and the API each read their own input into this; ``act_on_task`` then does the action
    the same way for both.
    """

    answer: dict[str, Any] | None = None  # complete (the form's values); return (optional)
    note: str = ""  # return
    text: str = ""  # comment
    to: str = ""  # reassign: the user name
    reason: str = ""  # cancel, escalate
    outcome: str = ""  # outcome: corrected, done_by_hand, rejected, postponed, cancelled
    corrected_input: dict[str, Any] | None = None  # outcome corrected: changed case input fields
    until: datetime | None = None  # outcome postponed


def parse_until(text: str, time_zone: str = "UTC") -> datetime | None:
    """A date and time from a form (``2026-12-07T10:00``, in ``time_zone`` unless it says otherwise)."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"until: {text!r} is not a date and time (e.g. 2026-12-07T10:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(time_zone))


def form_input(store: Any, agent: Agent, task_id: str, action: str, form: dict[str, Any]) -> TaskInput:
    """A task page's form as the action's input; complete and outcome read the answer by the
    task's form, outcome also the corrected input (fields named ``input.<name>``)."""
    task = store.get_task(task_id, agent.username) if action in ("complete", "outcome") else None
    answer = answer_from_form(task, form) if task is not None else None
    corrected = None
    if action == "outcome" and task is not None:
        current = {f["name"]: f["value"] for f in store.correction_fields(task)}
        given = {k.removeprefix("input."): str(v) for k, v in form.items() if k.startswith("input.")}
        corrected = {k: v for k, v in given.items() if k in current and v != str(current[k] or "")}
    return TaskInput(
        outcome=str(form.get("outcome", "")),
        corrected_input=corrected,
        until=parse_until(str(form.get("until", "")), agent.time_zone),
        answer=answer,
        # The outcome form's own note is named apart: a task's form may have a "note" field.
        note=str(form.get("outcome_note" if action == "outcome" else "note", "")).strip(),
        text=str(form.get("text", "")),
        to=str(form.get("to", "")).strip(),
        reason=str(form.get("reason", "")).strip(),
    )


OUTCOME_MESSAGES = {
    "corrected": N_("Task %(task)s corrected: a robot takes the case on."),
    "done_by_hand": N_("Task %(task)s done by hand: the case is closed and the customer told."),
    "rejected": N_("Task %(task)s rejected: the case is closed and the customer told why."),
    "postponed": N_("Task %(task)s postponed: it is back in its queue then."),
    "cancelled": N_("Task %(task)s cancelled with its case."),
}


def act_on_task(store: Any, agent: Agent, task_id: str, action: str, given: TaskInput) -> str:
    """Do one thing to a task as ``agent``; the message to show. Store errors pass through
    (the store checks that the agent may do it)."""
    name = agent.username
    if action == "claim":
        store.claim_task(task_id, name)
        return Message(N_("Task %(task)s is yours now."), task=task_id)
    if action == "release":
        store.release_task(task_id, name)
        return Message(N_("Task %(task)s is back in its queue."), task=task_id)
    if action == "outcome":
        outcome = given.outcome
        store.resolve_task(
            task_id,
            name,
            outcome,
            answer=given.answer,
            corrected_input=given.corrected_input,
            note=given.note or given.reason,
            until=given.until,
        )
        store.notify_customer(task_id)
        return Message(OUTCOME_MESSAGES.get(outcome, N_("Done.")), task=task_id)
    if action == "complete":
        store.complete_task(task_id, name, given.answer or {})
        store.notify_customer(task_id)
        return Message(N_("Task %(task)s completed; the case goes on."), task=task_id)
    if action == "return":
        store.return_to_robot(task_id, name, given.answer or None, comment=given.note)
        return Message(N_("Task %(task)s returned to a robot."), task=task_id)
    if action == "comment":
        store.comment_task(task_id, name, given.text)
        return Message(N_("Comment added."))
    if action == "reassign":
        store.reassign_task(task_id, name, given.to)
        return Message(N_("Task %(task)s reassigned to %(to)s."), task=task_id, to=given.to)
    if action == "cancel":
        store.cancel_task(task_id, name, given.reason or "cancelled by a supervisor")
        store.notify_customer(task_id)
        return Message(N_("Task %(task)s cancelled."), task=task_id)
    if action == "escalate":
        moved = store.escalate_task(task_id, name, given.reason)
        return Message(N_("Task %(task)s escalated to %(queue)s."), task=task_id, queue=moved.queue)
    raise NotFound("task action", action)
