"""How a person ends a human task, and what that means for the case and for the customer.

Every task ends with an outcome the person chooses::

    outcome        the task         the case                                the customer reads
    corrected      returned /       queued: a robot resumes with the         "In progress"
                   completed        corrected data (see below)
    done_by_hand   completed        done_by_hand (final; a note says what    "Done by our team"
                                    the person did in the target systems)
    rejected       completed        rejected (final; a business reason)      "Not possible: <reason>"
    postponed      open again,      waiting_human                            "We will continue on <date>"
                   due from a time
    cancelled      cancelled        cancelled (final)                        "Cancelled"

*corrected* on an ``await_human`` task is its form's answer: the run resumes at the step
with it. On an escalation or a robot failure the person may also correct the case's input
(a form built from the workflow's ``input``; checked like a new case, every problem at
once). When the input changed, the robot starts the workflow again from its first step: every
step may have read the old values, and the workflows check a system before they change it,
so nothing is applied twice. When it did not, the run resumes from its checkpoint (an
``escalate`` step counts as passed, with the form's answer as ``human``).

A workflow's ``escalate`` / ``await_human`` step says which outcomes it offers
(``outcomes: [postponed, rejected]``) and may replace what the customer is told for each
(``outcomes: {done_by_hand: {title: ..., text: ..., mail: template}}``); ``DEFAULT_NOTICES``
holds the rest. ``cancelled`` is always open to the roles that may cancel
(``orchestrator.humans.roles``). A case shows the customer "done" only in two states: ``done``
(a robot ran the workflow to its end, which verifies each effect) and ``done_by_hand`` (a
person recorded doing it).

What the customer is told is kept on the case (``outputs["customer"]``: outcome, title, text)
for the status page; a mail, when the outcome has one and the case input an ``email``, is
sent by ``notify_customer`` after the outcome is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from loguru import logger
from sqlalchemy.orm import Session

from connectors.fields import LATEST
from connectors.smtp import Mail, Mailer, SmtpMailer
from orchestrator.errors import InvalidTransition
from orchestrator.humans.customer_links import CustomerLinks
from orchestrator.humans.notifications import NotificationStore
from orchestrator.humans.roles import allowed, require
from orchestrator.humans.tasks import AnswerInvalid
from orchestrator.models import HumanTask
from orchestrator.storage.tables import CaseRow, QueueRow, TaskRow
from robots.actions.mail import render_mail
from robots.errors import DefinitionError, RobotException
from robots.language.inputs import InputError, validate_input

OUTCOMES: Final = ("corrected", "done_by_hand", "rejected", "postponed", "cancelled")
FINAL_CASE_STATES: Final = {"done_by_hand": "done_by_hand", "rejected": "rejected", "cancelled": "cancelled"}
CUSTOMER_DONE: Final = frozenset({"done", "done_by_hand"})
"""The only case states a customer may read as "done"."""

#: What the person is offered on a task page, in this order.
LABELS: Final = {
    "corrected": "Corrected: back to the robot",
    "done_by_hand": "Done by hand",
    "rejected": "Rejected",
    "postponed": "Postponed",
    "cancelled": "Cancelled",
}

#: What choosing each outcome does, in the words the task page uses.
MEANINGS: Final = {
    "corrected": "A robot takes the case on with your answer and the case data as corrected here; "
    "changed case data makes it start again from the first step.",
    "done_by_hand": "You did the work yourself in the systems: say what in the note. The case ends as "
    "done by hand and the customer is told.",
    "rejected": "The request cannot be carried out: the note is the reason the customer reads.",
    "postponed": "Back into the queue at the time given (e.g. call back tomorrow 10:00).",
    "cancelled": "The customer's case ends without being carried out (supervisors, ops, admins).",
}

#: What the customer reads for each outcome unless the workflow's step says otherwise.
DEFAULT_NOTICES: Final[dict[str, dict[str, Any]]] = {
    "corrected": {
        "title": "In progress",
        "text": "A colleague checked your request; our systems are processing it now.",
        "mail": False,
    },
    "done_by_hand": {
        "title": "Done by our team",
        "text": "A colleague has carried out your request by hand.",
        "mail": "request_done_by_hand",
    },
    "rejected": {
        "title": "Not possible",
        "text": "We could not carry out your request: {reason}",
        "mail": "request_rejected",
    },
    "postponed": {
        "title": "Scheduled",
        "text": "A colleague will continue with your request on {until}.",
        "mail": False,
    },
    "cancelled": {"title": "Cancelled", "text": "This request was cancelled.", "mail": False},
}


def offered_outcomes(task: HumanTask, role: str | None = None) -> list[str]:
    """The outcomes ``task`` offers (to ``role``, when given: those it may choose), in order.

    A task without a case (made by hand) cannot go back to a robot. ``cancelled`` is always
    there for the roles that may cancel.
    """
    declared = set(task.outcomes) if task.outcomes else set(OUTCOMES)
    declared.add("cancelled")
    if task.case_id is None:
        declared.discard("corrected")
    names: list[str] = [name for name in OUTCOMES if name in declared]
    return names if role is None else [name for name in names if allowed(role, f"task.{name}")]


def label_for(task: HumanTask, outcome: str) -> str:
    """The outcome's button: the step's ``label`` when it gives one, else the default."""
    spec = (task.outcomes or {}).get(outcome) or {}
    return str(spec.get("label") or LABELS[outcome])


def notice_for(task_outcomes: dict[str, Any] | None, outcome: str, values: dict[str, Any]) -> dict[str, Any]:
    """What the customer is told for ``outcome``: the step's words over the defaults, with
    ``{reason}``, ``{note}``, ``{until}`` and the case input's ``{field}`` filled in."""
    spec = {**DEFAULT_NOTICES[outcome], **((task_outcomes or {}).get(outcome) or {})}
    rendered: dict[str, Any] = {"outcome": outcome, "mail": spec.get("mail")}
    for part in ("title", "text"):
        rendered[part] = _fill(str(spec.get(part) or ""), values)
    return rendered


