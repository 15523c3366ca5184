"""``run.py cases ...`` and ``run.py tasks ...``: see what happened to cases and tasks, follow
a case live, retry or cancel one; as Rich tables for people and as JSON for scripts.

Each function prints with the given console and returns the process exit code, so
``run.py`` stays a thin layer of Typer commands. Exit codes: 0 fine, 1 not found or refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.errors import InvalidTransition, NotFound, OrchestratorError
from orchestrator.models import FINISHED, Case, CaseTimeline, HumanTask, StepEntry, Transition

_STATUS_STYLES = {
    "done": "green",
    "queued": "cyan",
    "running": "blue",
    "waiting_human": "yellow",
    "failed_business": "red",
    "failed_system": "red",
    "cancelled": "dim",
    "open": "yellow",
    "claimed": "blue",
    "completed": "green",
    "returned": "cyan",
    "ok": "green",
    "failed": "red",
    "skipped": "dim",
    "retrying": "yellow",
}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _status(value: str) -> Text:
    return Text(value, style=_STATUS_STYLES.get(value, ""))


def _dump(value: Any, console: Console) -> None:
    """JSON on stdout, as it is (no Rich wrapping or highlighting), for scripts."""
    console.file.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def _short(text: str | None, width: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- cases ---------------------------------------------------------------------------------


def list_cases(
    store: Any,
    console: Console,
    *,
    workflow: str | None = None,
    statuses: Sequence[str] = (),
    reference: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    as_json: bool = False,
) -> int:
    """The newest cases matching the filters, as a table or a JSON array."""
    cases: list[Case] = store.list_cases(
        workflow=workflow,
        status=list(statuses) or None,
        reference=reference,
        channel=channel,
        created_after=since,
        limit=limit,
    )
    if as_json:
        _dump([case.model_dump(mode="json") for case in cases], console)
        return 0
    if not cases:
        console.print("no cases match", highlight=False)
        return 0
    table = Table(title=f"{len(cases)} case{'s' if len(cases) != 1 else ''} (newest first)", expand=False)
    for column in ("case", "workflow", "reference", "status", "attempts", "created", "robot / error"):
        # An id stays on one line, whole, to be copied into 'cases show' or found with grep.
        table.add_column(column, overflow="fold", no_wrap=column in ("case", "status"))
    for case in cases:
        table.add_row(
            case.id,
            case.workflow,
            case.reference,
            _status(case.status),
            str(case.attempts),
            _when(case.created_at),
            Text(case.robot_id or _short(case.error, 60)),
        )
    console.print(table)
    return 0


def _timeline_table(entries: Sequence[Transition | StepEntry], title: str | None = None) -> Table:
    table = Table(title=title, expand=False)
    for column in ("at", "what", "outcome", "ms", "details"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        if isinstance(entry, Transition):
            table.add_row(
                _when(entry.at),
                Text(f"{entry.from_status or '-'} → {entry.to_status}", style="bold"),
                _status(entry.to_status),
                "",
                Text(_short(f"{entry.actor}: {entry.reason}", 120)),
            )
        else:
            details = entry.error or (
                "" if entry.outputs is None else json.dumps(entry.outputs, default=str, ensure_ascii=False)
            )
            outcome = entry.outcome + (f" #{entry.attempt}" if entry.attempt > 1 else "")
            table.add_row(
                _when(entry.started_at),
                Text(f"{'  ' * entry.depth}{entry.path} {entry.label}"),
                _status(outcome) if entry.outcome in _STATUS_STYLES else Text(outcome),
                f"{entry.duration_ms:.0f}" if entry.ended_at else "…",
                Text(_short(details, 160)),
            )
    return table


def _tasks_table(tasks: Sequence[HumanTask], title: str | None = None, *, width: int = 200) -> Table:
    """Ids stay whole (to copy or grep); below 110 columns the assignee and the case give
    way (``tasks show`` has them), or every other column would be a letter wide."""
    table = Table(title=title, expand=False)
    columns: tuple[str, ...] = ("task", "queue", "status", "assignee", "due", "case", "reason")
    if width < 110:
        columns = ("task", "queue", "status", "due", "reason")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("task", "status", "case"))
    for task in tasks:
        cells: dict[str, str | Text] = {
            "task": task.id,
            "queue": task.queue,
            "status": _status(task.status),
            "assignee": task.assignee or "-",
            "due": _when(task.due_at),
            "case": task.case_id or "-",
            "reason": Text(_short(task.reason, 70)),
        }
        table.add_row(*(cells[column] for column in columns))
    return table


class SeveralCases(OrchestratorError):
    """The start of an id that several cases share."""


def whole_case_id(store: Any, case_id: str) -> str:
    """``case_id``, or the one case id it is the start of (as git takes a commit's first
    characters): ``cases show c-95689f3b``. Unchanged when no case starts so;
    ``SeveralCases`` naming them when several do."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from orchestrator.storage.tables import CaseRow

    if len(case_id) < 4:
        return case_id
    pattern = case_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = sa.select(CaseRow.id).where(CaseRow.id.like(pattern, escape="\\")).order_by(CaseRow.id).limit(4)
    with Session(store.engine) as session:
        found = list(session.scalars(query))
    if len(found) == 1:
        return found[0]
    if len(found) > 1 and case_id not in found:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise SeveralCases(f"several cases start with {case_id!r} ({shown}): give more of the id")
    return case_id


