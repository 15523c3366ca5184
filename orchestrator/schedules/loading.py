"""Reading schedule files: YAML -> ``Schedule``, every problem located to file:line:column.

Owns parsing one schedule (``parse_schedule``, ``load_schedule``), every schedule of a folder
or of some files (``load_schedules``, ``load_schedule_files``, ``schedule_files``) and the checks
that need more than the model: the workflow exists and takes the payload's fields as inputs
(``project_workflows``), templates use only the fire's names, the source file is there. The
model itself (``Schedule`` and its parts) is ``orchestrator.schedules.model``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from orchestrator.schedules.model import (
    SOURCE_KINDS,
    CalendarSpec,
    FileSource,
    MisfireSpec,
    PayloadSource,
    Schedule,
    SourceSpec,
    cron_trigger,
)
from robots.errors import DefinitionError, Problem
from robots.language import expressions
from robots.language.registry import suggest
from robots.language.yamlsource import PathKey, Source, load_yaml, load_yaml_file

FIRE_NAMES = ("schedule", "fire_time", "fire_date", "fire")
"""What templates in ``payload`` and ``constants`` may use (see ``sources.fire_values``)."""

WorkflowInputs = dict[str, frozenset[str] | None]
"""Workflow name -> its input field names (None: the workflow does not load)."""


class _ScheduleParser:
    def __init__(self, source: Source, workflows: WorkflowInputs | None, root: Path | None = None) -> None:
        self.source = source
        self.workflows = workflows
        self.root = root
        self.problems: list[Problem] = []

    def problem(self, path: PathKey, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(path, message, hint))

    def report(self, error: ValidationError, prefix: PathKey, what: str, model: type[BaseModel]) -> None:
        for item in error.errors():
            loc = tuple(
                part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-"))
            )
            where = ".".join(str(part) for part in (*prefix, *loc))
            kind = item["type"]
            ctx = item.get("ctx") or {}
            hint = ""
            if kind == "extra_forbidden":
                allowed = sorted(set(_section(model, loc).model_fields) - {"file", "line", "kind"})
                message = f"unknown key {where!r} in {what}"
                hint = suggest(str(loc[-1]), set(allowed)) or f"allowed here: {', '.join(allowed)}"
            elif kind == "missing":
                message = f"{what} needs {where!r}"
            else:
                given = item.get("input")
                shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
                reason = str(item["msg"]).removeprefix("Value error, ").rstrip(".")
                message = f"{where}: {reason}{shown}"
                if kind == "literal_error" and "expected" in ctx:
                    hint = f"use one of {ctx['expected']}"
            self.problem((*prefix, *loc), message, hint)

    def parse(self, data: Any) -> Schedule | None:
        if not isinstance(data, dict):
            shown = "an empty file" if data is None else f"a {type(data).__name__}"
            self.problem(
                (), f"a schedule file must be a mapping, got {shown}", "start with 'name:' and 'workflow:'"
            )
            return None
        fields = dict(data)
        if ("cron" in data) == ("interval" in data):
            self.problem(
                (),
                "a schedule needs exactly one of 'cron' and 'interval'",
                "e.g. cron: '0 2 * * 1-5' (02:00 on weekdays) or interval: 15m",
            )
        if "start" in data and "cron" in data:
            self.problem(
                ("start",), "'start' anchors an interval; a cron schedule does not use it", "remove it"
            )
        source = self.parse_source(data.get("source"))
        fields.pop("source", None)
        if "cron" in data and isinstance(data["cron"], str):
            try:
                cron_trigger(data["cron"], ZoneInfo("UTC"))
            except ValueError as error:
                self.problem(("cron",), f"cron {data['cron']!r}: {error}", "minute hour day month weekday")
        try:
            schedule = Schedule.model_validate(
                {**fields, "file": self.source.file, "line": self.source.where(())[0]}
                | ({"source": source} if source else {})
            )
        except ValidationError as error:
            self.report(error, (), "the schedule", Schedule)
            # What the file refers to is still checked: every problem of the file at once.
            if isinstance(data.get("workflow"), str):
                self.check_workflow(data["workflow"], source)
            self.check_source_file(source)
            return None
        if source is None and "source" in data:
            return None
        self.check_workflow(schedule.workflow, schedule.source)
        self.check_templates(schedule)
        if not self.problems and not schedule.next_fire_times(datetime(2026, 1, 1, tzinfo=schedule.zone)):
            self.problem(
                ("calendar",),
                "this schedule never fires: its calendar closes every day it would fire on",
                "check cron weekdays against calendar.weekdays_only and calendar.closed",
            )
        self.check_source_file(schedule.source)
        return schedule if not self.problems else None

    def parse_source(self, raw: Any) -> SourceSpec | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problem(("source",), "source must be a mapping with file, query or payload", "")
            return None
        kinds = [kind for kind in ("file", "query", "payload") if kind in raw]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none of them"
            self.problem(
                ("source",),
                f"a source has exactly one of file, query and payload (found {found})",
                "file: in/contracts.csv | query: SELECT ... with url: | payload: {...}",
            )
            return None
        model = SOURCE_KINDS[kinds[0]]
        try:
            return model.model_validate(raw)  # type: ignore[return-value]
        except ValidationError as error:
            self.report(error, ("source",), f"a {kinds[0]} source", model)
            return None

    def check_templates(self, schedule: Schedule) -> None:
        source = schedule.source
        values = source.payload if isinstance(source, PayloadSource) else source.constants
        what = "payload" if isinstance(source, PayloadSource) else "constants"
        for path, text in _template_strings(values, ("source", what)):
            problem = expressions.syntax_problem(text)
            if problem:
                self.problem(path, f"{problem} in {text!r}", "check the braces and the expression")
                continue
            unknown = expressions.referenced_names(text) - set(FIRE_NAMES)
            if unknown:
                self.problem(
                    path,
                    f"unknown name {', '.join(sorted(unknown))} in {text!r}",
                    f"templates here know {', '.join(FIRE_NAMES)}",
                )

    def check_source_file(self, source: SourceSpec | None) -> None:
        """With a project folder: the source file is there (or, named by the fire, its folder).

        Only ``validate`` asks for this: a scheduler loads a schedule whose file is still to
        come (it is read at fire time, and a missing one fails that fire).
        """
        if self.root is None or not isinstance(source, FileSource):
            return
        try:
            name = source.file_for(datetime(2026, 1, 1, tzinfo=UTC))
        except ValueError as error:
            self.problem(("source", "file"), str(error))
            return
        path = Path(name) if Path(name).is_absolute() else self.root / name
        if "{" not in source.file:
            if not path.is_file():
                self.problem(
                    ("source", "file"),
                    f"source file {path} does not exist",
                    "put the file there or correct source.file (relative to the project folder)",
                )
        elif "{" not in str(Path(source.file).parent) and not path.parent.is_dir():
            self.problem(
                ("source", "file"),
                f"the folder {path.parent} of source file {source.file!r} does not exist",
                "create it or correct source.file (relative to the project folder)",
            )

    def check_workflow(self, workflow: str, source: SourceSpec | None) -> None:
        """The workflow exists, and the payload fields the source makes are its inputs."""
        if self.workflows is None:
            return
        if workflow not in self.workflows:
            hint = suggest(workflow, set(self.workflows)) or (
                f"workflows: {', '.join(sorted(self.workflows)) or 'none'}"
            )
            self.problem(("workflow",), f"no workflow named {workflow!r}", hint)
            return
        inputs = self.workflows[workflow]
        if inputs is None or source is None:
            return  # a workflow that does not load: `run.py validate` reports why
        named: list[tuple[PathKey, str]] = []
        if isinstance(source, PayloadSource):
            named = [(("source", "payload", field), field) for field in source.payload]
        else:
            named = [(("source", "columns", field), field) for field in source.columns or {}]
            named += [(("source", "constants", field), field) for field in source.constants]
        for path, field in named:
            if field not in inputs:
                hint = suggest(field, set(inputs)) or f"inputs of {workflow}: {', '.join(sorted(inputs))}"
                self.problem(path, f"{field!r} is not an input of workflow {workflow!r}", hint)


def _template_strings(value: Any, path: PathKey) -> list[tuple[PathKey, str]]:
    if isinstance(value, str):
        return [(path, value)] if expressions.is_template(value) else []
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _template_strings(item, (*path, str(key)))]
    if isinstance(value, list | tuple):
        return [
            found for index, item in enumerate(value) for found in _template_strings(item, (*path, index))
        ]
    return []


def _section(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model that holds the key at ``loc`` (for "allowed here" hints)."""
    if model is Schedule and len(loc) > 1:
        sections: dict[str, type[BaseModel]] = {"calendar": CalendarSpec, "misfire": MisfireSpec}
        return sections.get(str(loc[0]), model)
    return model


