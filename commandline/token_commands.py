"""``run.py token``: the API tokens of channel systems - create, list, revoke."""

from __future__ import annotations

from typing import Annotated

import typer

from commandline.options import DatabaseUrl, DataDir, ProjectDir, command_context, console

token_app = typer.Typer(help="API tokens of channel systems (IVR, webform backend...).", no_args_is_help=True)


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

    command_context(project, data_dir, database_url)

    raise typer.Exit(create_token(channel, workflows, description, console))


@token_app.command("list")
def token_list(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Every token: id, channel, workflows, revoked or not (never the secret)."""
    from orchestrator.control_room.api import cli_list_tokens as list_tokens

    command_context(project, data_dir, database_url)

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

    command_context(project, data_dir, database_url)

    raise typer.Exit(revoke_token(token_id, console))
