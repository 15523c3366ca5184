"""The control room's web application: one FastAPI app for channels, customers and agents.

``create_app(settings)`` builds it: the channel API (``orchestrator.control_room.api``), the public
webform (``orchestrator.control_room.webform``) and, when it is there, the agent inbox and ops dashboard
(``orchestrator.control_room.pages``). Everything shares one store (``app.state.store``), one settings object
(``app.state.settings``) and one Prometheus registry (``app.state.metrics``).

Errors under ``/api`` and ``/metrics`` are JSON: ``{"error": "...", "problems": [...]}`` with
every problem of a bad request listed (422), never a bare traceback; an unexpected failure
is a 500 with an id that is also in the log.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.control_room import i18n
from orchestrator.control_room.api import error_body
from orchestrator.control_room.api_access import RateLimiter, TokenCache
from orchestrator.control_room.api_metrics import ApiMetrics, MetricsMiddleware
from orchestrator.control_room.headers import SecurityHeaders
from orchestrator.control_room.limits import DEFAULT_MAX_BODY_BYTES, RequestGuard, bounded_problems
from orchestrator.control_room.throttle import LoginThrottle
from orchestrator.errors import InvalidTransition, NotFound, PayloadInvalid, PermissionDenied
from orchestrator.humans.customer_links import CustomerLinks, public_url_problem
from robots.language.project import Project

#: How stale the workflow index may be: a new or renamed workflow file is seen within this.
RECHECK_SECONDS = 1.0


class IndexedProject(Project):
    """A project whose workflow-name index is looked at again at most once a second.

    Creating a case looks its workflow up by name. ``Project.workflow_files`` finds every
    workflow file (and, in older versions, parsed them all) on each call; the API would
    spend that on every request. Here the index is reused for ``RECHECK_SECONDS``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api_index_lock = threading.Lock()
        self._api_index: dict[str, Path] | None = None
        self._api_checked_at = 0.0

    def workflow_files(self) -> dict[str, Path]:
        """Workflow name -> file (files are looked at again at most once a second)."""
        with self._api_index_lock:
            now = time.monotonic()
            if self._api_index is None or now - self._api_checked_at >= RECHECK_SECONDS:
                self._api_index = super().workflow_files()
                self._api_checked_at = now
            return dict(self._api_index)


def indexed(project: Project) -> IndexedProject:
    """The same project folders with the cached name index."""
    if isinstance(project, IndexedProject):
        return project
    return IndexedProject(project.root, workflows_dir=project.workflows_dir, rules_dir=project.rules_dir)


