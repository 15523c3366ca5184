"""The channel API: IVRs, webforms and other systems start cases and follow them.

::

    POST /api/cases                 {workflow, reference, payload, priority, deadline}
                                    201 new case | 200 the case of a repeated reference |
                                    422 every problem | 401 no/bad token | 403 workflow not in
                                    the token's scope | 429 over the token's rate limit
    POST /api/channels/ivr          an IVR's own payload (event, call id, caller number, ...)
    POST /api/channels/webform      a webform backend's own payload (form, submission id, fields)
    GET  /api/cases/{id}            status, timeline and outputs (cases of the token's channel)
    GET  /api/workflows[/{name}]    the workflows the token may start, each with the JSON Schema
                                    of its payload (what POST /api/cases checks it against)
    GET  /api/health                liveness and database reachability (no token)
    GET  /metrics                   Prometheus metrics (any valid token)

Every call except health needs ``Authorization: Bearer <token>``; tokens are per channel,
stored only as hashes, and scoped to the workflows they may start (see
``orchestrator`` tokens). Each token has a rate limit (``ServerSettings.rate_limit``).

Owns: the API's routes, their request and response shapes and its error shape
(``ErrorBody``, ``error_body``); ``start_case`` (shared with the webform). Tokens and rate
limits are ``orchestrator.control_room.api_access``, the metrics
``orchestrator.control_room.api_metrics``.

May import: ``orchestrator.control_room.api_access`` and ``api_metrics``, ``orchestrator.errors``,
``orchestrator.models``, ``orchestrator.humans.customer_links``, ``connectors`` and ``robots``;
the store only through ``request.app.state``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from connectors.channels import (
    IVR_FIELDS,
    WEBFORM_FIELDS,
    WORKFLOW_NAME,
    CaseRequest,
    IvrCall,
    WebformSubmission,
    channel_field,
    map_ivr_call,
    map_webform,
)
from orchestrator.control_room.api_access import Token
from orchestrator.control_room.api_metrics import ApiMetrics
from orchestrator.errors import NotFound, PayloadInvalid
from orchestrator.humans.customer_links import status_path
from orchestrator.models import ApiToken, Case, CaseTimeline, StepEntry, Transition
from robots.language.inputs import input_model
from robots.language.model import Workflow, not_a_process

#: What a case id looks like (``c-`` and letters/digits); anything else is a 422, not a lookup.
CASE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


# --- errors ----------------------------------------------------------------------------


class Problem(BaseModel):
    """One thing wrong with a request."""

    field: str = Field(description="Where: a body field (payload.postal_code), header or parameter.")
    message: str = Field(description="What is wrong and how to fix it.")


class ErrorBody(BaseModel):
    """Every error response of the API."""

    error: str = Field(description="What went wrong, in a sentence.")
    problems: list[Problem] | None = Field(default=None, description="Every problem (422 only).")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No token, or not a valid one."},
    413: {"model": ErrorBody, "description": "The request body is larger than max_body_bytes."},
    422: {
        "model": ErrorBody,
        "description": "The request is not valid (also: control characters anywhere); the first 20 problems.",
    },
    429: {"model": ErrorBody, "description": "Over the token's rate limit; see Retry-After."},
}


def error_body(message: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The JSON of every error the API returns."""
    body: dict[str, Any] = {"error": message}
    if problems is not None:
        body["problems"] = problems
    return body


# --- responses -------------------------------------------------------------------------


class CaseAccepted(BaseModel):
    """The case a request created (201) or found for its reference (200)."""

    id: str = Field(description="The case id.")
    workflow: str
    reference: str
    status: str = Field(description="queued, running, waiting_human, done, failed_business, ...")
    created: bool = Field(description="False when the reference was posted before (the same case).")
    status_url: str = Field(description="Where to follow the case: GET it with the same token.")
    customer_status_url: str = Field(
        description=(
            "A signed link to a page that shows the customer the case's status in plain words, "
            "without a login: e.g. sent to the caller by SMS. Status only. The whole address when "
            "the server's public URL is configured (TANDEM_PUBLIC_URL), else a path on this server."
        )
    )
    created_at: datetime


class TimelineEntry(BaseModel):
    """One thing that happened to a case."""

    at: datetime
    kind: Literal["transition", "step"]
    what: str = Field(description="The new status, or the step's label.")
    outcome: str = Field(description="For a transition its status, for a step ok/failed/skipped...")
    detail: str = Field(default="", description="Why (transition) or the step's error.")


class CaseView(BaseModel):
    """What a channel shows the customer about their case."""

    id: str
    workflow: str
    reference: str
    status: str
    priority: int
    deadline: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    waiting_for_person: bool = Field(description="A person in the back-office works on it now.")
    outputs: dict[str, Any] | None = Field(description="What the workflow produced (when done).")
    error: str | None = Field(description="Why the case failed, if it did.")
    timeline: list[TimelineEntry]


