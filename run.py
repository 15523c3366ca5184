#!/usr/bin/env python3
"""Tandem's one entry point: ``python run.py --help``."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent

app = typer.Typer(
    help="Tandem: robots for the customer-service back-office.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` in red on stderr, as written (a path or value with [brackets] is
    text, not markup), and exit with ``code``."""
    errors.print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(code)


ProjectDir = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="The project folder (default: the current folder when it holds workflows/, "
        "else TANDEM_HOME). See docs/projects.md.",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the database, logs and artifacts go (default: TANDEM_DATA_DIR, else <project>/.tandem).",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Default: TANDEM_DATABASE_URL, else tandem.db in the data folder."),
]
_GLOBAL: dict[str, Path | None] = {"project": None, "data_dir": None}


@app.callback()
def main(project: ProjectDir = None, data_dir: DataDir = None) -> None:
    """Tandem: robots for the customer-service back-office. Every command works on one
    project (docs/projects.md); --project and --data-dir may also follow the command."""
    _GLOBAL.update(project=project, data_dir=data_dir)


def _use(project: Path | None = None, data_dir: Path | None = None, database_url: str | None = None) -> Any:
    """Settle the command's project, data folder and database (``robots.language.project_paths``)."""
    from robots.language.project_paths import NoProject, use_project

    try:
        context = use_project(project or _GLOBAL["project"], data_dir or _GLOBAL["data_dir"], database_url)
    except NoProject as error:
        _fail(str(error))
    if context.demo is not None:
        errors.print(
            f"using the running demo's database ({context.database_url})", markup=False, highlight=False
        )
    return context


def _project(root: Path) -> Any:
    from robots.language.project import Project

    return Project(root)


def _check_robot_settings() -> None:
    """Refuse bad robot settings from the environment before anything starts."""
    from robots.drivers.web_session import trace_mode
    from robots.engine.runner import step_screenshot_mode

    try:
        trace_mode()
        step_screenshot_mode()
    except ValueError as error:
        _fail(str(error))


def _parse_pairs(pairs: list[str], what: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"{what} {pair!r} must look like key=value")
        key, value = pair.split("=", 1)
        key = key.strip()
        if not key:
            _fail(f"{what} {pair!r} has no name before '=': write key=value")
        if key in values:
            _fail(f"{what} {key} is given twice ({values[key]!r} and {value!r}): give it once")
        values[key] = value
    return values


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the whole project).")
    ] = None,
    project: ProjectDir = None,
) -> None:
    """Check workflows, rule tables and schedules: every problem, with file:line:column and a fix.

    A folder that holds workflows/ is checked as a project of its own, the way robots load it."""
    from orchestrator.schedules.cli import check_schedules, split_schedule_paths
    from robots.logs import configure_logging

    configure_logging(log_dir=None, console_level="WARNING")
    projects = [p for p in paths or [] if (p / "workflows").is_dir()]
    others = [p for p in paths or [] if p not in projects]
    problems: list[Any] = []
    warnings: list[Any] = []
    if others or not paths:
        root = _use(project).root
        if others:
            schedule_files, rest = split_schedule_paths(root, others)
            problems += _project(root).validate(rest) if rest else []
            warnings += _project(root).warnings(rest) if rest else []
            if schedule_files:
                problems += check_schedules(root, schedule_files)[1]
        else:
            problems += _project(root).validate(None) + check_schedules(root)[1]
            warnings += _project(root).warnings(None)
    for folder in projects:
        root = folder.resolve()
        problems += _project(root).validate(None) + check_schedules(root)[1]
        warnings += _project(root).warnings(None)
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


