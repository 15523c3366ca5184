"""``run.py schedules ...``: list, validate, run now, pause, resume, serve.

Each function prints with the given Rich console and returns the process exit code, so
``run.py`` stays a thin layer of Typer commands.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from orchestrator.schedules.fires import FireProgress, FireSummary
from orchestrator.schedules.loading import (
    load_schedule_files,
    load_schedules,
    project_workflows,
    schedule_files,
)
from orchestrator.schedules.model import Schedule
from orchestrator.schedules.service import ScheduleError, ScheduleService
from robots.errors import Problem
from robots.language.yamlsource import load_yaml_file

SCHEDULES_DIR = "schedules"
"""Where a project keeps its schedule files (the scheduler reads every YAML file in it)."""


def _store(project: Path, database_url: str | None) -> Any:
    from orchestrator.service import Orchestrator
    from robots.language.project import Project

    return Orchestrator(database_url, project=Project(project))


def open_service(
    project: Path, database_url: str | None = None, *, console_level: str = "WARNING"
) -> ScheduleService:
    """The schedule service of a project on the orchestrator's database (and its case store).

    Logging is Tandem's (``robots.logs``): the log file in the project's data folder, and on
    the console only ``console_level`` and above, in the same format as every command's."""
    from robots.language.project_paths import logs_dir
    from robots.logs import configure_logging

    configure_logging(log_dir=logs_dir(project), console_level=console_level)
    store = _store(project, database_url)
    return ScheduleService(store, engine=store.engine, root=project)


def _print_problems(problems: list[Problem], console: Console) -> None:
    for problem in problems:
        console.print(
            f"[bold]{escape(problem.file)}:{problem.line}:{problem.column}[/bold]: "
            f"[red]{escape(problem.message)}[/red]",
            highlight=False,
        )
        if problem.hint:
            console.print(f"    hint: {problem.hint}", highlight=False, markup=False)


def check_schedules(
    project: Path, files: Sequence[Path] | None = None
) -> tuple[dict[str, Schedule], list[Problem]]:
    """Load schedule files as ``validate`` checks them: name -> schedule, and every problem.

    ``files`` default to every schedule under ``<project>/schedules``. On top of what a
    scheduler checks when it loads them (keys, cron line, time zone, holiday country, the
    workflow and its inputs, templates) a file source must exist under ``project`` (for a
    name with ``{fire:...}``: its folder).
    """
    workflows = project_workflows(project)
    if files is None:
        return load_schedules(project / SCHEDULES_DIR, workflows=workflows, root=project)
    return load_schedule_files(files, workflows=workflows, root=project)


def is_schedule_file(path: Path, project: Path) -> bool:
    """Whether ``run.py validate`` checks ``path`` as a schedule (else as a workflow).

    A YAML file under ``<project>/schedules`` is a schedule, one under ``<project>/workflows``
    a workflow; any other file is a schedule when it is a mapping with a ``workflow`` key and
    no ``steps`` (a workflow always has steps, a schedule always names its workflow).
    """
    resolved = path.resolve()
    if resolved.is_relative_to((project / SCHEDULES_DIR).resolve()):
        return True
    if resolved.is_relative_to((project / "workflows").resolve()):
        return False
    data, _, _ = load_yaml_file(path)
    return isinstance(data, dict) and "workflow" in data and "steps" not in data