def parse_schedule(
    text: str, file: str = "<schedule>", *, workflows: WorkflowInputs | None = None
) -> tuple[Schedule | None, list[Problem]]:
    """Parse one schedule from YAML text: the schedule (None if unusable) and every problem.

    ``workflows`` (name -> input field names), when given, lets the parser check the
    workflow exists and that the payload fields are its inputs.
    """
    data, source, problems = load_yaml(text, file)
    return _parse(data, source, problems, workflows)


def _parse(
    data: Any,
    source: Source,
    problems: list[Problem],
    workflows: WorkflowInputs | None,
    root: Path | None = None,
) -> tuple[Schedule | None, list[Problem]]:
    if problems and data is None:
        return None, problems
    parser = _ScheduleParser(source, workflows, root)
    schedule = parser.parse(data)
    found = sorted([*problems, *parser.problems], key=lambda p: (p.file, p.line, p.column))
    return (schedule if not found else None), found


def load_schedule(path: Path | str, *, workflows: WorkflowInputs | None = None) -> Schedule:
    """Load one schedule file; ``DefinitionError`` lists every problem found."""
    data, source, problems = load_yaml_file(Path(path))
    schedule, problems = _parse(data, source, problems, workflows)
    if schedule is None:
        raise DefinitionError(problems or [Problem(str(path), 1, 1, "the schedule could not be read")])
    return schedule


