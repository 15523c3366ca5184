"""The ops dashboard: robots, queues, cases, schedules and KPIs; a case's page with its timeline,
screenshots and trace; retry and cancel; schedule actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from loguru import logger

from orchestrator.control_room.callouts import last_callout_id
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages import case_view, trace_viewer
from orchestrator.control_room.pages.case_search import search_view
from orchestrator.control_room.pages.rendering import Message, error_page, flash, problem_page, render
from orchestrator.control_room.pages.sessions import (
    OPERATING,
    Agent,
    csrf_ok,
    current_agent,
    store_of,
    to_login,
)
from orchestrator.control_room.pages.task_views import artifacts_of
from orchestrator.errors import (
    InvalidTransition,
    NotFound,
    OrchestratorError,
    PermissionDenied,
)
from orchestrator.models import FINISHED, Case
from orchestrator.queue import kpis as kpi_module
from robots.errors import TandemError

router = APIRouter()

# -- ops dashboard -------------------------------------------------------------------------


def schedule_service(request: Request) -> Any:
    """The schedule service of this app (list, pause, resume, run now), made on first use."""
    service = getattr(request.app.state, "schedule_service", None)
    if service is None:
        from orchestrator.schedules.service import ScheduleService

        store = store_of(request)
        service = ScheduleService(store, engine=store.engine, root=store.project.root)
        request.app.state.schedule_service = service
    return service


def schedule_rows(request: Request) -> tuple[list[Any], str]:
    """The schedules' lines for a page, and a note on any schedule file with problems."""
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
def ops(request: Request, period: str = "7d", page: int = 1) -> Response:
    """The ops dashboard: robots, queues, cases (a search: ``case_search``), schedules and KPIs."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    if not agent.can_operate:
        return error_page(
            request, agent, 403, N_("Ops only"), N_("The operations dashboard is for ops and admins.")
        )
    store = store_of(request)
    period = period if period in kpi_module.PERIODS else "7d"
    scope = store.case_scope(agent.username)
    rows = kpi_module.compute_kpis(
        store.engine, store.project, since=kpi_module.period_start(period), scope=scope
    )
    found = search_view(store, agent.username, request.query_params, page)
    schedules, schedule_note = schedule_rows(request)
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
        seconds_since=lambda moment: max(0, round((store.now() - moment).total_seconds())),
        robot_cases=store.visible_case_ids(agent.username, [r.case_id for r in robots if r.case_id]),
        queues=store.queue_counts(None if scope is None else agent.queues),
        counts=store.count_cases(visible_to=agent.username),
        workflows=sorted(store.project.workflow_files()),
        period=period,
        periods=list(kpi_module.PERIODS),
        kpis=rows,
        total=kpi_module.totals(rows),
        schedules=schedules,
        schedule_note=schedule_note,
        callout_after=last_callout_id(store),
        **found,
    )


@router.get("/ops/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def ops_case(request: Request, case_id: str) -> Response:
    """A case: its timeline, runs, tasks, the failure's screenshot and trace; retry or cancel."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    if not agent.can_operate:
        return error_page(request, agent, 403, N_("Ops only"), N_("Cases are shown to ops and admins."))
    store = store_of(request)
    try:
        store.check_case_visible(case_id, agent.username)
        timeline = store.case_timeline(case_id)
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    case: Case = timeline.case
    personal = case_view.personal_fields(store.project, case.workflow)
    payload = case.payload or {}
    return render(
        request,
        agent,
        "case.html",
        section="ops",
        case=case,
        timeline=timeline,
        entries=timeline.entries(),
        describe=lambda step: case_view.step_text(step, payload, personal),
        # "Watch a robot": the step a robot is at now (its records arrive with each checkpoint).
        working=[r for r in store.list_robots() if r.case_id == case.id and r.status == "busy"],
        seconds_since=lambda moment: max(0, round((store.now() - moment).total_seconds())),
        shots=case_view.screenshots(timeline.steps, payload, personal),
        pictures=case_view.step_pictures(timeline.steps),
        screenshots=len(artifacts_of(timeline.steps, ".png")),
        traces=[
            trace_viewer.viewer_link(f"/ops/cases/{case.id}/artifact/trace/{index}")
            for index in range(len(artifacts_of(timeline.steps, ".zip")))
        ],
        error_kind=case_view.ERROR_KINDS.get(case.error_kind or "", case.error_kind or ""),
        can_retry=case.status in ("failed_business", "failed_system", "waiting_human", "cancelled"),
        can_cancel=case.status not in FINISHED,
        callout_after=last_callout_id(store),
    )


