"""The admin screens: users, units and queues, channel tokens, vault entries, schedules with
their run history, and the audit log of everything changed here.

Admins manage users, the organisation, tokens and the vault; ops and admins manage schedules.
Another role gets 403 and nothing changes (the store checks the role too: ``humans.administration``).
Every form carries the session's CSRF token. A secret is shown at most once: a new token's
plaintext on the page that issued it; a vault value never (the page lists names only).

::

    GET  /admin                       -> the first screen the user may use
    GET  /admin/users                 POST /admin/users, /admin/users/{name}/{action}
                                      (update, deactivate, activate, password)
    GET  /admin/org                   POST /admin/units, /admin/queues
    GET  /admin/tokens                POST /admin/tokens, /admin/tokens/{id}/revoke
    GET  /admin/vault                 POST /admin/vault
    GET  /admin/schedules             POST /ops/schedules/{name}/pause|resume|run (ops.py, audited)
    GET  /admin/schedules/{name}      the run history: every fire, its cases and its errors
    GET  /admin/schedules/new, /admin/schedules/{name}/edit     POST /admin/schedules/save
    GET  /admin/audit                 the audit log (filter by actor and action, paged)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from connectors.vault import EncryptedFileVault, VaultError, parse_name
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.limits import page_number
from orchestrator.control_room.pages.ops import schedule_rows, schedule_service
from orchestrator.control_room.pages.rendering import Message, error_page, flash, problem_page, render
from orchestrator.control_room.pages.sessions import (
    OPERATING,
    Agent,
    csrf_ok,
    current_agent,
    store_of,
    to_login,
)
from orchestrator.errors import NotFound, OrchestratorError, PermissionDenied
from orchestrator.models import ROLES
from orchestrator.schedules.editing import NEW_SCHEDULE, save_schedule, schedule_text
from orchestrator.schedules.fires import fire_reference
from robots.errors import TandemError

router = APIRouter()

ADMIN = ("admin",)
PAGE_SIZE = 50
FIRES_SHOWN = 30


def _allowed(request: Request, roles: tuple[str, ...]) -> Agent | Response:
    """The signed-in user when their role is one of ``roles``; else the login or a 403 page."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    if agent.role not in roles:
        return error_page(
            request,
            agent,
            403,
            N_("Not for your role"),
            Message(N_("This screen is for %(roles)s only."), roles=", ".join(roles)),
        )
    return agent


async def _posted(request: Request, roles: tuple[str, ...]) -> tuple[Agent, Any] | Response:
    """The user and the form of a post, when they may send it: signed in (else the login),
    of one of ``roles`` and with the session's CSRF token (else 403: nothing changes)."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = await request.form()
    if agent.role not in roles or not csrf_ok(request, agent, {"csrf_token": form.get("csrf_token")}):
        return error_page(
            request,
            agent,
            403,
            N_("Not allowed"),
            Message(N_("For %(roles)s only, with a fresh form."), roles=", ".join(roles)),
        )
    return agent, form


async def _change(
    request: Request, roles: tuple[str, ...], back: str, change: Callable[[Agent, dict[str, Any]], str]
) -> Response:
    """Run one admin change from a form (``_posted`` first), ``change`` in a worker thread; its
    message, or the problem, is flashed on ``back``."""
    posted = await _posted(request, roles)
    if isinstance(posted, Response):
        return posted
    agent, form = posted
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        message = await anyio.to_thread.run_sync(lambda: change(agent, fields))
    except (PermissionDenied, NotFound) as error:
        return problem_page(request, agent, error)
    except (ValueError, OrchestratorError, VaultError) as error:
        text = error.message if isinstance(error, VaultError) else str(error)
        return flash(RedirectResponse(back, status_code=303), request, "error", text)
    return flash(RedirectResponse(back, status_code=303), request, "ok", message)


def _units_of(agent: Agent) -> list[Any]:
    visible = agent.store.visible_units(agent.username)
    return [u for u in agent.store.list_units() if u.id in visible]


@router.get("/admin", include_in_schema=False)
def admin_home(request: Request) -> Response:
    """Admins start at the users, ops at the schedules."""
    allowed = _allowed(request, OPERATING)
    if not isinstance(allowed, Agent):
        return allowed
    return RedirectResponse(
        "/admin/users" if allowed.role == "admin" else "/admin/schedules", status_code=303
    )


# -- users ---------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request) -> Response:
    """The users of the admin's units: create, change role / unit / name, deactivate, reset password."""
    agent = _allowed(request, ADMIN)
    if not isinstance(agent, Agent):
        return agent
    store = store_of(request)
    return render(
        request,
        agent,
        "admin_users.html",
        section="admin",
        tab="users",
        users=store.list_users(unit=agent.user.unit_id),
        units=_units_of(agent),
        roles=ROLES,
    )