def _timeline(store: Any, case_id: str, console: Console) -> CaseTimeline | None:
    try:
        timeline: CaseTimeline = store.case_timeline(whole_case_id(store, case_id))
    except SeveralCases as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        return None
    except NotFound:
        console.print(
            f"no case {case_id!r}: run.py cases lists them", style="red", markup=False, highlight=False
        )
        return None
    return timeline


def show_case(store: Any, case_id: str, console: Console, *, as_json: bool = False) -> int:
    """One case: its state, input, outputs or error, timeline (transitions and steps) and tasks."""
    timeline = _timeline(store, case_id, console)
    if timeline is None:
        return 1
    if as_json:
        _dump(timeline.model_dump(mode="json"), console)
        return 0
    case = timeline.case
    console.print(
        f"[bold]case {escape(case.id)}[/bold] · {escape(case.workflow)} · "
        f"reference {escape(case.reference)} · ",
        _status(case.status),
        f" · attempt {case.attempts} of {case.max_attempts}",
        sep="",
        highlight=False,
    )
    console.print(
        f"created {_when(case.created_at)} by {escape(case.created_by)}"
        + (f" via {escape(case.channel)}" if case.channel else "")
        + (f" · finished {_when(case.finished_at)}" if case.finished_at else "")
        + (f" · held by {escape(case.robot_id)}" if case.robot_id else "")
        + (f" · not before {_when(case.not_before)}" if case.not_before and case.status == "queued" else ""),
        highlight=False,
    )
    console.print("input: " + json.dumps(case.payload, default=str, ensure_ascii=False), markup=False)
    if case.outputs:
        console.print("outputs: " + json.dumps(case.outputs, default=str, ensure_ascii=False), markup=False)
    if case.error:
        where = f" at step {case.error_step}" if case.error_step else ""
        console.print(
            f"error ({case.error_kind or 'error'}{where}): {case.error}",
            style="red",
            markup=False,
            highlight=False,
        )
    console.print(_timeline_table(timeline.entries(), title="timeline"))
    if timeline.tasks:
        console.print(_tasks_table(timeline.tasks, title="human tasks", width=console.width))
    return 0


