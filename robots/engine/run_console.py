"""``run.py run``: one case, run locally, with a live step timeline."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord, StepRecord
from robots.engine.run_context import RunListener
from robots.engine.runner import Engine
from robots.errors import DefinitionError, HumanTaskRequest, Problem
from robots.language.inputs import InputError, validate_input
from robots.language.model import not_a_process
from robots.language.project import Project

EXIT_CODES = {"done": 0, "failed_business": 1, "failed_system": 1, "escalated": 4, "waiting_human": 3}
_STYLES = {
    "ok": "green",
    "skipped": "dim",
    "restored": "cyan",
    "retrying": "yellow",
    "failed": "red",
    "handled": "yellow",
    "escalated": "magenta",
    "waiting": "blue",
    "running": "bold",
}


def timeline(record: RunRecord, *, live: bool = False) -> Table:
    """The run's steps as a table: path, step, outcome, duration, outputs or error."""
    table = Table(title=f"{record.workflow} · case {record.case_id} · {record.status}", expand=False)
    for column in ("step", "what", "outcome", "ms", "details"):
        table.add_column(column, overflow="fold")
    for step in record.steps[-40:] if live else record.steps:
        detail = step.error or (
            "" if step.outputs is None else json.dumps(step.outputs, default=str, ensure_ascii=False)
        )
        outcome = step.outcome + (f" #{step.attempt}" if step.attempt > 1 else "")
        table.add_row(
            escape(step.path),
            Text("  " * step.depth + step.label),
            Text(outcome, style=_STYLES.get(step.outcome, "")),
            f"{step.duration_ms:.0f}" if step.ended_at else "…",
            Text(detail[:160]),
        )
    return table


class _LiveTimeline(RunListener):
    """The timeline while the case runs: redrawn in place on a terminal; with ``stream``, one
    line per finished step (for --json, whose stdout holds only the record). Otherwise
    nothing: the whole timeline is printed once at the end."""

    def __init__(self, live: Live | None, console: Console, *, stream: bool = False) -> None:
        self.live = live
        self.console = console
        self.stream = stream
        self.record: RunRecord | None = None

    def step_started(self, record: StepRecord) -> None:
        self._refresh()

    def step_finished(self, record: StepRecord) -> None:
        if self.live is None and self.stream:
            style = _STYLES.get(record.outcome, "")
            self.console.print(
                f"  {'  ' * record.depth}[{style}]{record.outcome:<9}[/{style}] "
                f"{escape(record.path)} {escape(record.label)} ({record.duration_ms:.0f} ms)"
            )
        self._refresh()

    def _refresh(self) -> None:
        if self.live is not None and self.record is not None:
            self.live.update(timeline(self.record, live=True))

    def checkpoint(self, run: RunRecord) -> None:
        self.record = run


def _answerer(answers: dict[str, Any], console: Console) -> Any:
    def answer(request: HumanTaskRequest) -> dict[str, Any] | None:
        if answers:
            return answers
        if not sys.stdin.isatty():
            return None
        console.print(
            f"\n[bold magenta]A person is needed[/bold magenta] (queue {request.queue}): {request.reason}"
        )
        console.print_json(json.dumps(request.data, default=str))
        values: dict[str, Any] = {}
        for field in request.form:
            choices = field.get("choices")
            shown = f" {choices}" if choices else ""
            values[field["name"]] = console.input(f"  {field.get('label') or field['name']}{shown}: ")
        return values

    return answer


def run_case(
    project: Project,
    workflow: str,
    payload: dict[str, Any],
    *,
    answers: dict[str, Any],
    as_json: bool,
    headed: bool,
    console: Console,
) -> int:
    """Run one case and print its timeline; the process exit code."""
    from robots.language.project_paths import artifacts_dir, logs_dir
    from robots.logs import configure_logging

    configure_logging(log_dir=logs_dir(project.root), console_level="WARNING")
    try:
        flow = project.workflow(workflow)
    except DefinitionError as error:
        return _problems(error.problems, console)
    routine = not_a_process(flow)
    if routine:
        console.print(escape(routine), style="red")
        return 2
    # What `run.py validate` checks beyond the file itself (rule tables, sub-workflows):
    # a workflow that refers to nothing real is refused before it starts, not halfway.
    problems = project.check_references(flow)
    if problems:
        return _problems(problems, console)
    try:
        validate_input(flow, payload)
    except InputError as error:
        console.print(escape(str(error)), style="red")
        return 2
    humans = InMemoryHumans(auto_answer=_answerer(answers, console))
    from robots.engine.robot import robot_sessions

    with robot_sessions(flow, headed=headed) as systems:
        engine = Engine(project, humans=humans, systems=systems, artifacts_dir=artifacts_dir(project.root))
        progress = Console(stderr=True) if as_json else console  # stdout stays pure JSON
        interactive = progress.is_terminal
        with (
            Live(console=progress, refresh_per_second=8, transient=True)
            if interactive
            else _nothing() as live
        ):
            listener = _LiveTimeline(live if interactive else None, progress, stream=as_json)
            record = engine.run(flow, payload, listener=listener)
    if as_json:
        sys.stdout.write(record.model_dump_json(indent=2) + "\n")
    else:
        console.print(timeline(record))
        if record.error:
            console.print(f"[red]{escape(record.error)}[/red]")
        if record.task_id:
            task = humans.tasks.get(record.task_id)
            queue = task.request.queue if task else "?"
            # The task lives in this process only: say so, or the person looks for it in
            # run.py tasks (and the control room), where it never was.
            console.print(
                f"a queued case would now wait for a person in queue {queue!r}; run.py run "
                "keeps no tasks (run.py tasks will not list it)",
                markup=False,
                highlight=False,
            )
        if record.outputs:
            print_outputs(console, record.outputs)
    return EXIT_CODES.get(record.status, 1)


def _problems(problems: list[Problem], console: Console) -> int:
    """Print a bad workflow's problems; the exit code of a bad workflow (2)."""
    for problem in problems:
        console.print(escape(str(problem)), style="red")
    return 2


class _nothing:  # a null context manager that yields None
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


#: Outputs longer than this (as JSON) are printed plain and cut: rich's highlighting of a
#: 700 KB output took 20 s and 600 MB.
PRINTED_OUTPUT_CHARACTERS = 20_000


def print_outputs(console: Console, outputs: Any) -> None:
    """The case's outputs as JSON: highlighted when short, else their start, plain."""
    text = json.dumps(outputs, default=str)
    if len(text) <= PRINTED_OUTPUT_CHARACTERS:
        console.print_json(text)
        return
    console.print(
        escape(text[:PRINTED_OUTPUT_CHARACTERS]) + f" … ({len(text):,} characters in all)",
        highlight=False,
        soft_wrap=True,
    )