@router.post("/admin/users", include_in_schema=False)
async def create_user(request: Request) -> Response:
    """Create a user."""

    def change(agent: Agent, form: dict[str, Any]) -> str:
        user = agent.store.admin_create_user(
            agent.username,
            form.get("username", "").strip(),
            form.get("password", ""),
            role=form.get("role", ""),
            unit=form.get("unit", ""),
            display_name=form.get("display_name", ""),
        )
        return Message(
            N_("User %(user)s created (%(role)s, %(unit)s)."),
            user=user.username,
            role=user.role,
            unit=user.unit_id,
        )

    return await _change(request, ADMIN, "/admin/users", change)


@router.post("/admin/users/{username}/{action}", include_in_schema=False)
async def change_user(request: Request, username: str, action: str) -> Response:
    """Change a user: ``update`` (role, unit, name), ``deactivate``, ``activate``, ``password``."""

    def change(agent: Agent, form: dict[str, Any]) -> str:
        store = agent.store
        if action == "update":
            store.admin_update_user(
                agent.username,
                username,
                role=form.get("role") or None,
                unit=form.get("unit") or None,
                display_name=form.get("display_name"),
            )
            return Message(N_("User %(user)s saved."), user=username)
        if action in ("deactivate", "activate"):
            store.admin_set_user_active(agent.username, username, action == "activate")
            done = (
                N_("User %(user)s activated.") if action == "activate" else N_("User %(user)s deactivated.")
            )
            return Message(done, user=username)
        if action == "password":
            store.admin_reset_password(agent.username, username, form.get("password", ""))
            return Message(N_("New password set for %(user)s: tell them on another channel."), user=username)
        raise NotFound("user action", action)

    return await _change(request, ADMIN, "/admin/users", change)


# -- units and queues ----------------------------------------------------------------------


@router.get("/admin/org", response_class=HTMLResponse, include_in_schema=False)
def org_page(request: Request, unit: str = "", queue: str = "") -> Response:
    """The admin's units and their queues with SLAs; ``?unit=`` / ``?queue=`` fill the forms to edit one."""
    agent = _allowed(request, ADMIN)
    if not isinstance(agent, Agent):
        return agent
    store = store_of(request)
    units = _units_of(agent)
    visible = {u.id for u in units}
    queues = [q for q in store.list_queues() if q.unit_id in visible]
    return render(
        request,
        agent,
        "admin_org.html",
        section="admin",
        tab="org",
        units=units,
        queues=queues,
        all_queues=store.list_queues(),
        unit_form=next((u for u in units if u.id == unit), None),
        queue_form=next((q for q in queues if q.name == queue), None),
    )


@router.post("/admin/units", include_in_schema=False)
async def save_unit(request: Request) -> Response:
    """Create a unit or change one below the admin's own."""

    def change(agent: Agent, form: dict[str, Any]) -> str:
        unit = agent.store.admin_save_unit(
            agent.username,
            form.get("id", "").strip(),
            form.get("name", ""),
            parent=form.get("parent", ""),
            escalation_queue=form.get("escalation_queue") or None,
        )
        return Message(N_("Unit %(unit)s saved."), unit=unit.id)

    return await _change(request, ADMIN, "/admin/org", change)


@router.post("/admin/queues", include_in_schema=False)
async def save_queue(request: Request) -> Response:
    """Create a queue or change one (unit, SLA, description, where it escalates to)."""

    def change(agent: Agent, form: dict[str, Any]) -> str:
        try:
            sla = int(form.get("sla_minutes", ""))
        except ValueError:
            raise ValueError("SLA: give the minutes as a whole number, e.g. 240") from None
        queue = agent.store.admin_save_queue(
            agent.username,
            form.get("name", "").strip(),
            form.get("unit", ""),
            sla_minutes=sla,
            description=form.get("description", ""),
            escalates_to=form.get("escalates_to") or None,
        )
        return Message(
            N_("Queue %(queue)s saved (SLA %(minutes)s minutes)."),
            queue=queue.name,
            minutes=queue.sla_minutes,
        )

    return await _change(request, ADMIN, "/admin/org", change)


# -- channel tokens ------------------------------------------------------------------------


