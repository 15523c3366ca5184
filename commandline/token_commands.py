"""``run.py token create | list | revoke``: the API tokens of channel systems.

The secret of a new token is printed once and stored only as a hash
(``orchestrator.humans.people``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from commandline.options import DatabaseUrl, DataDir, ProjectDir, command_context, console

token_app = typer.Typer(help="API tokens of channel systems (IVR, webform backend...).", no_args_is_help=True)


def _store() -> Any:
    from orchestrator.service import Orchestrator

    return Orchestrator()


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
    command_context(project, data_dir, database_url)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,50}", channel):
        console.print(f"[red]channel {channel!r}: use 1-50 letters, digits, '_', '-' or '.'[/red]")
        raise typer.Exit(2)
    store = _store()
    try:
        unknown = [w for w in workflows if w != "*" and w not in store.project.workflow_files()]
        if unknown:
            known = ", ".join(sorted(store.project.workflow_files()))
            console.print(f"[red]no workflow named {', '.join(unknown)}; workflows: {known}[/red]")
            raise typer.Exit(2)
        token, secret = store.create_token(channel, workflows, description=description)
    finally:
        store.close()
    console.print(f"token {token.id} for channel {token.channel} may start: {', '.join(token.workflows)}")
    console.print("the secret (shown only now; send it as 'Authorization: Bearer <secret>'):")
    console.print(secret, highlight=False, markup=False, soft_wrap=True)


@token_app.command("list")
def token_list(
    database_url: DatabaseUrl = None, project: ProjectDir = None, data_dir: DataDir = None
) -> None:
    """Every token: id, channel, workflows, revoked or not (never the secret)."""
    from rich.table import Table

    command_context(project, data_dir, database_url)
    store = _store()
    try:
        tokens = store.list_tokens()
    finally:
        store.close()
    table = Table("id", "channel", "workflows", "created", "revoked", "description")
    for token in tokens:
        table.add_row(
            token.id,
            token.channel,
            ", ".join(token.workflows),
            f"{token.created_at:%Y-%m-%d %H:%M}",
            f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "",
            token.description,
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (t-...).")],
    database_url: DatabaseUrl = None,
    project: ProjectDir = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke a token; it stops working within the token cache time (token_cache_seconds, 2 s)."""
    from orchestrator.errors import NotFound

    command_context(project, data_dir, database_url)
    store = _store()
    try:
        store.revoke_token(token_id)
    except NotFound:
        console.print(f"[red]no API token {token_id!r}; `run.py token list` shows them[/red]")
        raise typer.Exit(1) from None
    finally:
        store.close()
    console.print(f"token {token_id} revoked")