def load_schedules(
    directory: Path | str, *, workflows: WorkflowInputs | None = None, root: Path | str | None = None
) -> tuple[dict[str, Schedule], list[Problem]]:
    """Every ``*.yaml`` schedule under ``directory``: name -> schedule, and all problems.

    A file with problems is left out (the others still run); two files with one name is a
    problem on the second. See ``load_schedule_files`` for ``workflows`` and ``root``.
    """
    return load_schedule_files(schedule_files(directory), workflows=workflows, root=root)


def schedule_files(directory: Path | str) -> list[Path]:
    """The ``*.yaml`` / ``*.yml`` files under ``directory`` and its subfolders, sorted."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_schedule_files(
    paths: Iterable[Path], *, workflows: WorkflowInputs | None = None, root: Path | str | None = None
) -> tuple[dict[str, Schedule], list[Problem]]:
    """The schedules of the given files: name -> schedule, and all problems (as ``load_schedules``).

    ``workflows`` (name -> input field names) lets the workflow and the payload fields be
    checked; ``root`` (the project folder) lets ``validate`` check that source files exist.
    """
    found: dict[str, Schedule] = {}
    problems: list[Problem] = []
    for path in paths:
        data, source, file_problems = load_yaml_file(Path(path))
        schedule, file_problems = _parse(
            data, source, file_problems, workflows, Path(root) if root is not None else None
        )
        problems.extend(file_problems)
        if schedule is None:
            continue
        if schedule.name in found:
            first = found[schedule.name]
            problems.append(
                source.problem(
                    ("name",),
                    f"schedule name {schedule.name!r} is already used by {first.file}:{first.line}",
                    "give each schedule its own name",
                )
            )
            continue
        found[schedule.name] = schedule
    return found, problems


def project_workflows(project_root: Path | str) -> WorkflowInputs:
    """Workflow name -> its input field names, for the workflows of a project folder.

    A workflow file that does not load still counts by name (its own problems are reported
    by ``run.py validate``), with no known inputs checked.
    """
    from robots.language.project import Project

    project = Project(project_root)
    result: WorkflowInputs = {}
    for name, path in project.workflow_files().items():
        try:
            result[name] = frozenset(project.load(path).input)
        except DefinitionError:
            result[name] = None
    return result
