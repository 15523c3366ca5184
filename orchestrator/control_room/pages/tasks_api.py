"""The agent-facing JSON API under ``/api/tasks`` (session cookie and CSRF header)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyCookie, APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from connectors.fields import NONBLANK_TEXT_PATTERN, TEXT_PATTERN
from orchestrator.control_room.api import ErrorBody
from orchestrator.control_room.pages.rendering import error_status
from orchestrator.control_room.pages.sessions import SESSION_COOKIE, Agent, csrf_ok, current_agent, store_of
from orchestrator.control_room.pages.task_actions import TaskInput, act_on_task
from orchestrator.control_room.pages.task_views import TASK_STATES, task_rows
from orchestrator.errors import (
    OrchestratorError,
)
from orchestrator.humans.outcomes import offered_outcomes
from orchestrator.humans.tasks import AnswerInvalid
from orchestrator.models import OPEN_TASK, HumanTask

# The two halves of an agent's credentials, declared so the OpenAPI schema says how this API
# authenticates (the checks themselves are current_agent and csrf_ok, as for the pages).
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="agent session",
    description="The session cookie that POST /login sets (the agent's sign-in).",
    auto_error=False,
)
_csrf = APIKeyHeader(
    name="X-CSRF-Token",
    scheme_name="CSRF token",
    description="The session's CSRF token (GET /api/tasks returns it); every POST needs it.",
    auto_error=False,
)
#: Reading needs the session; writing needs the session and its CSRF token (both at once).
READING: Final[list[dict[str, list[str]]]] = [{"agent session": []}]
WRITING: Final[list[dict[str, list[str]]]] = [{"agent session": [], "CSRF token": []}]


def settle_security(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with this API's security stated exactly.

    FastAPI lists each security dependency as an alternative (session *or* CSRF token);
    here reading needs the session and writing the session *and* its CSRF token.
    """
    for path, operations in openapi.get("paths", {}).items():
        if path.startswith("/api/tasks"):
            for method, operation in operations.items():
                operation["security"] = READING if method == "get" else WRITING
    return openapi


#: What a task id or a queue name looks like; anything else is a 422, not a lookup.
TASK_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
QUEUE_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
TaskId = Annotated[str, PathParam(pattern=TASK_ID_PATTERN, description="The task id (t-...).")]

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
    outcome: str | None = None
    outcome_note: str | None = None
    available_at: datetime | None = None
    outcomes: list[str] = Field(default_factory=list, description="The outcomes this agent may choose.")


class OutcomeIn(BaseModel):
    """The body of outcome: how the task ends (see docs/control-room.md, "Outcomes")."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["corrected", "done_by_hand", "rejected", "postponed", "cancelled"]
    answer: dict[str, Any] = Field(default_factory=dict, description="The task form's values.")
    input: dict[str, Any] = Field(default_factory=dict, description="Corrected case input fields.")
    note: str = Field(
        "",
        max_length=5000,
        description="What was done by hand, or the reason.",
        json_schema_extra={"pattern": TEXT_PATTERN},
    )
    until: datetime | None = Field(None, description="Postponed: when to continue (with a time zone).")


class TaskAnswer(BaseModel):
    """The body of complete / return: the form's values (and a note for return)."""

    model_config = ConfigDict(extra="forbid")

    answer: dict[str, Any] = Field(default_factory=dict)
    note: str = Field("", json_schema_extra={"pattern": TEXT_PATTERN})


class CommentIn(BaseModel):
    """The body of comment."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000, json_schema_extra={"pattern": NONBLANK_TEXT_PATTERN})


class EscalateIn(BaseModel):
    """The body of escalate: why the task goes to the next level (the next level reads it)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, json_schema_extra={"pattern": NONBLANK_TEXT_PATTERN})


def _api_agent(request: Request, *, writing: bool) -> Agent | JSONResponse:
    agent = current_agent(request)
    if agent is None:
        return JSONResponse(
            {"error": "sign in first (POST /login); this API uses the agent's session cookie"},
            status_code=401,
        )
    if writing and not csrf_ok(request, agent):
        return JSONResponse(
            {"error": "send the session's CSRF token in the X-CSRF-Token header (GET /api/tasks returns it)"},
            status_code=403,
        )
    return agent


def _task_out(store: Any, task: HumanTask, *, full: bool, role: str = "agent") -> dict[str, Any]:
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
        outcome=task.outcome,
        outcome_note=task.outcome_note if full else None,
        available_at=task.available_at,
        outcomes=offered_outcomes(task, role) if full and task.status in OPEN_TASK else [],
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
    return JSONResponse({"error": str(error)}, status_code=error_status(error))


