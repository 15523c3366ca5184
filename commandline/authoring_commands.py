"""The commands that write and try workflows: validate, init, schema, actions, run, record.

Owns the command line of a workflow's author: checking a project (``validate``, every problem
with file:line:column), creating one (``init``), the language's JSON Schema (``schema``), the
action reference (``actions``), running one case locally (``run``) and recording a workflow
in a browser (``record``). What they do lives in ``robots`` and ``orchestrator.schedules``;
this module reads the options and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commandline.options import (
    DataDir,
    ProjectDir,
    check_robot_settings,
    command_context,
    console,
    errors,
    fail,
    load_project,
    parse_pairs,
)

commands = typer.Typer()


@commands.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the whole project).")
    ] = None,
    project: ProjectDir = None,
) -> None:
    """Check workflows, rule tables and schedules: every problem, with file:line:column and a fix.

    A folder that holds workflows/ is checked as a project of its own, the way robots load it."""
    from orchestrator.schedules.schedule_console import check_schedules, split_schedule_paths
    from robots.logs import configure_logging

    configure_logging(log_dir=None, console_level="WARNING")
    projects = [p for p in paths or [] if (p / "workflows").is_dir()]
    others = [p for p in paths or [] if p not in projects]
    problems: list[Any] = []
    warnings: list[Any] = []
    if others or not paths:
        root = command_context(project).root
        if others:
            schedule_files, rest = split_schedule_paths(root, others)
            problems += load_project(root).validate(rest) if rest else []
            warnings += load_project(root).warnings(rest) if rest else []
            if schedule_files:
                problems += check_schedules(root, schedule_files)[1]
        else:
            problems += load_project(root).validate(None) + check_schedules(root)[1]
            warnings += load_project(root).warnings(None)
    for folder in projects:
        root = folder.resolve()
        problems += load_project(root).validate(None) + check_schedules(root)[1]
        warnings += load_project(root).warnings(None)
    for warning in warnings:
        _print_problem(warning, "yellow", "warning: ")
    if not problems:
        count = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
        console.print(f"[green]no problems found[/green]{count}")
        return
    for problem in problems:
        _print_problem(problem, "red")
    console.print(f"[red]{len(problems)} problem{'s' if len(problems) != 1 else ''}[/red]")
    raise typer.Exit(1)


def _print_problem(problem: Any, colour: str, prefix: str = "") -> None:
    """One problem (or warning) as file:line:column: message, and its hint below."""
    where = f"{problem.file}:{problem.line}:{problem.column}"
    console.print(
        f"[bold]{where}[/bold]: [{colour}]{prefix}{problem.message}[/{colour}]",
        highlight=False,
        markup=True,
        soft_wrap=True,  # one line per problem, so editors and grep can use them
    )
    if problem.hint:
        console.print(f"    hint: {problem.hint}", highlight=False, markup=False, soft_wrap=True)


@commands.command()
def init(
    path: Annotated[Path, typer.Argument(help="The new project's folder (created if missing).")],
) -> None:
    """Create a project that validates and runs as created (a web workflow, a rule table, a schedule).

    It holds a sample workflow against the demo CRM with its login, a decision table, a
    schedule with its CSV file, a README and a .gitignore for the runtime files."""
    from robots.language.project_init import InitError, create_project

    try:
        written = create_project(path)
    except InitError as error:
        fail(str(error))
    for file in written:
        console.print(f"  created {file}", highlight=False, markup=False)
    console.print(
        f"project ready in {path}: cd {path}, then follow its README.md "
        "(run.py validate, run.py run customer_check ...)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@commands.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Print the JSON Schema of the workflow language (for editors)."""
    from robots.language.schema import workflow_schema

    text = json.dumps(workflow_schema(), indent=2, ensure_ascii=False)
    if output:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            reason = "it is a folder" if output.is_dir() else error.strerror or str(error)
            fail(
                f"cannot write the schema to {output}: {reason}\n"
                "    hint: give a file path in a folder that exists, e.g. -o tandem-workflow.schema.json"
            )
        errors.print(f"schema written to {output}")
    else:
        sys.stdout.write(text + "\n")


