"""``run.py cases`` and ``run.py tasks``: the queue's cases and the people's tasks, from a terminal.

Owns the options of listing cases (filters, ``--since``, status groups like ``failed``),
showing and following one, retrying and cancelling it, and listing and showing human tasks;
what they print is ``orchestrator.queue.case_console``'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from commandline.options import (
    GLOBAL_OPTIONS,
    DatabaseUrl,
    DataDir,
    ProjectDir,
    command_context,
    console,
    fail,
)

cases_app = typer.Typer(
    help="Cases: list them (run.py cases), show one with its timeline, follow it live, retry, cancel.",
    invoke_without_command=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
CaseId = Annotated[str, typer.Argument(help="The case's id (run.py cases lists them).")]
_STATUS_GROUPS = {
    "failed": ["failed_business", "failed_system"],
    "waiting": ["waiting_human"],
    "open": ["queued", "running", "waiting_human"],
}


def _pass_on(project: Path | None, data_dir: Path | None, database_url: str | None) -> None:
    """Options given to the group (run.py cases --project X show ID) hold for its subcommand."""
    GLOBAL_OPTIONS.update(
        project=project or GLOBAL_OPTIONS["project"], data_dir=data_dir or GLOBAL_OPTIONS["data_dir"]
    )
    if database_url:
        os.environ["TANDEM_DATABASE_URL"] = database_url


def _store(context: Any) -> Any:
    """The orchestrator on the command's database (migrated, as a worker would)."""
    from orchestrator.service import Orchestrator
    from robots.language.project import Project

    return Orchestrator(context.database_url, project=Project(context.root))


def _since(value: str | None) -> Any:
    """``--since``: a duration back from now (30m, 2h, 1d) or a date/time (2026-12-05T08:00)."""
    from datetime import UTC, datetime, timedelta

    from robots.language.model_values import parse_duration

    if not value:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"--since {value!r}: give a duration back from now (30m, 2h, 1d) or a date like 2026-12-05T08:00"
        )
    return moment if moment.tzinfo else moment.astimezone(UTC)


@cases_app.callback()
def cases_list(
    ctx: typer.Context,
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only this workflow's cases.")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help="queued, running, waiting_human, done, failed_business, failed_system, "
            "cancelled; or failed, waiting, open (repeatable).",
        ),
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="References starting with this.")
    ] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only cases from this channel.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Created in the last 30m, 2h, 1d, or since a date.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many (newest first).")] = 50,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """The newest cases, filtered: id, workflow, reference, status, attempts, robot or error."""
    if ctx.invoked_subcommand is not None:
        _pass_on(project, data_dir, database_url)
        return
    from orchestrator.queue.case_console import list_cases

    statuses = [name for value in status or [] for name in _STATUS_GROUPS.get(value, [value])]
    store = _store(command_context(project, data_dir, database_url))
    try:
        code = list_cases(
            store,
            console,
            workflow=workflow,
            statuses=statuses,
            reference=reference,
            channel=channel,
            since=_since(since),
            limit=limit,
            as_json=as_json,
        )
    finally:
        store.close()
    raise typer.Exit(code)


def _with_store(context: Any, work: Any) -> NoReturn:
    """Run ``work`` on the orchestrator of ``context``, close it, exit with ``work``'s code."""
    store = _store(context)
    try:
        code = work(store)
    finally:
        store.close()
    raise typer.Exit(code)


@cases_app.command("show")
def cases_show(
    case_id: CaseId,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """One case: state, input, outputs or error, the timeline of transitions and steps, its tasks."""
    from orchestrator.queue.case_console import show_case

    context = command_context(project, data_dir, database_url)
    _with_store(context, lambda store: show_case(store, case_id, console, as_json=as_json))


@cases_app.command("follow")
def cases_follow(
    case_id: CaseId,
    interval: Annotated[float, typer.Option("--interval", min=0.2, help="Seconds between looks.")] = 1.0,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Print a case's steps and transitions as they happen, until it ends or waits for a person
    (exit 0 when it ended done)."""
    from orchestrator.queue.case_console import follow_case

    context = command_context(project, data_dir, database_url)
    _with_store(
        context, lambda store: follow_case(store, case_id, console, interval=interval, as_json=as_json)
    )


@cases_app.command("retry")
def cases_retry(
    case_id: CaseId,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit trail).")
    ] = "retried by hand",
    actor: Annotated[str, typer.Option("--by", help="Who retries it (kept in the audit trail).")] = "ops",
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Queue a failed, cancelled or waiting case again; it resumes from its last checkpoint."""
    from orchestrator.queue.case_console import retry_case

    context = command_context(project, data_dir, database_url)
    _with_store(context, lambda store: retry_case(store, case_id, console, actor=actor, reason=reason))


@cases_app.command("cancel")
def cases_cancel(
    case_id: CaseId,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit trail).")
    ] = "cancelled by hand",
    actor: Annotated[str, typer.Option("--by", help="Who cancels it (kept in the audit trail).")] = "ops",
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Cancel an unfinished case (a running one stops at its next step; its open tasks close)."""
    from orchestrator.queue.case_console import cancel_case

    context = command_context(project, data_dir, database_url)
    _with_store(context, lambda store: cancel_case(store, case_id, console, actor=actor, reason=reason))


tasks_app = typer.Typer(
    help="Human tasks of every queue: list them (run.py tasks), show one.", invoke_without_command=True
)


@tasks_app.callback()
def tasks_list(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="Only this queue's tasks.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", "-s", help="open, claimed, completed, returned, cancelled (default: open, claimed)."
        ),
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="Only this case's tasks.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Tasks in every status.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many (most urgent first).")
    ] = 100,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Human tasks, most urgent first: id, queue, status, assignee, due, case, reason."""
    if ctx.invoked_subcommand is not None:
        _pass_on(project, data_dir, database_url)
        return
    from orchestrator.queue.case_console import list_tasks

    statuses = () if show_all else tuple(status or ("open", "claimed"))
    context = command_context(project, data_dir, database_url)
    _with_store(
        context,
        lambda store: list_tasks(
            store, console, statuses=statuses, queue=queue, case_id=case, limit=limit, as_json=as_json
        ),
    )


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="The task's id (run.py tasks lists them).")],
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """One task: queue, reason, the data gathered for the person, the answer, what happened to it."""
    from orchestrator.queue.case_console import show_task

    context = command_context(project, data_dir, database_url)
    _with_store(context, lambda store: show_task(store, task_id, console, as_json=as_json))
