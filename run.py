#!/usr/bin/env python3
"""Tandem's one entry point: ``python run.py --help``.

The commands live in ``commandline/`` (one module per group); this file makes the root
command with its ``--project`` / ``--data-dir`` options and adds them in the order
``--help`` lists them.
"""

from __future__ import annotations

import typer

from commandline import (
    authoring_commands,
    case_commands,
    schedule_commands,
    start_commands,
    token_commands,
)
from commandline.options import GLOBAL_OPTIONS, DataDir, ProjectDir

app = typer.Typer(
    help="Tandem: robots for the customer-service back-office.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(project: ProjectDir = None, data_dir: DataDir = None) -> None:
    """Tandem: robots for the customer-service back-office. Every command works on one
    project (docs/projects.md); --project and --data-dir may also follow the command."""
    GLOBAL_OPTIONS.update(project=project, data_dir=data_dir)


app.add_typer(authoring_commands.commands)  # validate, init, schema, actions, run, record
app.add_typer(start_commands.commands)  # demo-apps, serve, demo, worker
app.add_typer(token_commands.token_app, name="token")
app.add_typer(case_commands.cases_app, name="cases")
app.add_typer(case_commands.tasks_app, name="tasks")
app.add_typer(schedule_commands.schedules_app, name="schedules")


if __name__ == "__main__":
    app()