@commands.command()
def actions(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference as Markdown.")] = False,
) -> None:
    """List every registered action with its parameters and documentation."""
    from robots.language.docs import actions_markdown, actions_table

    if markdown:
        sys.stdout.write(actions_markdown())
    else:
        table: Table = actions_table()
        console.print(table)


_JSON_KINDS = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _json_kind(value: Any) -> str:
    """What JSON calls a parsed value's kind ("an array", "null"), for messages about a file."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


@commands.command(name="run")
def run_workflow(
    workflow: Annotated[str, typer.Argument(help="Workflow name or YAML file.")],
    input_pairs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="key=value (repeatable).")
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input-file", help="A JSON file with the case's input.")
    ] = None,
    answers: Annotated[
        list[str] | None, typer.Option("--answer", help="Answer await_human forms: key=value.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run record as JSON.")] = False,
    headed: Annotated[bool, typer.Option("--headed", help="Show the browser (needs a display).")] = False,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Run one case locally and show its step timeline."""
    from robots.engine.run_console import run_case

    check_robot_settings()
    root = command_context(project, data_dir).root

    payload: dict[str, Any] = {}
    if input_file:
        try:
            loaded = json.loads(input_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            fail(f"cannot read {input_file}: {error}")
        if not isinstance(loaded, dict):
            fail(
                f"{input_file}: the case's input must be a JSON object like "
                f'{{"name": "value"}}, got {_json_kind(loaded)}'
            )
        payload.update(loaded)
    payload.update(parse_pairs(input_pairs or [], "--input"))
    code = run_case(
        load_project(root),
        workflow,
        payload,
        answers=parse_pairs(answers or [], "--answer"),
        as_json=as_json,
        headed=headed,
        console=console,
    )
    raise typer.Exit(code)


@commands.command()
def record(
    system: Annotated[
        str | None,
        typer.Option("--system", help="A web system of the project's workflows (logged in first)."),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Or any page: http://host:port/path.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The workflow file (default workflows/recorded.yaml)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The recorded workflow's name.")] = "recorded",
    start: Annotated[
        str | None, typer.Option("--start", help="The page to start on, relative to the system (default /).")
    ] = None,
    credentials: Annotated[
        str | None,
        typer.Option(
            "--credentials",
            help="Vault entry for typed passwords (default: the system's, or <system>_robot).",
        ),
    ] = None,
    display: Annotated[
        str | None,
        typer.Option("--display", help="X display for the browser (default $DISPLAY, else a private Xvfb)."),
    ] = None,
    debug_port: Annotated[
        int | None,
        typer.Option(
            "--debug-port", help="Chromium's remote debugging port, for tools that drive the browser."
        ),
    ] = None,
    project: ProjectDir = None,
) -> None:
    """Record a workflow: a visible browser writes YAML steps as you click and type.

    Elements are found the way the docs teach (role and name, label, test id; CSS last),
    iframes get web.frame, dialogs web.dialog, and a typed password becomes secret(...)."""
    from robots.engine.record_console import RecordError, target_for
    from robots.engine.record_console import record as record_steps

    check_robot_settings()
    root = command_context(project).root
    proj = load_project(root)
    target_file = output or root / "workflows" / f"{name}.yaml"
    if target_file.exists():
        fail(f"{target_file} exists: give another --output or --name (the recorder never overwrites a file)")
    target_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        target = target_for(proj, system=system, url=url, start=start)
        recording = record_steps(
            proj,
            target,
            target_file,
            name=name,
            credentials=credentials,
            display=display,
            debug_port=debug_port,
            announce=lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True),
        )
    except RecordError as error:
        fail(str(error))
    console.print(
        f"recorded {len(recording.steps)} steps into {target_file}: "
        f"check it with run.py validate {target_file}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