class Health(BaseModel):
    """Whether the server and its database answer."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]


def _entry(item: Transition | StepEntry) -> TimelineEntry:
    if isinstance(item, Transition):
        return TimelineEntry(
            at=item.at, kind="transition", what=item.to_status, outcome=item.to_status, detail=item.reason
        )
    return TimelineEntry(
        at=item.started_at, kind="step", what=item.label, outcome=item.outcome, detail=item.error or ""
    )


def case_view(timeline: CaseTimeline) -> CaseView:
    """The channel's view of a case and its timeline."""
    case = timeline.case
    return CaseView(
        id=case.id,
        workflow=case.workflow,
        reference=case.reference,
        status=case.status,
        priority=case.priority,
        deadline=case.deadline,
        created_at=case.created_at,
        updated_at=case.updated_at,
        finished_at=case.finished_at,
        waiting_for_person=case.status == "waiting_human",
        outputs=case.outputs,
        error=case.error if case.status.startswith("failed") else None,
        timeline=[_entry(item) for item in timeline.entries()],
    )


# --- creating cases --------------------------------------------------------------------


def start_case(request: Request, body: CaseRequest, *, channel: str, created_by: str) -> tuple[Case, bool]:
    """Create the case (or find it by reference) and count it; PayloadInvalid lists problems."""
    # On SQLite, writers from every thread and process queue on one file lock and are
    # woken in turn (orchestrator.storage.db.WriterConnection).
    case, created = request.app.state.store.create_case(
        body.workflow,
        body.reference,
        body.payload,
        priority=body.priority,
        deadline=body.deadline,
        channel=channel,
        actor=created_by,
    )
    metrics: ApiMetrics = request.app.state.metrics
    metrics.cases.labels(case.workflow, channel, "created" if created else "existing").inc()
    return case, created


def _accept(request: Request, response: Response, token: ApiToken, body: CaseRequest) -> CaseAccepted:
    if not token.allows(body.workflow):
        request.app.state.metrics.rejected.labels("scope").inc()
        allowed = ", ".join(token.workflows) or "none"
        raise HTTPException(
            status_code=403,
            detail=(
                f"the token of channel {token.channel!r} may not start workflow {body.workflow!r} "
                f"(it may start: {allowed})"
            ),
        )
    try:
        case, created = start_case(
            request, body, channel=token.channel, created_by=f"channel:{token.channel}"
        )
    except PayloadInvalid:
        request.app.state.metrics.rejected.labels("invalid").inc()
        raise
    url = f"/api/cases/{case.id}"  # what url_for("get_case") gives, without a walk over the routes
    response.status_code = 201 if created else 200
    if created:
        response.headers["Location"] = url
    return CaseAccepted(
        id=case.id,
        workflow=case.workflow,
        reference=case.reference,
        status=case.status,
        created=created,
        status_url=url,
        customer_status_url=(request.app.state.settings.public_url or "")
        + status_path(request.app.state.settings.secret_key, case.id),
        created_at=case.created_at,
    )


def _renamed(error: PayloadInvalid, mapping: dict[str, str]) -> PayloadInvalid:
    """The same problems under the channel's field names (what its developer knows)."""
    problems = []
    for field, message in error.problems:
        bare = field.removeprefix("input.").removeprefix("payload.")
        top = bare.split(".", 1)[0]
        problems.append((channel_field(mapping, top) if top in mapping.values() else field, message))
    return PayloadInvalid(error.workflow, problems)


router = APIRouter()

ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {"model": CaseAccepted, "description": "The reference was posted before: the existing case."},
    201: {"model": CaseAccepted, "description": "A new case was created and queued."},
    403: {"model": ErrorBody, "description": "The token may not start this workflow."},
    **ERRORS,
}


@router.post(
    "/api/cases",
    tags=["cases"],
    summary="Start a workflow for a case",
    status_code=201,
    response_model=CaseAccepted,
    responses=ACCEPTED,
)
def create_case(request: Request, response: Response, body: CaseRequest, token: Token) -> CaseAccepted:
    """Queue a case for the robots; posting the same reference again returns the same case."""
    return _accept(request, response, token, body)


@router.post(
    "/api/channels/ivr",
    tags=["channels"],
    summary="An IVR call finished a menu",
    status_code=201,
    response_model=CaseAccepted,
    responses=ACCEPTED,
)
def ivr_call(request: Request, response: Response, call: IvrCall, token: Token) -> CaseAccepted:
    """Start the workflow for the caller's menu choice ('delivery appointment', 'appointment failed')."""
    body = map_ivr_call(call, _inputs_of(request, call_workflow(call)))
    try:
        return _accept(request, response, token, body)
    except PayloadInvalid as error:
        raise _renamed(error, IVR_FIELDS) from None


