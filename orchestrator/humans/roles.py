"""What each role may do to a human task and to a case: one table, enforced by the store.

The pages only hide what a role may not do; the store refuses it (``PermissionDenied``, a
403 on every page and in the API) whoever asks and however. Visibility comes first and is
separate: a user acts only on tasks and cases of their unit and the units below it
(``TaskStore._task_for``, ``TaskStore.case_scope``). ``docs/control-room.md`` shows the same
table; ``tests/contract/test_roles.py`` checks every cell.

::

    action                 agent  supervisor  ops  admin
    task.view                x        x        x     x
    task.claim               x        x        x     x
    task.release             x        x        x     x
    task.comment             x        x        x     x
    task.corrected           x        x        x     x
    task.done_by_hand        x        x        x     x
    task.rejected            x        x        x     x
    task.postponed           x        x        x     x
    task.cancelled                    x        x     x
    task.reassign                     x              x
    task.escalate                     x              x
    case.view                                  x     x
    case.retry                                 x     x
    case.cancel                                x     x
"""

from __future__ import annotations

from typing import Final

from orchestrator.errors import PermissionDenied
from orchestrator.models import ROLES

EVERYONE: Final = frozenset(ROLES)

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "task.view": EVERYONE,
    "task.claim": EVERYONE,
    "task.release": EVERYONE,
    "task.comment": EVERYONE,
    "task.corrected": EVERYONE,
    "task.done_by_hand": EVERYONE,
    "task.rejected": EVERYONE,
    "task.postponed": EVERYONE,
    # Ending a customer's request without doing or refusing it is not an agent's call.
    "task.cancelled": frozenset({"supervisor", "ops", "admin"}),
    "task.reassign": frozenset({"supervisor", "admin"}),
    "task.escalate": frozenset({"supervisor", "admin"}),
    "case.view": frozenset({"ops", "admin"}),
    "case.retry": frozenset({"ops", "admin"}),
    "case.cancel": frozenset({"ops", "admin"}),
}
"""action -> the roles that may do it."""

_WORDS: Final = {
    "task.cancelled": "cancel tasks",
    "task.reassign": "reassign tasks",
    "task.escalate": "escalate tasks",
    "case.view": "open cases",
    "case.retry": "retry cases",
    "case.cancel": "cancel cases",
}


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action`` (a key of ``PERMISSIONS``)."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}; actions: {', '.join(PERMISSIONS)}")
    return role in PERMISSIONS[action]


def require(username: str, role: str, action: str) -> None:
    """``PermissionDenied`` unless ``role`` may do ``action``; the message names who may."""
    if not allowed(role, action):
        roles = [r for r in ROLES if r in PERMISSIONS[action]]
        who = "a " + (", ".join(roles[:-1]) + " or " + roles[-1] if len(roles) > 1 else roles[0])
        what = _WORDS.get(action, action.replace(".", " ").replace("_", " "))
        raise PermissionDenied(f"{username} is {role}; only {who} may {what}")