def split_schedule_paths(project: Path, paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The paths given to ``run.py validate``: (schedule files, everything else).

    A folder that is (or is inside) ``<project>/schedules`` stands for its YAML files; other
    folders, and paths that do not exist, are left to the workflow validation.
    """
    schedules_dir = (project / SCHEDULES_DIR).resolve()
    found: dict[Path, Path] = {}  # resolved -> as given: a file named twice is checked once
    others: list[Path] = []
    for path in paths:
        if path.is_dir() and path.resolve().is_relative_to(schedules_dir):
            for file in schedule_files(path):
                found.setdefault(file.resolve(), file)
        elif path.is_file() and is_schedule_file(path, project):
            found.setdefault(path.resolve(), path)
        else:
            others.append(path)
    return list(found.values()), others


def validate(project: Path, console: Console) -> int:
    """Check every schedule file under ``<project>/schedules``; 1 when there are problems."""
    schedules, problems = check_schedules(project)
    if problems:
        _print_problems(problems, console)
        console.print(f"[red]{len(problems)} problem{'s' if len(problems) != 1 else ''}[/red]")
        return 1
    console.print(
        f"[green]{len(schedules)} schedule{'s' if len(schedules) != 1 else ''}, no problems found[/green]"
    )
    return 0


def _last(summary: FireSummary | None) -> str:
    if summary is None:
        return "-"
    text = f"{summary.fire_time:%Y-%m-%d %H:%M} UTC {summary.status}"
    if summary.status in ("done", "failed"):
        text += f" ({summary.created} new, {summary.existed} existed, {summary.rejected} rejected)"
    return text


def list_schedules(project: Path, database_url: str | None, console: Console) -> int:
    """A table of the schedules: workflow, timing, paused, next fire (local and UTC), last fire."""
    service = open_service(project, database_url)
    if service.problems:
        _print_problems(service.problems, console)
    statuses = service.list_schedules()
    table = Table(title="schedules")
    # Names are what people type in the next command: shown whole, never cut with "…" (a
    # name too long for a narrow terminal or a pipe's 80 columns folds onto the next line,
    # as every other column does).
    for column in ("name", "workflow", "when", "state", "next fire", "last fire"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        nxt = status.next_fire
        table.add_row(
            status.name,
            status.workflow,
            f"{status.when} ({status.timezone})",
            "[yellow]paused[/yellow]" if status.paused else "[green]active[/green]",
            f"{nxt:%Y-%m-%d %H:%M %Z} ({nxt.astimezone(UTC):%H:%M} UTC)" if nxt else "-",
            escape(_last(status.last_fire)),
        )
    console.print(table)
    return 1 if service.problems else 0


def show(project: Path, name: str, database_url: str | None, console: Console, *, fires: int = 10) -> int:
    """One schedule: its file, timing, the next five fire times and the last fires with rejections."""
    service = open_service(project, database_url)
    try:
        schedule = service.schedule(name)
    except ScheduleError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        return 2
    paused = service.is_paused(name)
    console.print(f"[bold]{name}[/bold]  ({schedule.file})  workflow {schedule.workflow}", highlight=False)
    if schedule.description:
        console.print(f"  {schedule.description}", highlight=False, markup=False)
    console.print(
        f"  {schedule.when()} ({schedule.timezone})  ·  {'paused' if paused else 'active'}", highlight=False
    )
    if not paused:
        for moment in schedule.next_fire_times(service.now(), 5):
            console.print(f"  next: {moment:%a %Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%H:%M} UTC)")
    history = service.fires(name, limit=fires)
    if not history:
        console.print("  no fires yet")
    for summary in history:
        console.print(escape(str(summary)), highlight=False)
    return 0


def run_now(project: Path, name: str, database_url: str | None, console: Console) -> int:
    """Fire ``name`` now with a progress bar; prints the summary; 1 when the fire failed."""
    service = open_service(project, database_url)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(f"fire {name}", total=None)

        def show(progress: FireProgress) -> None:
            bar.update(task, total=progress.total, completed=progress.done)

        try:
            summary = service.run_now(name, progress=show)
        except ScheduleError as error:
            console.print(f"[red]{escape(str(error))}[/red]")
            return 2
    console.print(escape(str(summary)), highlight=False)
    return 1 if summary.status == "failed" else 0


def set_paused(
    project: Path, name: str, paused: bool, actor: str, database_url: str | None, console: Console
) -> int:
    """Pause or resume ``name`` for every scheduler process."""
    service = open_service(project, database_url)
    try:
        if paused:
            service.pause(name, actor=actor)
        else:
            service.resume(name, actor=actor)
    except ScheduleError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        return 2
    console.print(f"{name} {'paused' if paused else 'resumed'}")
    return 0


def serve(project: Path, database_url: str | None, console: Console) -> int:
    """Run the scheduler in the foreground until Ctrl-C or SIGTERM."""
    service = open_service(project, database_url, console_level="INFO")
    if service.problems:
        _print_problems(service.problems, console)
        console.print("[yellow]the schedules above have problems and do not run[/yellow]")
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    service.start()
    try:
        for status in service.list_schedules():
            nxt = f"next {status.next_fire:%Y-%m-%d %H:%M %Z}" if status.next_fire else "paused"
            console.print(f"  {status.name}: {status.when} ({status.timezone}) - {nxt}", highlight=False)
        console.print(
            "scheduler running  ·  changed schedule files are read again within a minute  ·  Ctrl-C stops"
        )
        while not stop.wait(60):
            service.refresh()
    finally:
        service.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("scheduler stopped")
    return 0