def _tokens_page(request: Request, agent: Agent, *, issued: str = "", issued_id: str = "") -> Response:
    store = store_of(request)
    tokens = sorted(store.list_tokens(), key=lambda t: t.created_at, reverse=True)
    return render(
        request,
        agent,
        "admin_tokens.html",
        section="admin",
        tab="tokens",
        tokens=tokens,
        workflows=sorted(store.project.workflow_files()),
        issued=issued,
        issued_id=issued_id,
    )


@router.get("/admin/tokens", response_class=HTMLResponse, include_in_schema=False)
def tokens_page(request: Request) -> Response:
    """Every channel token (never its secret); issue and revoke."""
    agent = _allowed(request, ADMIN)
    if not isinstance(agent, Agent):
        return agent
    return _tokens_page(request, agent)


@router.post("/admin/tokens", include_in_schema=False)
async def issue_token(request: Request) -> Response:
    """Issue a token; the page that answers shows its plaintext this once (and is not cached)."""
    posted = await _posted(request, ADMIN)
    if isinstance(posted, Response):
        return posted
    agent, form = posted
    workflows = [str(w) for w in form.getlist("workflows")]
    try:
        token, plaintext = await anyio.to_thread.run_sync(
            lambda: agent.store.admin_issue_token(
                agent.username,
                str(form.get("channel", "")).strip(),
                workflows,
                description=str(form.get("description", "")),
            )
        )
    except PermissionDenied as error:
        return problem_page(request, agent, error)
    except ValueError as error:
        return flash(RedirectResponse("/admin/tokens", status_code=303), request, "error", str(error))
    return _tokens_page(request, agent, issued=plaintext, issued_id=token.id)


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
async def revoke_token(request: Request, token_id: str) -> Response:
    """Revoke a token."""

    def change(agent: Agent, form: dict[str, Any]) -> str:
        token = agent.store.admin_revoke_token(agent.username, token_id)
        return Message(N_("Token %(token)s (%(channel)s) revoked."), token=token.id, channel=token.channel)

    return await _change(request, ADMIN, "/admin/tokens", change)


# -- robot credentials in the vault --------------------------------------------------------


def vault_of() -> EncryptedFileVault | None:
    """The encrypted vault file of this server (``TANDEM_VAULT_FILE`` and its key), or None."""
    try:
        return EncryptedFileVault.from_env()
    except VaultError:
        return None


def vault_names(vault: EncryptedFileVault) -> list[str]:
    """Every name in the vault (``entry.key``), never a value."""
    names = []
    for entry, value in sorted(vault.read_all().items()):
        keys = sorted(value) if isinstance(value, dict) else []
        names += [f"{entry}.{key}" for key in keys] if keys else [entry]
    return names


@router.get("/admin/vault", response_class=HTMLResponse, include_in_schema=False)
def vault_page(request: Request) -> Response:
    """The robots' credentials by name; set a new one or rotate one (values are never shown)."""
    agent = _allowed(request, ADMIN)
    if not isinstance(agent, Agent):
        return agent
    vault = vault_of()
    names: list[str] = []
    problem = ""
    if vault is not None:
        try:
            names = vault_names(vault)
        except VaultError as error:
            problem = error.message
    return render(
        request,
        agent,
        "admin_vault.html",
        section="admin",
        tab="vault",
        vault=vault,
        names=names,
        problem=problem,
    )


@router.post("/admin/vault", include_in_schema=False)
async def set_secret(request: Request) -> Response:
    """Store a credential (new, or a rotation of an existing name); the value is not echoed."""

    def change(agent: Agent, form: dict[str, Any]) -> str:
        vault = vault_of()
        if vault is None:
            raise ValueError("no vault file is configured: set TANDEM_VAULT_FILE and TANDEM_VAULT_KEY")
        name = form.get("name", "").strip()
        value = form.get("value", "")
        parse_name(name)
        if not value:
            raise ValueError(f"give {name} a value")
        existed = name in vault_names(vault)
        vault.set(name, value)
        agent.store.record_admin_action(
            agent.username, "vault.rotate" if existed else "vault.set", f"vault:{name}", "value not recorded"
        )
        done = (
            N_("%(name)s rotated: the robots use the new value from their next login.")
            if existed
            else N_("%(name)s stored: the robots use the new value from their next login.")
        )
        return Message(done, name=name)

    return await _change(request, ADMIN, "/admin/vault", change)


# -- schedules -----------------------------------------------------------------------------


@router.get("/admin/schedules", response_class=HTMLResponse, include_in_schema=False)
def schedules_page(request: Request) -> Response:
    """Every schedule: pause, resume, run now; each links to its run history."""
    agent = _allowed(request, OPERATING)
    if not isinstance(agent, Agent):
        return agent
    schedules, note = schedule_rows(request)
    return render(
        request,
        agent,
        "admin_schedules.html",
        section="admin",
        tab="schedules",
        schedules=schedules,
        schedule_note=note,
    )