def follow_case(
    store: Any,
    case_id: str,
    console: Console,
    *,
    interval: float = 1.0,
    as_json: bool = False,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print a case's timeline entries as they happen until it finishes (or waits for a person,
    or ``timeout`` seconds pass); 0 when it ended done, 1 otherwise. JSON: one object a line."""
    seen: set[tuple[str, int]] = set()
    started = time.monotonic()
    while True:
        timeline = _timeline(store, case_id, console)
        if timeline is None:
            return 1
        for entry in timeline.entries():
            key = ("t" if isinstance(entry, Transition) else "s", entry.id)
            if key in seen:
                continue
            seen.add(key)
            if as_json:
                kind = "transition" if isinstance(entry, Transition) else "step"
                console.file.write(
                    json.dumps({"kind": kind, **entry.model_dump(mode="json")}, default=str) + "\n"
                )
                console.file.flush()
            elif isinstance(entry, Transition):
                console.print(
                    f"{_when(entry.at)}  ",
                    _status(entry.to_status),
                    f"  {entry.actor}: {_short(entry.reason, 100)}",
                    sep="",
                    highlight=False,
                    markup=False,
                )
            else:
                details = entry.error or ""
                console.print(
                    f"{_when(entry.started_at)}    {'  ' * entry.depth}{entry.path} {entry.label}  ",
                    _status(entry.outcome),
                    f"  {_short(details, 100)}" if details else "",
                    sep="",
                    highlight=False,
                    markup=False,
                )
        case = timeline.case
        if case.status in FINISHED or case.status == "waiting_human":
            if not as_json:
                waiting = f" (task {case.task_id})" if case.status == "waiting_human" and case.task_id else ""
                console.print("case ", _status(case.status), waiting, sep="", highlight=False, markup=False)
            return 0 if case.status == "done" else 1
        if timeout is not None and time.monotonic() - started >= timeout:
            return 1
        sleep(interval)


def retry_case(store: Any, case_id: str, console: Console, *, actor: str, reason: str) -> int:
    """Queue a failed, cancelled or waiting case again."""
    try:
        case = store.retry_case(whole_case_id(store, case_id), actor=actor, reason=reason)
    except (NotFound, InvalidTransition, SeveralCases) as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        return 1
    console.print(
        f"case {case.id} is {case.status} again: a robot will pick it up", markup=False, highlight=False
    )
    return 0


def cancel_case(store: Any, case_id: str, console: Console, *, actor: str, reason: str) -> int:
    """Cancel an unfinished case (a running one stops at its next step)."""
    try:
        case = store.cancel_case(whole_case_id(store, case_id), actor=actor, reason=reason)
    except (NotFound, InvalidTransition, SeveralCases) as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        return 1
    console.print(f"case {case.id} is {case.status}", markup=False, highlight=False)
    return 0


# -- tasks ---------------------------------------------------------------------------------


def all_tasks(
    store: Any,
    *,
    statuses: Sequence[str] = ("open", "claimed"),
    queue: str | None = None,
    case_id: str | None = None,
    limit: int = 100,
) -> list[HumanTask]:
    """Tasks of every queue (ops see them all; agents use the inbox), most urgent first."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from orchestrator.storage.tables import TaskRow

    query = sa.select(TaskRow).order_by(TaskRow.due_at, TaskRow.priority.desc(), TaskRow.created_at)
    if statuses:
        query = query.where(TaskRow.status.in_(list(statuses)))
    if queue is not None:
        query = query.where(TaskRow.queue == queue)
    if case_id is not None:
        query = query.where(TaskRow.case_id == case_id)
    with Session(store.engine) as session:
        return [HumanTask.model_validate(row) for row in session.scalars(query.limit(limit))]


def list_tasks(
    store: Any,
    console: Console,
    *,
    statuses: Sequence[str] = ("open", "claimed"),
    queue: str | None = None,
    case_id: str | None = None,
    limit: int = 100,
    as_json: bool = False,
) -> int:
    """Human tasks, most urgent first, as a table or a JSON array."""
    if case_id is not None:
        try:
            case_id = whole_case_id(store, case_id)
        except SeveralCases as error:
            console.print(str(error), style="red", markup=False, highlight=False)
            return 1
    tasks = all_tasks(store, statuses=statuses, queue=queue, case_id=case_id, limit=limit)
    if as_json:
        _dump([task.model_dump(mode="json") for task in tasks], console)
        return 0
    if not tasks:
        console.print("no tasks match", highlight=False)
        return 0
    title = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    console.print(_tasks_table(tasks, title=title, width=console.width))
    return 0


def show_task(store: Any, task_id: str, console: Console, *, as_json: bool = False) -> int:
    """One task: queue, reason, the data gathered for the person, the answer, its events."""
    try:
        task: HumanTask = store.get_task(task_id)
    except NotFound:
        console.print(
            f"no task {task_id!r}: run.py tasks lists them", style="red", markup=False, highlight=False
        )
        return 1
    events = store.task_events(task_id)
    if as_json:
        _dump(
            {**task.model_dump(mode="json"), "events": [e.model_dump(mode="json") for e in events]}, console
        )
        return 0
    console.print(
        f"[bold]task {escape(task.id)}[/bold] · queue {escape(task.queue)} · ",
        _status(task.status),
        f" · case {escape(task.case_id or '-')} · step {escape(task.step or '-')}",
        sep="",
        highlight=False,
    )
    console.print(f"reason: {task.reason}", markup=False, highlight=False)
    console.print(
        f"created {_when(task.created_at)} · due {_when(task.due_at)}"
        + (f" · assignee {task.assignee}" if task.assignee else "")
        + (f" · closed {_when(task.closed_at)} by {task.closed_by}" if task.closed_at else ""),
        markup=False,
        highlight=False,
    )
    console.print("data: " + json.dumps(task.data, default=str, ensure_ascii=False), markup=False)
    if task.answer is not None:
        console.print("answer: " + json.dumps(task.answer, default=str, ensure_ascii=False), markup=False)
    if events:
        table = Table(title="events", expand=False)
        for column in ("at", "who", "what", "detail"):
            table.add_column(column, overflow="fold")
        for event in events:
            table.add_row(_when(event.at), event.actor, event.action, Text(_short(event.detail, 100)))
        console.print(table)
    return 0