@app.command()
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
        _fail(str(error))
    for file in written:
        console.print(f"  created {file}", highlight=False, markup=False)
    console.print(
        f"project ready in {path}: cd {path}, then follow its README.md "
        "(run.py validate, run.py run customer_check ...)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command()
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
            _fail(
                f"cannot write the schema to {output}: {reason}\n"
                "    hint: give a file path in a folder that exists, e.g. -o tandem-workflow.schema.json"
            )
        errors.print(f"schema written to {output}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
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


@app.command(name="run")
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
    from robots.engine.cli import run_case

    _check_robot_settings()
    root = _use(project, data_dir).root

    payload: dict[str, Any] = {}
    if input_file:
        try:
            loaded = json.loads(input_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            _fail(f"cannot read {input_file}: {error}")
        if not isinstance(loaded, dict):
            _fail(
                f"{input_file}: the case's input must be a JSON object like "
                f'{{"name": "value"}}, got {_json_kind(loaded)}'
            )
        payload.update(loaded)
    payload.update(_parse_pairs(input_pairs or [], "--input"))
    code = run_case(
        _project(root),
        workflow,
        payload,
        answers=_parse_pairs(answers or [], "--answer"),
        as_json=as_json,
        headed=headed,
        console=console,
    )
    raise typer.Exit(code)


@app.command()
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
    from robots.engine.record_cli import RecordError, target_for
    from robots.engine.record_cli import record as record_steps

    _check_robot_settings()
    root = _use(project).root
    proj = _project(root)
    target_file = output or root / "workflows" / f"{name}.yaml"
    if target_file.exists():
        _fail(f"{target_file} exists: give another --output or --name (the recorder never overwrites a file)")
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
        _fail(str(error))
    console.print(
        f"recorded {len(recording.steps)} steps into {target_file}: "
        f"check it with run.py validate {target_file}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command(name="demo-apps")
def demo_apps(
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="Any free ports instead of 8101-8104.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Also write the audit logs here (JSON lines).")
    ] = None,
) -> None:
    """Start the demo back-office's web apps (CRM, billing, two supplier portals) until Ctrl-C."""
    from demo.__main__ import PortTaken, serve
    from demo.server import DEFAULT_PORTS

    try:
        serve(None if free_ports else DEFAULT_PORTS, host=host, data_dir=data_dir)
    except (PortTaken, RuntimeError) as error:
        _fail(str(error), 1)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="Default: TANDEM_DATABASE_URL, else tandem.db in the data folder."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Start the control room: channel API (/docs), public webform, agent inbox, dashboard."""
    from orchestrator.control_room.app import serve as serve_control_room

    _use(project, data_dir, database_url)
    console.print(
        f"control room on http://{host}:{port}/  ·  API docs /docs  ·  webform /webform/address-change"
        "  ·  Ctrl-C stops",
        highlight=False,
        soft_wrap=True,
    )
    try:
        serve_control_room(host=host, port=port, workers=workers)
    except (OSError, ValueError) as error:
        _fail(f"cannot start the control room: {error}", 1)


token_app = typer.Typer(help="API tokens of channel systems (IVR, webform backend...).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    channel: Annotated[str, typer.Argument(help="The channel, e.g. ivr or webform.")],
    workflows: Annotated[
        list[str], typer.Option("--workflow", "-w", help="A workflow it may start (repeatable; * for all).")
    ],
    description: Annotated[str, typer.Option("--description", help="Who uses it.")] = "",
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Issue a token; it is printed once and stored only as a hash."""
    from orchestrator.control_room.api import cli_create_token as create_token

    _use(project, data_dir, database_url)

    raise typer.Exit(create_token(channel, workflows, description, console))


@token_app.command("list")
def token_list(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Every token: id, channel, workflows, revoked or not (never the secret)."""
    from orchestrator.control_room.api import cli_list_tokens as list_tokens

    _use(project, data_dir, database_url)

    list_tokens(console)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (t-...).")],
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke a token; it stops working within the token cache time (token_cache_seconds, 2 s)."""
    from orchestrator.control_room.api import cli_revoke_token as revoke_token

    _use(project, data_dir, database_url)

    raise typer.Exit(revoke_token(token_id, console))


@app.command()
def demo(
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="Any free ports instead of 8000 and 8101-8104.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="The control room's port.")] = 8000,
    robots: Annotated[int, typer.Option("--robots", min=1, max=8, help="Robot processes.")] = 2,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the demo's database, logs and artifacts here (default: a scratch folder).",
        ),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project", help="The demo's workflows (default: the demo project in Tandem's checkout)."
        ),
    ] = None,
) -> None:
    """The whole demo on SQLite: demo apps, control room, robots, a mix of cases; Ctrl-C stops.

    While it runs, the other commands of its project (run.py cases, schedules show...) use its
    database."""
    from demo.run import DemoOptions, run_demo
    from robots.language.project_paths import NoProject, find_project

    _check_robot_settings()
    try:
        root = find_project(project or _GLOBAL["project"] or ROOT)
    except NoProject as error:
        _fail(str(error))
    options = DemoOptions(
        port=port, free_ports=free_ports, robots=robots, data_dir=data_dir, project_root=root
    )
    raise typer.Exit(run_demo(options))