#: What the agents' JSON API answers besides success (documented in the OpenAPI schema).
AGENT_API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No session: sign in first (POST /login)."},
    403: {"model": ErrorBody, "description": "Not the agent's unit or role, or a stale CSRF token."},
    404: {"model": ErrorBody, "description": "No such task."},
    409: {"model": ErrorBody, "description": "The task is not in a state that allows this."},
    413: {"model": ErrorBody, "description": "The request body is too large."},
    422: {"model": ErrorBody, "description": "The request is not valid; every problem is listed."},
}

# Every route shares the tag, the documented error answers and the session (and CSRF) checks.
router = APIRouter(
    tags=["agents"], responses=AGENT_API_ERRORS, dependencies=[Depends(_session), Depends(_csrf)]
)


@router.get(
    "/api/tasks",
    summary="The signed-in agent's tasks",
)
def api_tasks(
    request: Request,
    state: Literal["open", "unclaimed", "mine", "done", "all"] = "open",
    queue: Annotated[str | None, Query(pattern=QUEUE_PATTERN, description="Only this queue.")] = None,
) -> Response:
    """Tasks of the agent's units (session cookie); ``state``: open, unclaimed, mine, done, all."""
    agent = _api_agent(request, writing=False)
    if isinstance(agent, JSONResponse):
        return agent
    store = store_of(request)
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
    summary="One task, if the agent may see it",
)
def api_task(request: Request, task_id: TaskId) -> Response:
    """The task with its data and form; 403 when it belongs to a unit outside the agent's."""
    agent = _api_agent(request, writing=False)
    if isinstance(agent, JSONResponse):
        return agent
    store = store_of(request)
    try:
        task = store.get_task(task_id, agent.username)
    except OrchestratorError as error:
        return _api_error(error)
    return JSONResponse(
        _task_out(store, task, full=True, role=agent.role), headers={"Cache-Control": "no-store"}
    )


def _api_action(request: Request, task_id: str, action: str, given: TaskInput) -> Response:
    agent = _api_agent(request, writing=True)
    if isinstance(agent, JSONResponse):
        return agent
    store = store_of(request)
    try:
        act_on_task(store, agent, task_id, action, given)
        # An escalated task may now be above the supervisor's units; they just moved it, so
        # they are shown where it went.
        task = store.get_task(task_id, None if action == "escalate" else agent.username)
    except (OrchestratorError, ValueError) as error:
        return _api_error(error)
    return JSONResponse(_task_out(store, task, full=True, role=agent.role))


@router.post(
    "/api/tasks/{task_id}/claim",
    summary="Claim a task",
)
def api_claim(request: Request, task_id: TaskId) -> Response:
    """Take an open task (session cookie and X-CSRF-Token)."""
    return _api_action(request, task_id, "claim", TaskInput())


@router.post(
    "/api/tasks/{task_id}/release",
    summary="Release a claimed task",
)
def api_release(request: Request, task_id: TaskId) -> Response:
    """Give a claimed task back to its queue."""
    return _api_action(request, task_id, "release", TaskInput())


@router.post(
    "/api/tasks/{task_id}/complete",
    summary="Complete a task with its form",
)
def api_complete(request: Request, task_id: TaskId, body: TaskAnswer) -> Response:
    """Complete the task; the answer is checked against the task's form (422 lists every problem)."""
    return _api_action(request, task_id, "complete", TaskInput(answer=body.answer))


@router.post(
    "/api/tasks/{task_id}/outcome",
    summary="End a task with an outcome",
)
def api_outcome(request: Request, task_id: TaskId, body: OutcomeIn) -> Response:
    """corrected, done_by_hand (a note), rejected (a reason), postponed (until), cancelled
    (supervisors, ops, admins; a reason). 422 lists every problem; 403 when the role may not."""
    given = TaskInput(
        outcome=body.outcome,
        answer=body.answer or None,
        corrected_input=body.input or None,
        note=body.note,
        until=body.until if body.until is None or body.until.tzinfo else body.until.replace(tzinfo=UTC),
    )
    return _api_action(request, task_id, "outcome", given)


@router.post(
    "/api/tasks/{task_id}/return",
    summary="Return a task's case to a robot",
)
def api_return(request: Request, task_id: TaskId, body: TaskAnswer) -> Response:
    """The case is queued again and a robot resumes it."""
    return _api_action(request, task_id, "return", TaskInput(answer=body.answer, note=body.note))


@router.post(
    "/api/tasks/{task_id}/comment",
    summary="Comment on a task",
)
def api_comment(request: Request, task_id: TaskId, body: CommentIn) -> Response:
    """Add a comment to the task's history."""
    return _api_action(request, task_id, "comment", TaskInput(text=body.text))


@router.post(
    "/api/tasks/{task_id}/escalate",
    summary="Escalate a task to the next level",
)
def api_escalate(request: Request, task_id: TaskId, body: EscalateIn) -> Response:
    """Move the task to the next level's queue (supervisors and admins of its unit); the task
    as it is now, in its new queue."""
    return _api_action(request, task_id, "escalate", TaskInput(reason=body.reason))