def _schedule_form(
    request: Request, agent: Agent, text: str, editing: str, problems: list[str], status: int = 200
) -> Response:
    return render(
        request,
        agent,
        "admin_schedule_edit.html",
        status=status,
        section="admin",
        tab="schedules",
        text=text,
        editing=editing,
        problems=problems,
    )


@router.get("/admin/schedules/new", response_class=HTMLResponse, include_in_schema=False)
def new_schedule_page(request: Request) -> Response:
    """A new schedule: its YAML, started from an example."""
    agent = _allowed(request, OPERATING)
    if not isinstance(agent, Agent):
        return agent
    return _schedule_form(request, agent, NEW_SCHEDULE, "", [])


@router.get("/admin/schedules/{name}/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_schedule_page(request: Request, name: str) -> Response:
    """A schedule's YAML file, to change."""
    agent = _allowed(request, OPERATING)
    if not isinstance(agent, Agent):
        return agent
    try:
        text = schedule_text(schedule_service(request), name)
    except (TandemError, OSError) as error:
        return error_page(request, agent, 404, N_("No such schedule"), str(error))
    return _schedule_form(request, agent, text, name, [])


@router.post("/admin/schedules/save", include_in_schema=False)
async def save_schedule_file(request: Request) -> Response:
    """Check a schedule's YAML and write its file; every problem is shown with the text kept."""
    posted = await _posted(request, OPERATING)
    if isinstance(posted, Response):
        return posted
    agent, form = posted
    text = str(form.get("text", "")).replace("\r\n", "\n")
    editing = str(form.get("editing", "")).strip()
    service = schedule_service(request)
    try:
        schedule, problems = await anyio.to_thread.run_sync(
            lambda: save_schedule(service, text, editing=editing or None)
        )
    except TandemError as error:  # the schedule being edited is gone
        return error_page(request, agent, 404, N_("No such schedule"), str(error))
    if schedule is None:
        lines = [
            f"line {p.line}, column {p.column}: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in problems
        ]
        return _schedule_form(request, agent, text, editing, lines, status=422)
    action = "schedule.edit" if editing else "schedule.create"
    store_of(request).record_admin_action(
        agent.username, action, f"schedule:{schedule.name}", schedule.file, roles=OPERATING
    )
    back = f"/admin/schedules/{schedule.name}"
    done = N_("Schedule %(name)s saved.") if editing else N_("Schedule %(name)s created.")
    return flash(RedirectResponse(back, status_code=303), request, "ok", Message(done, name=schedule.name))


def fire_prefix(schedule: str, fire_time: Any) -> str:
    """The reference prefix of the cases one fire created (``schedules.fires.fire_reference``)."""
    return fire_reference(schedule, fire_time, "")


@router.get("/admin/schedules/{name}", response_class=HTMLResponse, include_in_schema=False)
def schedule_history(request: Request, name: str) -> Response:
    """A schedule's run history: each fire with its counts, the cases it created (linked) and
    the rows it rejected with their reasons."""
    agent = _allowed(request, OPERATING)
    if not isinstance(agent, Agent):
        return agent
    store = store_of(request)
    service = schedule_service(request)
    try:
        schedule = service.schedule(name)
    except Exception as error:  # an unknown name, or a file with problems
        return error_page(request, agent, 404, N_("No such schedule"), str(error))
    fires = []
    for summary in service.fires(name, limit=FIRES_SHOWN):
        prefix = fire_prefix(name, summary.fire_time)
        cases = store.list_cases(reference=prefix, visible_to=agent.username, limit=PAGE_SIZE)
        fires.append({"fire": summary, "cases": cases, "prefix": prefix})
    current = next((s for s in service.list_schedules() if s.name == name), None)
    return render(
        request,
        agent,
        "admin_schedule.html",
        section="admin",
        tab="schedules",
        schedule=schedule,
        current=current,
        fires=fires,
        shown=PAGE_SIZE,
    )


# -- the audit log -------------------------------------------------------------------------


@router.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, actor: str = "", action: str = "", page: int = 1) -> Response:
    """Everything changed from the admin screens and the schedule buttons, newest first."""
    agent = _allowed(request, ADMIN)
    if not isinstance(agent, Agent):
        return agent
    page = page_number(page)
    events, total = store_of(request).admin_events(
        actor=actor.strip() or None,
        action=action.strip() or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        agent,
        "admin_audit.html",
        section="admin",
        tab="audit",
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters={"actor": actor, "action": action},
    )
