"""``run.py schedules``: check, list, show, fire now, pause, resume and serve the schedules.

The commands read their options and settle the project; what they do and print is
``orchestrator.schedules.schedule_console``'s.
"""

from __future__ import annotations

from typing import Annotated

import typer

from commandline.options import DatabaseUrl, DataDir, ProjectDir, command_context, console

schedules_app = typer.Typer(
    help="Schedules: batch runs that turn files and queries into cases.", no_args_is_help=True
)


@schedules_app.command("validate")
def schedules_validate(project: ProjectDir = None, data_dir: DataDir = None) -> None:
    """Check every schedule in schedules/: problems with file:line:column and a fix."""
    from orchestrator.schedules.schedule_console import validate as validate_schedules

    context = command_context(project, data_dir)
    raise typer.Exit(validate_schedules(context.root, console))


@schedules_app.command("list")
def schedules_list(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Every schedule: workflow, timing, paused or not, next fire, last fire."""
    from orchestrator.schedules.schedule_console import list_schedules

    context = command_context(project, data_dir, database_url)
    raise typer.Exit(list_schedules(context.root, context.database_url, console))


@schedules_app.command("show")
def schedules_show(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """One schedule: timing, the next fire times, the last fires with their rejected rows."""
    from orchestrator.schedules.schedule_console import show as show_schedule

    context = command_context(project, data_dir, database_url)
    raise typer.Exit(show_schedule(context.root, name, context.database_url, console))


@schedules_app.command("run-now")
def schedules_run_now(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Fire a schedule now (pause and calendar do not apply) and print what it created."""
    from orchestrator.schedules.schedule_console import run_now

    context = command_context(project, data_dir, database_url)
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
    from orchestrator.schedules.schedule_console import set_paused

    context = command_context(project, data_dir, database_url)
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
    from orchestrator.schedules.schedule_console import set_paused

    context = command_context(project, data_dir, database_url)
    raise typer.Exit(set_paused(context.root, name, False, actor, context.database_url, console))


@schedules_app.command("serve")
def schedules_serve(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Run the scheduler in the foreground (several may run: each fire happens once); Ctrl-C stops."""
    from orchestrator.schedules.schedule_console import serve as serve_schedules

    context = command_context(project, data_dir, database_url)
    raise typer.Exit(serve_schedules(context.root, context.database_url, console))