@router.get("/ops/cases/{case_id}/artifact/{kind}/{index}", include_in_schema=False)
def ops_case_artifact(request: Request, case_id: str, kind: str, index: int) -> Response:
    """A failure screenshot (``png``), step screenshot (``step``) or Playwright trace
    (``trace``) of a case, by position."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    if not agent.can_operate:
        return error_page(request, agent, 403, N_("Ops only"), N_("Artifacts are shown to ops and admins."))
    store = store_of(request)
    try:
        store.check_case_visible(case_id, agent.username)
        suffix = {"png": ".png", "step": case_view.STEP_PICTURE, "trace": ".zip"}.get(kind)
        files = artifacts_of(store.case_timeline(case_id).steps, suffix) if suffix else []
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    if not 0 <= index < len(files):
        return error_page(
            request,
            agent,
            404,
            N_("No such file"),
            Message(
                N_("case %(case)s has no %(kind)s number %(index)s"), case=case_id, kind=kind, index=index
            ),
        )
    path = files[index]
    if kind == "png":
        return FileResponse(path, media_type="image/png")
    if kind == "step":
        return FileResponse(path, media_type="image/jpeg")
    return FileResponse(path, media_type="application/zip", filename=path.name)


@router.post("/ops/cases/{case_id}/{action}", include_in_schema=False)
async def ops_case_action(request: Request, case_id: str, action: str) -> Response:
    """Retry or cancel a case by hand."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = dict(await request.form())
    if not csrf_ok(request, agent, form) or not agent.can_operate:
        return error_page(
            request, agent, 403, N_("Not allowed"), N_("Ops and admins only, with a fresh form.")
        )
    store = store_of(request)
    reason = str(form.get("reason", "")).strip()
    back = f"/ops/cases/{case_id}"
    if action not in ("retry", "cancel"):
        return error_page(
            request,
            agent,
            404,
            N_("Unknown action"),
            Message(N_("cases can be retried or cancelled, not “%(action)s”"), action=action),
        )
    if action == "cancel" and form.get("confirmed") != "yes":
        # Cancelling ends the customer's case: ask first, on a page of its own (no script needed).
        try:
            case = await anyio.to_thread.run_sync(lambda: _visible_case(store, case_id, agent.username))
        except (PermissionDenied, NotFound) as error:
            return problem_page(request, agent, error)
        return render(request, agent, "case_cancel.html", section="ops", case=case, reason=reason)
    try:
        await anyio.to_thread.run_sync(
            lambda: store.act_on_case(case_id, agent.username, action, reason=reason)
        )
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    except (InvalidTransition, OrchestratorError) as error:
        return flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    done = N_("Case %(case)s queued again.") if action == "retry" else N_("Case %(case)s cancelled.")
    return flash(RedirectResponse(back, status_code=303), request, "ok", Message(done, case=case_id))


def _visible_case(store: Any, case_id: str, username: str) -> Case:
    store.check_case_visible(case_id, username)
    case: Case = store.get_case(case_id)
    return case


@router.post("/ops/schedules/{name}/{action}", include_in_schema=False)
async def ops_schedule_action(request: Request, name: str, action: str) -> Response:
    """Pause, resume or fire a schedule now."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = dict(await request.form())
    if not csrf_ok(request, agent, form) or not agent.can_operate:
        return error_page(
            request, agent, 403, N_("Not allowed"), N_("Ops and admins only, with a fresh form.")
        )
    if action not in ("pause", "resume", "run"):
        return error_page(
            request,
            agent,
            404,
            N_("Unknown action"),
            Message(N_("schedules can pause, resume or run, not “%(action)s”"), action=action),
        )
    back = safe_back(str(form.get("back", "")), "/ops#schedules")
    try:
        message = await anyio.to_thread.run_sync(lambda: schedule_action(request, agent, name, action))
    except PermissionDenied as error:
        return problem_page(request, agent, error)
    except (TandemError, ValueError, KeyError) as error:
        return flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    return flash(RedirectResponse(back, status_code=303), request, "ok", message)


def safe_back(target: str, default: str) -> str:
    """Where a form sends the user back to: a path on this site, else ``default``."""
    return target if target.startswith("/") and not target.startswith("//") else default


def schedule_action(request: Request, agent: Agent, name: str, action: str) -> str:
    """Pause, resume or fire a schedule as ``agent``, recorded in the admin audit log; the
    message to show. Shared by the ops dashboard and the admin screens."""
    store = store_of(request)
    service = schedule_service(request)
    actor = f"ops:{agent.username}"
    if action == "pause":
        service.pause(name, actor=actor)
        message, detail = Message(N_("Schedule %(name)s paused."), name=name), "paused"
    elif action == "resume":
        service.resume(name, actor=actor)
        message, detail = Message(N_("Schedule %(name)s resumed."), name=name), "resumed"
    else:
        summary = service.run_now(name)
        message = Message(N_("Schedule %(name)s fired: %(summary)s"), name=name, summary=summary)
        detail = str(summary).splitlines()[0]
    store.record_admin_action(
        agent.username,
        f"schedule.{'run' if action == 'run' else action}",
        f"schedule:{name}",
        detail,
        roles=OPERATING,
    )
    return message


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
    store = store_of(request)
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
