"""The agents' control room pages: login, inbox, task pages, supervisor view, ops dashboard, callouts.

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

    GET  /login, POST /login, POST /logout, POST /preferences (the user's language and time zone)
    GET  /login/oidc[/callback]      sign-in through the company's identity provider (oidc.py)
    GET  /inbox                      the agent's tasks: filter, sort, SLA state
    GET  /tasks/{id}                 reason, gathered data, screenshot, form, comments, audit trail
    POST /tasks/{id}/claim|release|complete|return|comment|reassign|cancel|escalate
    GET  /supervisor                 SLA breaches, reassign, escalate a task or every overdue one
    GET  /ops                        robots, queues, cases, schedules, KPIs (of the user's units)
    POST /ops/cases/bulk[/confirm]   bulk retry / cancel of found cases, with a confirmation (case_search.py)
    GET  /ops/cases/{id}             a case's timeline, step and failure screenshots, traces; retry, cancel
    GET  /ops/trace-viewer/...       Playwright's trace viewer, served offline (trace_viewer.py)
    GET  /admin/...                  users, units and queues, tokens, vault, schedules, audit log (admin.py)
    POST /assist                     "customer on the line": starts the customer_assist robot
    GET  /notifications, /notifications/{id}/open; POST /notifications/read   the tray
    GET  /callouts/stream            Server-Sent Events: callouts and task arrivals (callouts.py)
    GET  /api/tasks, GET /api/tasks/{id}
    POST /api/tasks/{id}/claim|release|complete|return|comment|escalate
"""

from fastapi import APIRouter

from orchestrator.control_room.pages import (
    admin,
    case_search,
    inbox,
    login,
    oidc,
    ops,
    supervision,
    tasks_api,
    trace_viewer,
    tray,
)

router = APIRouter()
for _area in (
    oidc,
    login,
    inbox,
    tray,
    supervision,
    case_search,
    trace_viewer,
    ops,
    tasks_api,
    admin,
):  # this order: the more specific paths first
    router.include_router(_area.router)
