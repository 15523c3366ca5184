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
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse_many, storage, strategies
from limits.errors import ConfigurationError as LimitsConfigurationError
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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
from orchestrator.errors import NotFound, PayloadInvalid
from orchestrator.humans.customer_links import status_path
from orchestrator.models import ApiToken, Case, CaseTimeline, StepEntry, Transition
from robots.language.inputs import input_model
from robots.language.model import Workflow, not_a_process

#: What a case id looks like (``c-`` and letters/digits); anything else is a 422, not a lookup.
CASE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


# --- rate limits -----------------------------------------------------------------------


class RateLimiter:
    """Counts requests per key (token, client address) against limits like ``50/second``."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        try:
            self._storage = storage.storage_from_string(storage_uri)
        except (LimitsConfigurationError, ValueError) as error:
            raise ValueError(
                f"rate_limit_storage {storage_uri!r} cannot be used ({error}); "
                "use 'memory://' or 'redis://host:6379'"
            ) from None
        # A sliding window counter: smooth like a moving window, but O(1) memory per key.
        self._limiter = strategies.SlidingWindowCounterRateLimiter(self._storage)
        self._parsed: dict[str, list[RateLimitItem]] = {}

    @staticmethod
    def parse(notation: str) -> list[RateLimitItem]:
        """The limits of ``notation`` ('50/second;1000/minute'); ValueError saying how to write one."""
        try:
            items = parse_many(notation)
        except ValueError:
            raise ValueError(
                f"rate limit {notation!r} is not valid: write e.g. '50/second' or '50/second;1000/minute'"
            ) from None
        if not items:
            raise ValueError(f"rate limit {notation!r} names no limit: write e.g. '50/second'")
        return items

    def hit(self, notation: str, key: str) -> float | None:
        """Count one request for ``key``; None when allowed, else seconds until the next is."""
        items = self._parsed.get(notation)
        if items is None:
            items = self._parsed[notation] = self.parse(notation)
        for item in items:
            if not self._limiter.hit(item, key):
                reset_at = self._limiter.get_window_stats(item, key).reset_time
                return max(1.0, reset_at - time.time())
        return None


def enforce_rate(request: Request, notation: str, key: str) -> None:
    """Raise 429 (with Retry-After) when ``key`` is over ``notation``."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.hit(notation, key)
    if wait is not None:
        raise HTTPException(
            status_code=429,
            detail=f"rate limit {notation} exceeded; retry in {wait:.0f} s",
            headers={"Retry-After": str(int(wait + 0.999))},
        )


# --- metrics ---------------------------------------------------------------------------


class ApiMetrics:
    """The app's Prometheus metrics, in a registry of its own (several apps in one process)."""

    def __init__(self, store: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tandem_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tandem_http_request_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.cases = Counter(
            "tandem_api_cases",
            "Case requests through the API, by workflow, channel and outcome (created/existing).",
            ["workflow", "channel", "outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "tandem_api_rejected",
            "API requests refused, by reason (auth, scope, rate, invalid).",
            ["reason"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, noting its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


# --- auth ------------------------------------------------------------------------------


class TokenCache:
    """Recently verified tokens, so a busy channel does not cost a database read per request.

    Only valid tokens are kept, for ``seconds`` (``ServerSettings.token_cache_seconds``): a
    revoked token stops working within that time on every server process. 0 turns it off.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, ApiToken]] = {}

    def verify(self, plaintext: str, store: Any) -> ApiToken | None:
        """The token's record if it is valid (from the cache or the store), else None."""
        if self.seconds <= 0:
            return store.verify_token(plaintext)
        key = hashlib.sha256(plaintext.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        token: ApiToken | None = store.verify_token(plaintext)
        with self._lock:
            if token is None:
                self._tokens.pop(key, None)
            else:
                if len(self._tokens) > 10_000:  # bounded: tokens are few, this only guards memory
                    self._tokens.clear()
                self._tokens[key] = (now + self.seconds, token)
        return token


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="channel token",
    description="The channel's API token (issued with `run.py token create`).",
)


def channel_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The caller's token, checked and counted against its rate limit; 401/429 otherwise."""
    metrics: ApiMetrics = request.app.state.metrics
    presented = credentials.credentials if credentials is not None else ""
    token = request.app.state.token_cache.verify(presented, request.app.state.store) if presented else None
    if token is None:
        metrics.rejected.labels("auth").inc()
        raise HTTPException(
            status_code=401,
            detail=(
                "the API token is not valid or was revoked; ask the operators for a new one"
                if presented
                else "an API token is required: send 'Authorization: Bearer <token>'"
            ),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"' if presented else "Bearer"},
        )
    settings = request.app.state.settings
    limit = settings.channel_rate_limits.get(token.channel, settings.rate_limit)
    try:
        enforce_rate(request, limit, f"token:{token.id}")
    except HTTPException:
        metrics.rejected.labels("rate").inc()
        raise
    return token


Token = Annotated[ApiToken, Depends(channel_token)]


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


# --- tokens from the command line (run.py token ...) -----------------------------------


def _cli_store() -> Any:
    from orchestrator.service import Orchestrator

    return Orchestrator()


def cli_create_token(channel: str, workflows: list[str], description: str, console: Any) -> int:
    """``run.py token create``: issue a token and print its secret once; the exit code."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,50}", channel):
        console.print(f"[red]channel {channel!r}: use 1-50 letters, digits, '_', '-' or '.'[/red]")
        return 2
    store = _cli_store()
    try:
        unknown = [w for w in workflows if w != "*" and w not in store.project.workflow_files()]
        if unknown:
            known = ", ".join(sorted(store.project.workflow_files()))
            console.print(f"[red]no workflow named {', '.join(unknown)}; workflows: {known}[/red]")
            return 2
        token, secret = store.create_token(channel, workflows, description=description)
    finally:
        store.close()
    console.print(f"token {token.id} for channel {token.channel} may start: {', '.join(token.workflows)}")
    console.print("the secret (shown only now; send it as 'Authorization: Bearer <secret>'):")
    console.print(secret, highlight=False, markup=False, soft_wrap=True)
    return 0


def cli_list_tokens(console: Any) -> None:
    """``run.py token list``: every token without its secret."""
    from rich.table import Table

    store = _cli_store()
    try:
        tokens = store.list_tokens()
    finally:
        store.close()
    table = Table("id", "channel", "workflows", "created", "revoked", "description")
    for token in tokens:
        table.add_row(
            token.id,
            token.channel,
            ", ".join(token.workflows),
            f"{token.created_at:%Y-%m-%d %H:%M}",
            f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "",
            token.description,
        )
    console.print(table)


def cli_revoke_token(token_id: str, console: Any) -> int:
    """``run.py token revoke``: revoke by id; the exit code."""
    store = _cli_store()
    try:
        store.revoke_token(token_id)
    except NotFound:
        console.print(f"[red]no API token {token_id!r}; `run.py token list` shows them[/red]")
        return 1
    finally:
        store.close()
    console.print(f"token {token_id} revoked")
    return 0
