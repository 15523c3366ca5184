"""Finding cases on the ops dashboard, and bulk retry / cancel with a confirmation step.

The search form's fields (``reference``, ``field`` + ``value`` for a payload field,
``from`` / ``to`` dates, ``state``, ``workflow``, ``channel``) become one
``orchestrator.queue.search.CaseQuery``; the dashboard shows 50 cases a page with links to
the next. A bulk action is two posts: the first (from the dashboard, with the ticked cases or
"every case that matches") shows what would change and asks; only the second, from that
page, changes anything. Each case is then retried or cancelled as by hand (its own audit
trail), and one line goes to the admin audit log.

::

    POST /ops/cases/bulk            the confirmation page (nothing changes yet)
    POST /ops/cases/bulk/confirm    retry or cancel them; back to the search with a summary
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from orchestrator.control_room.i18n import N_
from orchestrator.control_room.limits import page_number
from orchestrator.control_room.pages.rendering import Message, error_page, flash, render
from orchestrator.control_room.pages.sessions import OPERATING, csrf_ok, current_agent, store_of, to_login
from orchestrator.queue.search import BULK_LIMIT, CaseQuery

router = APIRouter()

PAGE_SIZE = 50
#: The search form's fields, in the order links carry them.
FIELDS = ("reference", "field", "value", "from", "to", "state", "workflow", "channel")
STATES = ("queued", "running", "waiting_human", "done", "failed_business", "failed_system", "cancelled")


def _day(text: str, name: str, problems: list[str], *, end: bool = False) -> datetime | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"{name}: {text!r} is not a date; write it as 2026-11-23")
        return None
    if end and day == date.max:
        return None  # "to" the last day there is: no upper bound (the day after does not exist)
    # Days are UTC days; "to" includes its whole day.
    return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)


def query_from(values: Mapping[str, Any]) -> tuple[CaseQuery, dict[str, str], list[str]]:
    """The search a form or a link asks for: the query, the form's values as given (to show
    them again) and the problems with them (a wrong date is named and left out)."""
    given = {name: str(values.get(name, "") or "").strip() for name in FIELDS}
    problems: list[str] = []
    if given["state"] and given["state"] not in STATES:
        problems.append(f"state: {given['state']!r} is not a state")
        given["state"] = ""
    query = CaseQuery(
        reference=given["reference"],
        field=given["field"],
        value=given["value"],
        created_from=_day(given["from"], "from", problems),
        created_to=_day(given["to"], "to", problems, end=True),
        state=given["state"],
        workflow=given["workflow"],
        channel=given["channel"],
    )
    return query, given, problems


def search_link(given: Mapping[str, str], page: int) -> str:
    """The dashboard's address for this search at ``page``."""
    params = {name: value for name, value in given.items() if value and name in FIELDS}
    if page > 1:
        params["page"] = str(page)
    return "/ops?" + urlencode(params) + "#cases" if params else "/ops#cases"


def search_view(store: Any, username: str, values: Mapping[str, Any], page: int) -> dict[str, Any]:
    """What the dashboard's case section shows for a search: one page of cases and the links."""
    query, given, problems = query_from(values)
    page = page_number(page)
    cases, total = store.search_cases(
        query, visible_to=username, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return {
        "cases": cases,
        "case_total": total,
        "page": page,
        "pages": pages,
        "filters": given,
        "search_problems": problems,
        "newer_link": search_link(given, page - 1) if page > 1 else "",
        "older_link": search_link(given, page + 1) if page < pages else "",
        "channels": store.case_channels(),
        "states": list(STATES),
    }


def _selection(store: Any, username: str, form: Mapping[str, Any], ids: list[str]) -> list[str]:
    """The ids a bulk action is about: the ticked ones, or every case that matches the search."""
    if form.get("scope") != "matching":
        return ids
    query, _, problems = query_from(form)
    if problems:
        raise ValueError("; ".join(problems))
    cases, total = store.search_cases(query, visible_to=username, limit=BULK_LIMIT + 1)
    if total > BULK_LIMIT:
        raise ValueError(f"{total} cases match: at most {BULK_LIMIT} at once; narrow the search")
    return [c.id for c in cases]


@router.post("/ops/cases/bulk", include_in_schema=False)
async def bulk_confirm_page(request: Request) -> Response:
    """Step one of a bulk retry / cancel: show the cases and ask. Nothing changes here."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf_ok(request, agent, fields) or not agent.can_operate:
        return error_page(
            request, agent, 403, N_("Not allowed"), N_("Ops and admins only, with a fresh form.")
        )
    action = fields.get("action", "")
    _, given, _ = query_from(fields)
    back = search_link(given, 1)
    if action not in ("retry", "cancel"):
        return flash(
            RedirectResponse(back, status_code=303), request, "error", Message(N_("Choose retry or cancel."))
        )
    store = store_of(request)
    ticked = [str(v) for v in form.getlist("case_ids")]
    try:
        ids = await anyio.to_thread.run_sync(lambda: _selection(store, agent.username, fields, ticked))
    except ValueError as error:
        return flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    if not ids:
        return flash(
            RedirectResponse(back, status_code=303), request, "error", Message(N_("No case was selected."))
        )
    visible = store.visible_case_ids(agent.username, ids)
    cases = [store.get_case(i) for i in ids if i in visible]
    return render(
        request,
        agent,
        "ops_bulk.html",
        section="ops",
        action=action,
        cases=cases,
        unknown=[i for i in ids if i not in visible],
        back=back,
        filters=given,
    )


@router.post("/ops/cases/bulk/confirm", include_in_schema=False)
async def bulk_act(request: Request) -> Response:
    """Step two: retry or cancel the confirmed cases; a summary on the search page."""
    agent = current_agent(request)
    if agent is None:
        return to_login(request)
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf_ok(request, agent, fields) or not agent.can_operate:
        return error_page(
            request, agent, 403, N_("Not allowed"), N_("Ops and admins only, with a fresh form.")
        )
    _, given, _ = query_from(fields)
    back = search_link(given, 1)
    action = fields.get("action", "")
    ids = [str(v) for v in form.getlist("case_ids")]
    store = store_of(request)

    def act() -> str:
        done, skipped = store.bulk_case_action(
            action, ids, actor=agent.username, reason=fields.get("reason", "")
        )
        if done:
            store.record_admin_action(
                agent.username,
                f"cases.{action}",
                f"{len(done)} cases",
                ", ".join(c.id for c in done[:20]) + (" ..." if len(done) > 20 else ""),
                roles=OPERATING,
            )
        if not skipped:
            summary = (
                N_("%(count)s case(s) retried.") if action == "retry" else N_("%(count)s case(s) cancelled.")
            )
            return Message(summary, count=len(done))
        reasons = "; ".join(f"{i}: {why}" for i, why in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        summary = (
            N_("%(count)s case(s) retried. %(skipped)s skipped: %(reasons)s")
            if action == "retry"
            else N_("%(count)s case(s) cancelled. %(skipped)s skipped: %(reasons)s")
        )
        return Message(summary, count=len(done), skipped=len(skipped), reasons=reasons)

    try:
        message = await anyio.to_thread.run_sync(act)
    except ValueError as error:
        return flash(RedirectResponse(back, status_code=303), request, "error", str(error))
    return flash(RedirectResponse(back, status_code=303), request, "ok", message)