@router.post(
    "/api/channels/webform",
    tags=["channels"],
    summary="A webform was submitted",
    status_code=201,
    response_model=CaseAccepted,
    responses=ACCEPTED,
)
def webform_submission(
    request: Request, response: Response, submission: WebformSubmission, token: Token
) -> CaseAccepted:
    """Start the workflow of the submitted form (address-change -> address_change)."""
    try:
        return _accept(request, response, token, map_webform(submission))
    except PayloadInvalid as error:
        raise _renamed(error, {f"fields.{k}": v for k, v in WEBFORM_FIELDS.items()}) from None


def call_workflow(call: IvrCall) -> str:
    """The workflow an IVR call starts."""
    return map_ivr_call(call).workflow


def _inputs_of(request: Request, workflow: str) -> set[str] | None:
    try:
        return set(request.app.state.store.project.workflow(workflow).input)
    except Exception:  # an unknown or broken workflow is reported when the case is created
        return None


@router.get(
    "/api/cases/{case_id}",
    tags=["cases"],
    summary="A case's status, timeline and outputs",
    response_model=CaseView,
    responses={404: {"model": ErrorBody, "description": "No such case for this channel."}, **ERRORS},
)
def get_case(
    request: Request,
    case_id: Annotated[str, PathParam(pattern=CASE_ID_PATTERN, description="The case id (c-...).")],
    token: Token,
) -> CaseView:
    """What the channel shows the customer; only cases this token's channel started."""
    try:
        timeline: CaseTimeline = request.app.state.store.case_timeline(case_id)
    except NotFound:
        timeline = None  # type: ignore[assignment]
    # Another channel's case answers exactly like a missing one: ids are not to be probed.
    if timeline is None or timeline.case.channel != token.channel:
        raise HTTPException(status_code=404, detail=f"no case {case_id!r} for channel {token.channel!r}")
    return case_view(timeline)


class WorkflowInput(BaseModel):
    """A workflow a channel may start, and the payload it takes."""

    name: str = Field(description="The workflow's name: the 'workflow' of POST /api/cases.")
    description: str = Field(description="What the process does, in its author's words.")
    payload_schema: dict[str, Any] = Field(
        description=(
            "The JSON Schema of the payload (the workflow's input): POST /api/cases checks the "
            "payload against exactly this, and answers 422 with every problem when it does not fit."
        )
    )


def _startable(request: Request, token: ApiToken) -> dict[str, Workflow]:
    """The workflows the token may start that load and are processes (not login routines)."""
    project = request.app.state.store.project
    found: dict[str, Workflow] = {}
    for name in sorted(project.workflow_files()):
        if not token.allows(name):
            continue
        try:
            flow = project.workflow(name)
        except Exception:  # a broken file: `run.py validate` names its problems; cases refuse it
            continue
        if not_a_process(flow) is None:
            found[name] = flow
    return found


def _workflow_input(flow: Workflow) -> WorkflowInput:
    return WorkflowInput(
        name=flow.name, description=flow.description, payload_schema=input_model(flow).model_json_schema()
    )


@router.get(
    "/api/workflows",
    tags=["cases"],
    summary="The workflows this token may start, with their payload schemas",
    response_model=list[WorkflowInput],
    responses=ERRORS,
)
def list_workflows(request: Request, token: Token) -> list[WorkflowInput]:
    """Each workflow's payload schema is read from the project's files now: a changed
    workflow is described (and checked) as it is when the case is posted."""
    return [_workflow_input(flow) for flow in _startable(request, token).values()]


@router.get(
    "/api/workflows/{name}",
    tags=["cases"],
    summary="One workflow's payload schema",
    response_model=WorkflowInput,
    responses={
        404: {"model": ErrorBody, "description": "No workflow of that name for this token."},
        **ERRORS,
    },
)
def get_workflow(
    request: Request,
    name: Annotated[str, PathParam(pattern=WORKFLOW_NAME, description="The workflow's name.")],
    token: Token,
) -> WorkflowInput:
    """The payload schema of a workflow the token may start (404 for any other name)."""
    flow = _startable(request, token).get(name)
    if flow is None:
        raise HTTPException(status_code=404, detail=f"no workflow {name!r} that this token may start")
    return _workflow_input(flow)


@router.get(
    "/api/health",
    tags=["operations"],
    summary="Is the server up and its database reachable?",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer."}},
)
def health(request: Request, response: Response) -> Health:
    """Liveness and readiness for load balancers; needs no token."""
    try:
        with request.app.state.store.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        response.status_code = 503
        return Health(status="unavailable", database="unreachable")
    return Health(status="ok", database="ok")


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."},
        **ERRORS,
    },
)
def metrics(request: Request, token: Token) -> Response:
    """Request counts and latencies, cases created per workflow and channel, refusals."""
    exposition: bytes = request.app.state.metrics.exposition()
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
