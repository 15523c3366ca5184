"""The task actions an agent takes, shared by the task pages and the JSON API.

Each reads its own input (a page's form with ``form_input``, the API its JSON body) into a
``TaskInput``; ``act_on_task`` then does the action the same way for both and says what
happened in a ``Message`` the page shows in the reader's language.

Owns: ``TaskInput``, ``TaskAction``, ``answer_from_form``, ``parse_until``, ``form_input``,
``act_on_task``, ``OUTCOME_MESSAGES``.

May import: ``pages.sessions``, ``pages.rendering`` (``Message``),
``orchestrator.control_room.i18n``, ``orchestrator.errors`` and ``orchestrator.models``; the
store is passed in (it checks that the agent may do it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import Message
from orchestrator.control_room.pages.sessions import Agent
from orchestrator.errors import NotFound
from orchestrator.models import HumanTask


def answer_from_form(task: HumanTask, form: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for spec in task.form:
        name = spec.get("name") if isinstance(spec, dict) else None
        if not name:
            continue
        if spec.get("type") == "boolean":
            answer[name] = form.get(name) == "true"
        elif name in form and str(form[name]) != "":
            answer[name] = str(form[name])
    return answer


TaskAction = Literal[
    "claim", "release", "complete", "return", "comment", "reassign", "cancel", "escalate", "outcome"
]


@dataclass(frozen=True)
class TaskInput:
    """What an agent sent with a task action, read from a page's form or the API's JSON body.

    The page and the API each read their own input into this; ``act_on_task`` then does the action
    the same way for both.
    """

    answer: dict[str, Any] | None = None  # complete (the form's values); return (optional)
    note: str = ""  # return
    text: str = ""  # comment
    to: str = ""  # reassign: the user name
    reason: str = ""  # cancel, escalate
    outcome: str = ""  # outcome: corrected, done_by_hand, rejected, postponed, cancelled
    corrected_input: dict[str, Any] | None = None  # outcome corrected: changed case input fields
    until: datetime | None = None  # outcome postponed


def parse_until(text: str, time_zone: str = "UTC") -> datetime | None:
    """A date and time from a form (``2026-12-07T10:00``, in ``time_zone`` unless it says otherwise)."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"until: {text!r} is not a date and time (e.g. 2026-12-07T10:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(time_zone))


def form_input(store: Any, agent: Agent, task_id: str, action: str, form: dict[str, Any]) -> TaskInput:
    """A task page's form as the action's input; complete and outcome read the answer by the
    task's form, outcome also the corrected input (fields named ``input.<name>``)."""
    task = store.get_task(task_id, agent.username) if action in ("complete", "outcome") else None
    answer = answer_from_form(task, form) if task is not None else None
    corrected = None
    if action == "outcome" and task is not None:
        current = {f["name"]: f["value"] for f in store.correction_fields(task)}
        given = {k.removeprefix("input."): str(v) for k, v in form.items() if k.startswith("input.")}
        corrected = {k: v for k, v in given.items() if k in current and v != str(current[k] or "")}
    return TaskInput(
        outcome=str(form.get("outcome", "")),
        corrected_input=corrected,
        until=parse_until(str(form.get("until", "")), agent.time_zone),
        answer=answer,
        # The outcome form's own note is named apart: a task's form may have a "note" field.
        note=str(form.get("outcome_note" if action == "outcome" else "note", "")).strip(),
        text=str(form.get("text", "")),
        to=str(form.get("to", "")).strip(),
        reason=str(form.get("reason", "")).strip(),
    )


OUTCOME_MESSAGES = {
    "corrected": N_("Task %(task)s corrected: a robot takes the case on."),
    "done_by_hand": N_("Task %(task)s done by hand: the case is closed and the customer told."),
    "rejected": N_("Task %(task)s rejected: the case is closed and the customer told why."),
    "postponed": N_("Task %(task)s postponed: it is back in its queue then."),
    "cancelled": N_("Task %(task)s cancelled with its case."),
}


def act_on_task(store: Any, agent: Agent, task_id: str, action: str, given: TaskInput) -> str:
    """Do one thing to a task as ``agent``; the message to show. Store errors pass through
    (the store checks that the agent may do it)."""
    name = agent.username
    if action == "claim":
        store.claim_task(task_id, name)
        return Message(N_("Task %(task)s is yours now."), task=task_id)
    if action == "release":
        store.release_task(task_id, name)
        return Message(N_("Task %(task)s is back in its queue."), task=task_id)
    if action == "outcome":
        outcome = given.outcome
        store.resolve_task(
            task_id,
            name,
            outcome,
            answer=given.answer,
            corrected_input=given.corrected_input,
            note=given.note or given.reason,
            until=given.until,
        )
        store.notify_customer(task_id)
        return Message(OUTCOME_MESSAGES.get(outcome, N_("Done.")), task=task_id)
    if action == "complete":
        store.complete_task(task_id, name, given.answer or {})
        store.notify_customer(task_id)
        return Message(N_("Task %(task)s completed; the case goes on."), task=task_id)
    if action == "return":
        store.return_to_robot(task_id, name, given.answer or None, comment=given.note)
        return Message(N_("Task %(task)s returned to a robot."), task=task_id)
    if action == "comment":
        store.comment_task(task_id, name, given.text)
        return Message(N_("Comment added."))
    if action == "reassign":
        store.reassign_task(task_id, name, given.to)
        return Message(N_("Task %(task)s reassigned to %(to)s."), task=task_id, to=given.to)
    if action == "cancel":
        store.cancel_task(task_id, name, given.reason or "cancelled by a supervisor")
        store.notify_customer(task_id)
        return Message(N_("Task %(task)s cancelled."), task=task_id)
    if action == "escalate":
        moved = store.escalate_task(task_id, name, given.reason)
        return Message(N_("Task %(task)s escalated to %(queue)s."), task=task_id, queue=moved.queue)
    raise NotFound("task action", action)