class _Blank(dict[str, Any]):
    """Placeholders nobody filled read as nothing rather than failing the outcome."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(text: str, values: dict[str, Any]) -> str:
    """``{reason}``, ``{note}``, ``{until}`` and ``{field}`` (a case input field) filled in."""
    try:
        return text.format_map(_Blank({**values.get("input", {}), **values}))
    except (ValueError, AttributeError, IndexError, KeyError) as error:
        logger.warning("customer text {!r} cannot be filled in: {}", text, error)
        return text


def customer_notice(status: str, outputs: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a person's outcome told the customer about a case in ``status`` (title, text), or
    None when the case's own state speaks (a robot's states, or no outcome recorded)."""
    notice = (outputs or {}).get("customer")
    if not isinstance(notice, dict):
        return None
    outcome = notice.get("outcome")
    if FINAL_CASE_STATES.get(str(outcome)) == status or (
        outcome == "postponed" and status in ("waiting_human", "queued")
    ):
        return notice
    return None


def plain_reason(task: HumanTask) -> tuple[str, str]:
    """A task's reason in words a person understands, and the technical detail to fold away.

    An ``escalate`` / ``await_human`` reason is the workflow's own sentence: shown as it is. A
    robot failure reads "business exception at step crm: The CRM has no customer C000099" or
    "system exception after 3 attempts at step crm: <URL> answered HTTP 404": a business
    exception's message is the workflow's sentence; a system exception's is the machine's,
    so the person reads what the robot could not do and the rest is the detail.
    """
    if task.origin != "failure":
        return task.reason, ""
    head, _, message = task.reason.partition(": ")
    if not message:
        return task.reason, ""
    step = head.rsplit(" at step ", 1)[-1] if " at step " in head else "?"
    if head.startswith("business exception"):
        return message, task.reason
    return (
        f"The robot could not finish step {step!r}: one of the systems did not answer as expected. "
        "Check the case data; correct it, or do the work by hand.",
        task.reason,
    )


