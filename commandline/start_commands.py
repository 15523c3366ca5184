"""The commands that start something and run until stopped: demo-apps, serve, demo, worker.

Owns how each long-running part is started from the command line: the demo back-office's
web apps (``demo-apps``), the control room (``serve``), the whole demo (``demo``) and the
robots that work the queue (``worker``).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from commandline.options import (
    GLOBAL_OPTIONS,
    DataDir,
    ProjectDir,
    check_robot_settings,
    command_context,
    console,
    fail,
)

# Tandem's checkout: ``run.py demo`` runs its demo project unless --project names another.
ROOT = Path(__file__).resolve().parents[1]

commands = typer.Typer()


@commands.command(name="demo-apps")
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
        fail(str(error), 1)


@commands.command()
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

    command_context(project, data_dir, database_url)
    console.print(
        f"control room on http://{host}:{port}/  ·  API docs /docs  ·  webform /webform/address-change"
        "  ·  Ctrl-C stops",
        highlight=False,
        soft_wrap=True,
    )
    try:
        serve_control_room(host=host, port=port, workers=workers)
    except (OSError, ValueError) as error:
        fail(f"cannot start the control room: {error}", 1)


@commands.command()
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
    from demo.launcher import DemoOptions, run_demo
    from robots.language.project_paths import NoProject, find_project

    check_robot_settings()
    try:
        root = find_project(project or GLOBAL_OPTIONS["project"] or ROOT)
    except NoProject as error:
        fail(str(error))
    options = DemoOptions(
        port=port, free_ports=free_ports, robots=robots, data_dir=data_dir, project_root=root
    )
    raise typer.Exit(run_demo(options))


@commands.command()
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

    check_robot_settings()
    context = command_context(project, data_dir, database_url)
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
        fail(str(error))
    raise typer.Exit(run_worker(settings))
