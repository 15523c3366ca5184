"""What every command shares: the consoles, failing with a message, the project options.

Owns ``console`` / ``errors`` (stdout, stderr), ``fail``, the ``--project``, ``--data-dir`` and
``--database-url`` options (``ProjectDir``, ``DataDir``, ``DatabaseUrl``) with the values given
before the command (``GLOBAL_OPTIONS``), and settling a command's project, data folder and
database (``command_context``), plus the checks and parsing several commands need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
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
# --project and --data-dir given before the command (run.py --project X cases ...): what a
# command uses when its own options do not say.
GLOBAL_OPTIONS: dict[str, Path | None] = {"project": None, "data_dir": None}


def command_context(
    project: Path | None = None, data_dir: Path | None = None, database_url: str | None = None
) -> Any:
    """Settle the command's project, data folder and database (``robots.language.project_paths``)."""
    from robots.language.project_paths import NoProject, use_project

    try:
        context = use_project(
            project or GLOBAL_OPTIONS["project"], data_dir or GLOBAL_OPTIONS["data_dir"], database_url
        )
    except NoProject as error:
        fail(str(error))
    if context.demo is not None:
        errors.print(
            f"using the running demo's database ({context.database_url})", markup=False, highlight=False
        )
    return context


def load_project(root: Path) -> Any:
    """The project in ``root`` (its workflows, rules and systems)."""
    from robots.language.project import Project

    return Project(root)


def check_robot_settings() -> None:
    """Refuse bad robot settings from the environment before anything starts."""
    from robots.drivers.web_session import trace_mode
    from robots.engine.runner import step_screenshot_mode

    try:
        trace_mode()
        step_screenshot_mode()
    except ValueError as error:
        fail(str(error))


def parse_pairs(pairs: list[str], what: str) -> dict[str, Any]:
    """``key=value`` options (``--input``, ``--answer``) as a dict; a bad or repeated one fails."""
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"{what} {pair!r} must look like key=value")
        key, value = pair.split("=", 1)
        key = key.strip()
        if not key:
            fail(f"{what} {pair!r} has no name before '=': write key=value")
        if key in values:
            fail(f"{what} {key} is given twice ({values[key]!r} and {value!r}): give it once")
        values[key] = value
    return values