class OutcomeStore(NotificationStore):
    """Ending human tasks with an outcome (see the module docstring)."""

    customer_links: CustomerLinks | None = None
    """How a case's status link for the customer is made (``Orchestrator(customer_links=...)``)."""

    def customer_status_url(self, case_id: str) -> str:
        """The whole address of the case's status page for the customer's mails, or "" when
        the server's public URL is not configured (then a mail carries no link)."""
        return self.customer_links.status_url(case_id) if self.customer_links is not None else ""

    def correction_fields(self, task: HumanTask) -> list[dict[str, Any]]:
        """The case input as form fields a person may correct (an escalation or a robot
        failure), each with its current value; [] for an ``await_human`` task or none."""
        if task.case_id is None or task.kind == "await_human":
            return []
        with self._tx() as session:
            case = session.get(CaseRow, task.case_id)
            if case is None:
                return []
            workflow, payload = case.workflow, dict(case.payload or {})
        try:
            flow = self.project.workflow(workflow)
        except DefinitionError:
            return []
        fields = []
        for name, spec in flow.input.items():
            if spec.secret:
                continue
            fields.append(
                {
                    "name": name,
                    "label": spec.description or name.replace("_", " ").capitalize(),
                    "type": spec.type,
                    "required": spec.required,
                    "choices": list(spec.enum) if spec.enum else None,
                    "value": payload.get(name, ""),
                }
            )
        return fields

    def case_picture(self, case_id: str | None) -> dict[str, Any]:
        """What a task page shows of its case: the input, everything the robot gathered so
        far (the variables of its completed steps), and the attempts counted truthfully:
        robot runs, system failures of the allowed, human rounds (tasks). {} without a case."""
        if case_id is None:
            return {}
        with self._tx() as session:
            case = session.get(CaseRow, case_id)
            if case is None:
                return {}
            rounds = session.scalar(
                sa.select(sa.func.count()).select_from(TaskRow).where(TaskRow.case_id == case_id)
            )
            gathered: dict[str, Any] = {}
            for effects in ((case.run_state or {}).get("completed") or {}).values():
                for name, value in ((effects or {}).get("vars") or {}).items():
                    if name not in ("secret", "run", "case", "input"):
                        gathered[name] = value
            payload, workflow = dict(case.payload or {}), case.workflow
            summary = {
                "gathered": gathered,
                "robot_runs": case.attempts,
                "failures": case.failures,
                "max_attempts": case.max_attempts,
                "human_rounds": int(rounds or 0),
                "error": case.error,
                "error_step": case.error_step,
            }
        secret = self._secret_inputs(workflow)
        return {"input": {k: v for k, v in payload.items() if k not in secret}, **summary}

    def _corrected_payload(
        self, session: Session, case: CaseRow, task: TaskRow, corrected: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """The case payload with ``corrected`` applied, checked against the workflow's input:
        (payload, problems)."""
        payload = dict(case.payload or {})
        for name, value in corrected.items():
            if value in ("", None):
                payload.pop(name, None)
            else:
                payload[name] = value
        try:
            flow = self.project.workflow(case.workflow)
            return validate_input(flow, payload), []
        except InputError as error:
            return payload, [p.removeprefix("input.") for p in error.problems]
        except (DefinitionError, RobotException) as error:
            return payload, [f"workflow {case.workflow}: {error}"]

    def resolve_task(
        self,
        task_id: str,
        username: str,
        outcome: str,
        *,
        answer: dict[str, Any] | None = None,
        corrected_input: dict[str, Any] | None = None,
        note: str = "",
        until: datetime | None = None,
    ) -> HumanTask:
        """End (or postpone) a task with ``outcome``; see the module docstring.

        ``answer``: the task form's values (corrected; done_by_hand may carry them too).
        ``corrected_input``: changed case input fields (corrected, escalations and failures).
        ``note``: what the person did (done_by_hand) or the business reason (rejected,
        cancelled, required for both). ``until``: when a postponed task is due again (in the
        future). ``PermissionDenied`` when the user's role may not choose it,
        ``InvalidTransition`` when the task does not offer it or is closed, ``AnswerInvalid``
        listing every problem with the answer, the input or the note.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
        note = (note or "").strip()
        with self._tx() as session:
            task, user = self._task_for(session, task_id, username)
            require(username, user.role, f"task.{outcome}")
            self._check_holder(task, user)
            snapshot = HumanTask.model_validate(task)
            if outcome not in offered_outcomes(snapshot):
                offered = ", ".join(offered_outcomes(snapshot))
                raise InvalidTransition(f"task {task_id} does not offer {outcome!r}; it offers {offered}")
            case = self._case_of(session, task)
            waiting = case is not None and case.status == "waiting_human" and case.task_id == task.id
            problems: list[str] = []
            if outcome in ("rejected", "cancelled") and not note:
                problems.append("reason: say why (the customer is told)")
            if outcome == "done_by_hand" and not note:
                problems.append("note: say what you did in which system")
            if outcome == "postponed":
                if until is None:
                    problems.append("until: give the date and time to continue")
                elif until <= self.now():
                    problems.append("until: give a time in the future")
                elif until > LATEST:
                    # Its SLA due time (until + minutes) must still be a date a database holds.
                    problems.append(f"until: give a time before {LATEST:%Y-%m-%d}")
            checked: dict[str, Any] | None = None
            payload: dict[str, Any] | None = None
            if outcome == "corrected":
                # An await_human answer may arrive while the robot is still reporting: the
                # robot takes it when it finishes (RunStore._finish_other).
                if case is None or (not waiting and task.kind != "await_human"):
                    raise InvalidTransition(
                        f"task {task_id}: its case is not waiting for it, nothing can go back to a robot"
                    )
                if task.form or answer:
                    try:
                        checked = self._checked_answer(task, answer or {})
                    except AnswerInvalid as error:
                        problems.extend(error.problems)
                if corrected_input and task.kind != "await_human":
                    payload, input_problems = self._corrected_payload(session, case, task, corrected_input)
                    problems.extend(input_problems)
            elif outcome == "done_by_hand" and task.form and answer:
                try:
                    checked = self._checked_answer(task, answer)
                except AnswerInvalid as error:
                    problems.extend(error.problems)
            if problems:
                raise AnswerInvalid(task_id, problems)
            notice = notice_for(task.outcomes, outcome, _values(note, until, case))
            if outcome == "postponed":
                assert until is not None
                if waiting and case is not None:
                    case.outputs = {**(case.outputs or {}), "customer": _shown(notice)}
                    if ((task.outcomes or {}).get("postponed") or {}).get("robot"):
                        self._postpone_to_robot(session, case, task, username, until, note)
                        return HumanTask.model_validate(task)
                self._postpone(session, task, username, until, note)
                return HumanTask.model_validate(task)
            status = {"corrected": "completed" if task.kind == "await_human" else "returned"}.get(
                outcome, "cancelled" if outcome == "cancelled" else "completed"
            )
            self._close(session, task, status, username, checked)
            task.outcome, task.outcome_note = outcome, note or None
            if note and outcome != "corrected":
                self._task_event(session, task.id, username, "comment", note)
            if case is None or not waiting:
                return HumanTask.model_validate(task)
            if outcome == "corrected":
                self._back_to_robot(session, case, task, username, checked, payload, note)
            else:
                case.finished_at = self.now()
                outputs = {**(case.outputs or {}), "resolved_by": username, "customer": _shown(notice)}
                if note:
                    outputs["note" if outcome == "done_by_hand" else "reason"] = note
                if checked:
                    outputs["resolution"] = checked
                case.outputs = outputs
                self._transition(
                    session,
                    case,
                    FINAL_CASE_STATES[outcome],
                    actor=username,
                    reason=f"{LABELS[outcome].lower()} in task {task.id}" + (f": {note}" if note else ""),
                )
            return HumanTask.model_validate(task)

    def _apply_late_outcome(self, session: Session, case: CaseRow, task: TaskRow) -> bool:
        """A robot reports waiting for ``task`` after a person already ended it finally (done
        by hand, rejected, cancelled): the case takes that final state now; True when so."""
        final = FINAL_CASE_STATES.get(task.outcome or "")
        if final is None:
            return False
        notice = notice_for(task.outcomes, task.outcome or "", _values(task.outcome_note or "", None, case))
        case.finished_at = self.now()
        case.outputs = {**(case.outputs or {}), "resolved_by": task.closed_by, "customer": _shown(notice)}
        self._transition(
            session,
            case,
            final,
            actor=task.closed_by or "orchestrator",
            reason=f"task {task.id} ended already",
        )
        return True

    def _postpone_to_robot(
        self, session: Session, case: CaseRow, task: TaskRow, username: str, until: datetime, note: str
    ) -> None:
        """The step said ``postponed: {robot: true}``: the task closes, and at ``until`` a robot
        runs the workflow again from its first step; when it needs a person again, the same
        task comes back (``TaskStore._create_task_in`` reopens it)."""
        self._close(session, task, "returned", username, None)
        task.outcome, task.outcome_note, task.available_at = "postponed", note or None, until
        detail = f"until {until:%Y-%m-%d %H:%M} UTC, then a robot tries again" + (f": {note}" if note else "")
        self._task_event(session, task.id, username, "postponed", detail)
        case.run_state = None
        self._requeue(
            session,
            case,
            username,
            f"postponed in task {task.id}: a robot tries again at {until:%Y-%m-%d %H:%M} UTC",
        )
        case.not_before = until

    def _postpone(self, session: Session, task: TaskRow, username: str, until: datetime, note: str) -> None:
        queue = session.get(QueueRow, task.queue)
        sla = timedelta(minutes=queue.sla_minutes if queue is not None else 60)
        task.status, task.assignee, task.claimed_at = "open", None, None
        task.available_at, task.due_at = until, until + sla
        detail = f"until {until:%Y-%m-%d %H:%M} UTC" + (f": {note}" if note else "")
        self._task_event(session, task.id, username, "postponed", detail)

    def _back_to_robot(
        self,
        session: Session,
        case: CaseRow,
        task: TaskRow,
        username: str,
        checked: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        note: str,
    ) -> None:
        changed = payload is not None and payload != case.payload
        if changed:
            assert payload is not None
            before = dict(case.payload or {})
            fields = sorted(k for k in set(before) | set(payload) if before.get(k) != payload.get(k))
            case.payload = payload
            # Every completed step may have read the old input: the robot starts again.
            case.run_state = None
            self._task_event(session, task.id, username, "corrected", "input: " + ", ".join(fields))
        elif task.origin == "escalate" and task.step:
            state = dict(case.run_state or {})
            completed = dict(state.get("completed", {}))
            completed[task.step] = {"vars": {"human": checked or {}}, "outputs": {}}
            state["completed"] = completed
            case.run_state = state
        if note:
            self._task_event(session, task.id, username, "comment", note)
        outputs = dict(case.outputs or {})
        outputs.pop("customer", None)
        case.outputs = outputs or None
        case.error = case.error_kind = case.error_step = None
        what = "with corrected input, from the first step" if changed else "from its checkpoint"
        self._requeue(session, case, username, f"corrected in task {task.id}: a robot resumes {what}")

    # -- the names the API has always had --------------------------------------------------

    def complete_task(self, task_id: str, username: str, answer: dict[str, Any]) -> HumanTask:
        """Complete a task with its form's values.

        An ``await_human`` task: the outcome ``corrected`` (the case resumes with the answer).
        An escalation or robot failure: ``done_by_hand``, which needs ``answer["note"]`` (what
        the person did); nothing else marks such a case done.
        """
        task = self.get_task(task_id, username)
        if task.kind == "await_human" or (task.case_id is None and not task.form):
            if task.case_id is None:
                return self.resolve_task(
                    task_id, username, "done_by_hand", note=str(answer.get("note") or "done")
                )
            return self.resolve_task(task_id, username, "corrected", answer=answer)
        values = dict(answer)
        note = str(values.pop("note", "") or "")
        return self.resolve_task(task_id, username, "done_by_hand", answer=values or None, note=note)

    def return_to_robot(
        self, task_id: str, username: str, answer: dict[str, Any] | None = None, *, comment: str = ""
    ) -> HumanTask:
        """The outcome ``corrected`` without changed input: a robot resumes the case."""
        task = self.get_task(task_id, username)
        if task.case_id is None:
            raise InvalidTransition(f"task {task_id} belongs to no case; complete or cancel it instead")
        with self._tx() as session:
            case = session.get(CaseRow, task.case_id)
            status = case.status if case is not None else "gone"
        if status not in ("waiting_human", "failed_business", "failed_system"):
            raise InvalidTransition(f"case {task.case_id} is {status}; it cannot be returned to a robot now")
        return self.resolve_task(task_id, username, "corrected", answer=answer, note=comment)

    def cancel_task(self, task_id: str, username: str, reason: str) -> HumanTask:
        """The outcome ``cancelled`` (supervisors, ops, admins): the case waiting for it ends."""
        return self.resolve_task(task_id, username, "cancelled", note=reason)

    # -- telling the customer ----------------------------------------------------------------

    def notify_customer(self, task_id: str, *, mailer: Mailer | None = None) -> str | None:
        """Send the customer the mail of the outcome ``task_id`` ended with, when it has one
        and the case input an ``email``; the Message-ID, or None when no mail is due.

        Called after ``resolve_task`` committed. The Message-ID is derived from the task, so a
        receiving side can spot a repeat. A mail server that is down does not undo the
        outcome: the task's history says the mail failed.
        """
        with self._tx() as session:
            task = session.get(TaskRow, task_id)
            if task is None or task.outcome is None or task.case_id is None:
                return None
            case = session.get(CaseRow, task.case_id)
            notice = (case.outputs or {}).get("customer") if case is not None else None
            if case is None or not notice or notice.get("outcome") != task.outcome:
                return None
            spec = {**DEFAULT_NOTICES[task.outcome], **((task.outcomes or {}).get(task.outcome) or {})}
            template, email = spec.get("mail"), (case.payload or {}).get("email")
            language = str((case.payload or {}).get("language") or "")  # the customer's (webform)
            data = {
                **dict(case.payload or {}),
                "input": dict(case.payload or {}),
                "reference": case.reference,
                "title": notice.get("title", ""),
                "text": notice.get("text", ""),
                "note": task.outcome_note or "",
                "reason": task.outcome_note or "",
            }
            actor = task.closed_by or "orchestrator"
            case_values = {"id": case.id, "status_url": self.customer_status_url(case.id)}
        if not template or not email:
            return None
        try:
            subject, text, html = render_mail(
                str(template), data, language, case=case_values, root=self.project.root
            )
            message_id = (mailer or SmtpMailer.from_env()).send(
                Mail(
                    to=[str(email)],
                    subject=subject,
                    text=text,
                    html=html,
                    message_id=f"<{task_id}.{task.outcome}@tandem>",
                )
            )
        except RobotException as error:
            with self._tx() as session:
                self._task_event(session, task_id, actor, "mail failed", str(error))
            return None
        with self._tx() as session:
            self._task_event(session, task_id, actor, "customer mailed", f"{template} to the customer")
        return message_id


def _values(note: str, until: datetime | None, case: CaseRow | None) -> dict[str, Any]:
    return {
        "reason": note,
        "note": note,
        "until": f"{until:%Y-%m-%d %H:%M} UTC" if until else "",
        "input": dict(case.payload or {}) if case is not None else {},
    }


def _shown(notice: dict[str, Any]) -> dict[str, Any]:
    return {key: notice[key] for key in ("outcome", "title", "text")}
