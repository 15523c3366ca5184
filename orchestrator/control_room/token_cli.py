"""``run.py token create | list | revoke``: the channel API's tokens from the command line.

Owns: the three commands' bodies (``run.py`` only parses the arguments); the secret of a new
token is printed once and stored only as a hash (``orchestrator.humans.people``).

May import: ``orchestrator.service`` (the store it opens), ``orchestrator.errors``.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.errors import NotFound


def _cli_store() -> Any:
    from orchestrator.service import Orchestrator

    return Orchestrator()


def cli_create_token(channel: str, workflows: list[str], description: str, console: Any) -> int:
    """``run.py token create``: issue a token and print its secret once; the exit code."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,50}", channel):
        console.print(f"[red]channel {channel!r}: use 1-50 letters, digits, '_', '-' or '.'[/red]")
        return 2
    store = _cli_store()
    try:
        unknown = [w for w in workflows if w != "*" and w not in store.project.workflow_files()]
        if unknown:
            known = ", ".join(sorted(store.project.workflow_files()))
            console.print(f"[red]no workflow named {', '.join(unknown)}; workflows: {known}[/red]")
            return 2
        token, secret = store.create_token(channel, workflows, description=description)
    finally:
        store.close()
    console.print(f"token {token.id} for channel {token.channel} may start: {', '.join(token.workflows)}")
    console.print("the secret (shown only now; send it as 'Authorization: Bearer <secret>'):")
    console.print(secret, highlight=False, markup=False, soft_wrap=True)
    return 0


def cli_list_tokens(console: Any) -> None:
    """``run.py token list``: every token without its secret."""
    from rich.table import Table

    store = _cli_store()
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


def cli_revoke_token(token_id: str, console: Any) -> int:
    """``run.py token revoke``: revoke by id; the exit code."""
    store = _cli_store()
    try:
        store.revoke_token(token_id)
    except NotFound:
        console.print(f"[red]no API token {token_id!r}; `run.py token list` shows them[/red]")
        return 1
    finally:
        store.close()
    console.print(f"token {token_id} revoked")
    return 0