@app.command()
def worker(
    robots: Annotated[int, typer.Option("--robots", min=1, help="Robot processes on this machine.")] = 1,
    once: Annotated[
        bool, typer.Option("--once", help="Stop when no case is claimable now; say what is left behind.")
    ] = False,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help="A batch run that finishes: wait for retries and dead robots' cases, stop when "
            "no case is queued or running; say what waits for a person.",
        ),
    ] = False,
    lease: Annotated[float, typer.Option("--lease", min=3, help="Lease of a claimed case (seconds).")] = 60.0,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="Default: TANDEM_DATABASE_URL, else tandem.db in the data folder."
        ),
    ] = None,
    workflow: Annotated[
        list[str] | None, typer.Option("--workflow", "-w", help="Only cases of this workflow (repeatable).")
    ] = None,
    headed: Annotated[bool, typer.Option("--headed", help="Show the browsers (needs a display).")] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Robot ids are NAME#1, NAME#2... (default: the host name)."),
    ] = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Run robots that claim cases from the queue and work them (Ctrl-C / SIGTERM stops gracefully)."""
    from orchestrator.worker.supervisor import WorkerSettings, run_worker

    _check_robot_settings()
    context = _use(project, data_dir, database_url)
    try:
        settings = WorkerSettings(
            robots=robots,
            url=context.database_url,
            project_root=context.root,
            lease_seconds=lease,
            once=once,
            drain=drain,
            headed=headed,
            workflows=tuple(workflow or ()),
            name=name or socket.gethostname(),
        )
    except ValueError as error:
        _fail(str(error))
    raise typer.Exit(run_worker(settings))


cases_app = typer.Typer(
    help="Cases: list them (run.py cases), show one with its timeline, follow it live, retry, cancel.",
    invoke_without_command=True,
)
app.add_typer(cases_app, name="cases")
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
CaseId = Annotated[str, typer.Argument(help="The case's id (run.py cases lists them).")]
_STATUS_GROUPS = {
    "failed": ["failed_business", "failed_system"],
    "waiting": ["waiting_human"],
    "open": ["queued", "running", "waiting_human"],
}


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
        _fail(
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
        _GLOBAL.update(project=project or _GLOBAL["project"], data_dir=data_dir or _GLOBAL["data_dir"])
        if database_url:
            os.environ["TANDEM_DATABASE_URL"] = database_url
        return
    from orchestrator.queue.cli import list_cases

    statuses = [name for value in status or [] for name in _STATUS_GROUPS.get(value, [value])]
    store = _store(_use(project, data_dir, database_url))
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
    from orchestrator.queue.cli import show_case

    context = _use(project, data_dir, database_url)
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
    from orchestrator.queue.cli import follow_case

    context = _use(project, data_dir, database_url)
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
    from orchestrator.queue.cli import retry_case

    context = _use(project, data_dir, database_url)
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
    from orchestrator.queue.cli import cancel_case

    context = _use(project, data_dir, database_url)
    _with_store(context, lambda store: cancel_case(store, case_id, console, actor=actor, reason=reason))


tasks_app = typer.Typer(
    help="Human tasks of every queue: list them (run.py tasks), show one.", invoke_without_command=True
)
app.add_typer(tasks_app, name="tasks")


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
        _GLOBAL.update(project=project or _GLOBAL["project"], data_dir=data_dir or _GLOBAL["data_dir"])
        if database_url:
            os.environ["TANDEM_DATABASE_URL"] = database_url
        return
    from orchestrator.queue.cli import list_tasks

    statuses = () if show_all else tuple(status or ("open", "claimed"))
    context = _use(project, data_dir, database_url)
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
    from orchestrator.queue.cli import show_task

    context = _use(project, data_dir, database_url)
    _with_store(context, lambda store: show_task(store, task_id, console, as_json=as_json))


schedules_app = typer.Typer(
    help="Schedules: batch runs that turn files and queries into cases.", no_args_is_help=True
)
app.add_typer(schedules_app, name="schedules")


@schedules_app.command("validate")
def schedules_validate(project: ProjectDir = None, data_dir: DataDir = None) -> None:
    """Check every schedule in schedules/: problems with file:line:column and a fix."""
    from orchestrator.schedules.cli import validate as validate_schedules

    context = _use(project, data_dir)
    raise typer.Exit(validate_schedules(context.root, console))


@schedules_app.command("list")
def schedules_list(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Every schedule: workflow, timing, paused or not, next fire, last fire."""
    from orchestrator.schedules.cli import list_schedules

    context = _use(project, data_dir, database_url)
    raise typer.Exit(list_schedules(context.root, context.database_url, console))


@schedules_app.command("show")
def schedules_show(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """One schedule: timing, the next fire times, the last fires with their rejected rows."""
    from orchestrator.schedules.cli import show as show_schedule

    context = _use(project, data_dir, database_url)
    raise typer.Exit(show_schedule(context.root, name, context.database_url, console))


@schedules_app.command("run-now")
def schedules_run_now(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Fire a schedule now (pause and calendar do not apply) and print what it created."""
    from orchestrator.schedules.cli import run_now

    context = _use(project, data_dir, database_url)
    raise typer.Exit(run_now(context.root, name, context.database_url, console))


@schedules_app.command("pause")
def schedules_pause(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    actor: Annotated[str, typer.Option("--by", help="Who pauses it (kept with the state).")] = "ops",
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Pause a schedule for every scheduler process."""
    from orchestrator.schedules.cli import set_paused

    context = _use(project, data_dir, database_url)
    raise typer.Exit(set_paused(context.root, name, True, actor, context.database_url, console))


@schedules_app.command("resume")
def schedules_resume(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    actor: Annotated[str, typer.Option("--by", help="Who resumes it (kept with the state).")] = "ops",
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Resume a paused schedule (missed fires are not caught up)."""
    from orchestrator.schedules.cli import set_paused

    context = _use(project, data_dir, database_url)
    raise typer.Exit(set_paused(context.root, name, False, actor, context.database_url, console))


@schedules_app.command("serve")
def schedules_serve(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Run the scheduler in the foreground (several may run: each fire happens once); Ctrl-C stops."""
    from orchestrator.schedules.cli import serve as serve_schedules

    context = _use(project, data_dir, database_url)
    raise typer.Exit(serve_schedules(context.root, context.database_url, console))


if __name__ == "__main__":
    app()