class ServerSettings(BaseModel):
    """How the control room runs. Every field has a default that works on one machine."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        default=None,
        description="Where cases live; default TANDEM_DATABASE_URL, else sqlite:///tandem.db.",
    )
    project_root: Path | None = Field(
        default=None, description="The project (workflows/, business_rules/); default TANDEM_HOME."
    )
    secret_key: str = Field(
        default_factory=lambda: os.environ.get("TANDEM_SECRET_KEY") or secrets.token_urlsafe(32),
        min_length=16,
        description=(
            "Signs CSRF tokens, webform status links and agent sessions. Set TANDEM_SECRET_KEY "
            "so links and sessions survive a restart and work across several server processes."
        ),
    )
    rate_limit: str = Field(
        default="50/second;1000/minute",
        description="Requests per API token (limits notation, e.g. '50/second;1000/minute').",
    )
    channel_rate_limits: dict[str, str] = Field(
        default_factory=dict, description="Channel -> rate limit, overriding rate_limit for its tokens."
    )
    webform_rate_limit: str = Field(
        default="20/minute", description="Webform submissions per client address."
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live; 'redis://host:6379' shares them between servers.",
    )
    token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a verified API token is trusted without asking the database again "
        "(a revoked token stops working within this time); 0 asks every time.",
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        description="The largest request body accepted (bytes); a larger one is answered 413.",
    )
    public_docs: bool = Field(
        default=True, description="Serve /docs and /openapi.json without a token (they hold no data)."
    )
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (set behind HTTPS).")
    public_url: str | None = Field(
        default=None,
        description="The address customers reach this server at, e.g. https://service.example.com "
        "(TANDEM_PUBLIC_URL): the status links in customers' mails and the channel API's "
        "customer_status_url start with it. Unset: mails carry no status link and the API gives "
        "the link's path. Robot workers need the same value and TANDEM_SECRET_KEY.",
    )
    language: str = Field(
        default="en",
        description="The language of pages when neither the user's setting nor the browser names "
        "one we have: 'en' or 'de' (TANDEM_LANGUAGE).",
    )
    time_zone: str = Field(
        default="Europe/Berlin",
        description="The time zone times are shown in unless a user chose another (TANDEM_TIME_ZONE).",
    )

    oidc_issuer: str | None = Field(
        default=None,
        description="The identity provider's issuer URL for OpenID Connect sign-in (TANDEM_OIDC_ISSUER); "
        "unset: passwords only.",
    )
    oidc_client_id: str | None = Field(
        default=None, description="Tandem's client id at the identity provider (TANDEM_OIDC_CLIENT_ID)."
    )
    oidc_client_secret: str | None = Field(
        default=None,
        repr=False,
        description="The client secret (TANDEM_OIDC_CLIENT_SECRET); unset: the vault entry "
        "oidc_client_secret_name.",
    )
    oidc_client_secret_name: str = Field(
        default="oidc.client_secret",
        description="The vault entry holding the client secret (TANDEM_OIDC_CLIENT_SECRET_NAME).",
    )
    oidc_username_claim: str = Field(
        default="preferred_username",
        description="The ID token's claim that names the Tandem user (TANDEM_OIDC_USERNAME_CLAIM).",
    )
    oidc_create_users_in: str | None = Field(
        default=None,
        description="A unit where a person without a Tandem user is created as an agent at their first "
        "sign-in (TANDEM_OIDC_CREATE_USERS_IN); unset: they are refused.",
    )

    @field_validator("rate_limit", "webform_rate_limit")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        RateLimiter.parse(value)  # raises ValueError naming the notation
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        problem = public_url_problem(value)
        if problem is not None:
            raise ValueError(f"public URL {problem}")
        return value.rstrip("/")

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        language = i18n.valid_language(value)
        if language is None:
            raise ValueError(f"language {value!r}: use one of {', '.join(i18n.LANGUAGES)}")
        return language

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if i18n.valid_time_zone(value) is None:
            raise ValueError(f"time zone {value!r}: use an IANA name such as Europe/Berlin or UTC")
        return value

    @field_validator("channel_rate_limits")
    @classmethod
    def _valid_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for limit in value.values():
            RateLimiter.parse(limit)
        return value


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api") or path == "/metrics"


def _problems_of(error: RequestValidationError) -> list[dict[str, str]]:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        if location and location[0] in ("body", "query", "path", "header"):
            location = location[1:] if len(location) > 1 else location
        problems.append({"field": ".".join(location) or "body", "message": str(item.get("msg", ""))})
    return problems


#: Errors of non-API paths answered with an HTML page: (heading, message).
HTML_ERRORS: dict[int, tuple[str, str]] = {
    404: (
        i18n.N_("Page not found"),
        i18n.N_("There is no page at this address. Check the link, or start again from the inbox."),
    ),
    405: (
        i18n.N_("Not possible here"),
        i18n.N_("This address does not take that kind of request; use the page's own buttons."),
    ),
}


def _error_page(request: Request, status: int, heading: str, message: str, *, who: bool = True) -> Response:
    """The control room's error page; ``who``: show the signed-in user's header (asks the store)."""
    from orchestrator.control_room.pages.rendering import error_page
    from orchestrator.control_room.pages.sessions import current_agent

    return error_page(request, current_agent(request) if who else None, status, heading, message)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
        if not _is_api(request):
            return await request_validation_exception_handler(request, error)
        problems = _problems_of(error)
        return JSONResponse(
            error_body(
                f"the request has {len(problems)} problem(s); nothing was stored", bounded_problems(problems)
            ),
            status_code=422,
        )

    @app.exception_handler(PayloadInvalid)
    async def _invalid_payload(request: Request, error: PayloadInvalid) -> Response:
        problems = [{"field": field, "message": message} for field, message in error.problems]
        return JSONResponse(
            error_body(
                f"the payload does not fit workflow {error.workflow!r}; nothing was stored",
                bounded_problems(problems),
            ),
            status_code=422,
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> Response:
        return JSONResponse(error_body(str(error)), status_code=404)

    @app.exception_handler(PermissionDenied)
    async def _denied(request: Request, error: PermissionDenied) -> Response:
        return JSONResponse(error_body(str(error)), status_code=403)

    @app.exception_handler(InvalidTransition)
    async def _conflict(request: Request, error: InvalidTransition) -> Response:
        return JSONResponse(error_body(str(error)), status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if not _is_api(request):
            if error.status_code in HTML_ERRORS:
                # A person typed or followed a wrong address: a page of the control room that
                # says so and leads back, not FastAPI's bare JSON.
                heading, message = HTML_ERRORS[error.status_code]
                return await anyio.to_thread.run_sync(
                    lambda: _error_page(request, error.status_code, heading, message)
                )
            return await http_exception_handler(request, error)
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, not JSON): a bad
            # request like any other, so the same 422 shape with the problem named.
            problem = {"field": "body", "message": f"{detail}: send a JSON object encoded as UTF-8"}
            return JSONResponse(
                error_body("the request has 1 problem(s); nothing was stored", [problem]), status_code=422
            )
        return JSONResponse(error_body(detail), status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        logger.opt(exception=error).error(
            "unexpected error {} in {} {}", incident, request.method, request.url.path
        )
        message = f"internal error {incident}: the server log has the details under this id"
        if not _is_api(request):
            # A page, without asking the store who is signed in: the store may be the failure.
            with contextlib.suppress(Exception):
                return _error_page(request, 500, i18n.N_("Something went wrong"), message, who=False)
        return JSONResponse(error_body(message), status_code=500)


def create_app(settings: ServerSettings | None = None, *, store: Any = None) -> FastAPI:
    """The control room's app. ``store`` may be passed to share one with the caller (tests)."""
    from orchestrator.control_room import api, offline_docs, pages, webform
    from orchestrator.service import Orchestrator

    settings = settings or ServerSettings()
    owns_store = store is None
    if store is None:
        project = IndexedProject(settings.project_root) if settings.project_root else IndexedProject()
        store = Orchestrator(settings.database_url, project=project)
    elif type(store.project) is Project:
        # A store made by the caller (demo, tests): same folders, without re-reading every
        # workflow file for each case the API creates.
        store.project = indexed(store.project)
    if settings.public_url:
        # The status links in the mails of the cases this server's store ends (an outcome's mail).
        store.customer_links = CustomerLinks(settings.secret_key, settings.public_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            store.close()

    app = FastAPI(
        title="Tandem control room",
        version="1",
        summary="Start robots from channels (IVR, webforms), follow cases, work human tasks.",
        description=(
            "Channel systems authenticate with their API token: `Authorization: Bearer <token>`. "
            "A token starts only the workflows it was issued for. Errors are JSON "
            '`{"error": "...", "problems": [{"field": ..., "message": ...}]}`.'
        ),
        lifespan=lifespan,
        # The documentation pages are offline_docs' (Swagger UI and ReDoc from a package, not a CDN).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.public_docs else None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = ApiMetrics(store)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_storage)
    app.state.login_throttle = LoginThrottle()
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    _install_error_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(SecurityHeaders)

    app.include_router(api.router)
    if settings.public_docs:
        app.include_router(offline_docs.router)
    app.include_router(offline_docs.favicon_router)
    app.include_router(webform.router)
    app.include_router(pages.router)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = pages.tasks_api.settle_security(generate_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


__all__ = ["ServerSettings", "create_app", "error_body"]


def settings_from_environment(**overrides: Any) -> ServerSettings:
    """Settings from ``TANDEM_*`` variables (so every server process of a deployment agrees)."""
    values: dict[str, Any] = {}
    for field, variable in (
        ("database_url", "TANDEM_DATABASE_URL"),
        ("project_root", "TANDEM_HOME"),
        ("rate_limit", "TANDEM_RATE_LIMIT"),
        ("webform_rate_limit", "TANDEM_WEBFORM_RATE_LIMIT"),
        ("rate_limit_storage", "TANDEM_RATE_LIMIT_STORAGE"),
        ("token_cache_seconds", "TANDEM_TOKEN_CACHE_SECONDS"),
        ("max_body_bytes", "TANDEM_MAX_BODY_BYTES"),
        ("language", "TANDEM_LANGUAGE"),
        ("public_url", "TANDEM_PUBLIC_URL"),
        ("time_zone", "TANDEM_TIME_ZONE"),
        ("oidc_issuer", "TANDEM_OIDC_ISSUER"),
        ("oidc_client_id", "TANDEM_OIDC_CLIENT_ID"),
        ("oidc_client_secret", "TANDEM_OIDC_CLIENT_SECRET"),
        ("oidc_client_secret_name", "TANDEM_OIDC_CLIENT_SECRET_NAME"),
        ("oidc_username_claim", "TANDEM_OIDC_USERNAME_CLAIM"),
        ("oidc_create_users_in", "TANDEM_OIDC_CREATE_USERS_IN"),
    ):
        if os.environ.get(variable):
            values[field] = os.environ[variable]
    values.update({key: value for key, value in overrides.items() if value is not None})
    return ServerSettings(**values)


def app_from_environment() -> FastAPI:
    """The app as ``uvicorn --factory orchestrator.control_room.app:app_from_environment`` builds it."""
    return create_app(settings_from_environment())


def serve(*, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning") -> None:
    """Run the control room with uvicorn until Ctrl-C / SIGTERM (settings from the environment)."""
    import uvicorn

    if not os.environ.get("TANDEM_SECRET_KEY"):
        # One random key for all processes of this server (each would otherwise make its own,
        # and a link signed by one would fail on another).
        os.environ["TANDEM_SECRET_KEY"] = secrets.token_urlsafe(32)
        logger.warning(
            "TANDEM_SECRET_KEY is not set: webform status links and agent sessions end with this server"
        )
    if workers > 1:
        uvicorn.run(
            "orchestrator.control_room.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )
    else:
        uvicorn.run(app_from_environment(), host=host, port=port, log_level=log_level)
