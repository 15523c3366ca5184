"""Cases: creation (validated, idempotent on reference), reading, cancel and retry, retention.

States::

    queued ──claim──▶ running ──▶ done
      ▲                 │  ├───▶ waiting_human ──(task answered / returned)──▶ queued
      │                 │  └───▶ queued (system exception: retried later with backoff)
      └──(lease expired: another robot claims it, attempt + 1)
    failed_business | failed_system | waiting_human ──retry_case──▶ queued
    any unfinished state ──cancel_case──▶ cancelled

Every transition is appended to ``case_events`` (the audit trail). The claim, the lease and
the run's outcome (the arrows out of ``running``) are ``orchestrator.queue.runs``.

Owns: ``CaseStore`` (create, find, list, count, timeline, cancel, retry, purge personal
data) and the change marks of the live pages.

May import: ``orchestrator.humans`` (the task side of a case), ``orchestrator.storage``,
``orchestrator.errors``, ``orchestrator.models``, ``robots`` and ``connectors``; never
``orchestrator.queue.runs`` (it builds on this module).
"""

from __future__ import annotations

import contextlib
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.fields import payload_problems
from orchestrator.errors import InvalidTransition, NotFound, PayloadInvalid, UnknownWorkflow
from orchestrator.humans.outcomes import OutcomeStore
from orchestrator.humans.roles import require
from orchestrator.models import (
    FINISHED,
    Case,
    CaseTimeline,
    ChangeMarks,
    HumanTask,
    RunInfo,
    StepEntry,
    Transition,
)
from orchestrator.storage.base import new_id
from orchestrator.storage.tables import (
    CalloutRow,
    CaseEventRow,
    CaseRow,
    RobotRow,
    RunRow,
    StepRow,
    TaskEventRow,
    TaskRow,
    UserRow,
)
from robots.errors import DefinitionError
from robots.language.inputs import InputError, validate_input
from robots.language.model import not_a_process
from robots.masking import without_page_text


def _problem(text: str) -> tuple[str, str]:
    """'input.street: too short' -> ('street', 'too short')."""
    field, _, message = text.partition(": ")
    return (field.removeprefix("input."), message) if message else ("payload", text)


def _same_reference(workflow: str, reference: str, channel: str | None) -> sa.Select[CaseRow]:
    """The case with this reference: references are unique per workflow and channel."""
    return sa.select(CaseRow).where(
        CaseRow.workflow == workflow,
        sa.func.coalesce(CaseRow.channel, "") == (channel or ""),
        CaseRow.reference == reference,
    )


class CaseStore(OutcomeStore):
    """Cases and their audit trail: create, read, cancel, retry, purge (a robot's side of a
    case is ``orchestrator.queue.runs.RunStore``)."""

    # -- creating and reading ------------------------------------------------------------

    def create_case(
        self,
        workflow: str,
        reference: str,
        payload: dict[str, Any],
        *,
        priority: int = 0,
        deadline: datetime | None = None,
        not_before: datetime | None = None,
        actor: str = "api",
        channel: str | None = None,
    ) -> tuple[Case, bool]:
        """Queue a case; ``(case, True)`` when new, ``(existing case, False)`` for a known reference.

        The payload is checked against the workflow's input first; ``PayloadInvalid``
        lists every problem and nothing is stored.
        """
        try:
            flow = self.project.workflow(workflow)
        except DefinitionError as error:
            raise UnknownWorkflow(workflow, "; ".join(p.hint or p.message for p in error.problems)) from None
        routine = not_a_process(flow)
        if routine:
            raise PayloadInvalid(workflow, [("workflow", routine)])
        if not reference or len(reference) > 200:
            raise PayloadInvalid(workflow, [("reference", "required, 1 to 200 characters")])
        # Whoever calls (API, schedule source, CLI): no control character is ever stored.
        unstorable = payload_problems(reference, "reference") + payload_problems(payload, "payload")
        if unstorable:
            raise PayloadInvalid(workflow, unstorable)
        for name, moment in (("deadline", deadline), ("not_before", not_before)):
            if moment is not None and moment.tzinfo is None:
                raise PayloadInvalid(workflow, [(name, "give a time zone (e.g. 2030-01-07T09:00:00+01:00)")])
        try:
            validate_input(flow, payload)
        except InputError as error:
            raise PayloadInvalid(workflow, [_problem(p) for p in error.problems]) from None
        now = self.now()
        for _ in range(3):
            try:
                with self._tx() as session:
                    row = CaseRow(
                        id=new_id("c"),
                        workflow=workflow,
                        reference=reference,
                        status="queued",
                        priority=priority,
                        deadline=deadline,
                        not_before=not_before,
                        channel=channel,
                        created_by=actor,
                        created_at=now,
                        updated_at=now,
                        payload=dict(payload),
                        attempts=0,
                        failures=0,
                        max_attempts=flow.max_attempts,
                        exception_queue=flow.queue,
                    )
                    session.add(row)
                    session.flush()  # the unique reference is checked here, before the audit entry
                    self._transition(
                        session,
                        row,
                        "queued",
                        actor=actor,
                        reason=f"created via {channel or actor}",
                        initial=True,
                    )
                    session.flush()
                    return Case.model_validate(row), True
            except IntegrityError:
                # The unique (workflow, channel, reference) index: someone created it first.
                with self._tx() as session:
                    found = session.scalars(_same_reference(workflow, reference, channel)).first()
                    if found is not None:
                        return Case.model_validate(found), False
        raise InvalidTransition(f"case {workflow}/{reference} could neither be created nor read back")

    def get_case(self, case_id: str) -> Case:
        """The case; ``NotFound`` when there is none."""
        with self._tx() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise NotFound("case", case_id)
            return Case.model_validate(row)

    def find_case(self, workflow: str, reference: str, *, channel: str | None = None) -> Case | None:
        """The case of a workflow with that business reference (of ``channel``, when given), or None."""
        query = (
            _same_reference(workflow, reference, channel)
            if channel is not None
            else sa.select(CaseRow).where(CaseRow.workflow == workflow, CaseRow.reference == reference)
        )
        with self._tx() as session:
            row = session.scalars(query).first()
            return None if row is None else Case.model_validate(row)

    def list_cases(
        self,
        *,
        workflow: str | None = None,
        status: str | list[str] | None = None,
        reference: str | None = None,
        channel: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        visible_to: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Case]:
        """Cases matching every given filter, newest first (``reference`` matches a prefix);
        with ``visible_to``, only those that user may see (``case_scope``)."""
        query = sa.select(CaseRow)
        if workflow is not None:
            query = query.where(CaseRow.workflow == workflow)
        if status is not None:
            query = query.where(CaseRow.status.in_([status] if isinstance(status, str) else status))
        if reference is not None:
            query = query.where(CaseRow.reference.startswith(reference, autoescape=True))
        if channel is not None:
            query = query.where(CaseRow.channel == channel)
        if created_after is not None:
            query = query.where(CaseRow.created_at >= created_after)
        if created_before is not None:
            query = query.where(CaseRow.created_at < created_before)
        query = query.order_by(CaseRow.created_at.desc(), CaseRow.id).limit(limit).offset(offset)
        with self._tx() as session:
            query = self._scoped(session, query, visible_to)
            return [Case.model_validate(r) for r in session.scalars(query)]

    def count_cases(self, *, workflow: str | None = None, visible_to: str | None = None) -> dict[str, int]:
        """Number of cases per status (for dashboards); with ``visible_to``, of that user's."""
        query = sa.select(CaseRow.status, sa.func.count()).group_by(CaseRow.status)
        if workflow is not None:
            query = query.where(CaseRow.workflow == workflow)
        with self._tx() as session:
            query = self._scoped(session, query, visible_to)
            return {status: count for status, count in session.execute(query)}

    def _scoped(self, session: Session, query: Any, username: str | None) -> Any:
        scope = None if username is None else self._case_scope(session, username)
        return query if scope is None else query.where(scope)

    def change_marks(self) -> ChangeMarks:
        """What moved lately, in one query (the live pages' tick): the newest callout, case
        transition, step record and task event ids and the newest robot heartbeat. Each is a
        primary-key maximum (or the small robots table), so the query stays cheap however
        many cases there are."""
        marks = sa.select(
            sa.select(sa.func.max(CalloutRow.id)).scalar_subquery(),
            sa.select(sa.func.max(CaseEventRow.id)).scalar_subquery(),
            sa.select(sa.func.max(StepRow.id)).scalar_subquery(),
            sa.select(sa.func.max(TaskEventRow.id)).scalar_subquery(),
            sa.select(sa.func.max(RobotRow.heartbeat_at)).scalar_subquery(),
            sa.select(sa.func.count(RobotRow.id)).scalar_subquery(),
        )
        with self.engine.connect() as connection:
            row = connection.execute(marks).one()
        callouts, cases, steps, tasks, heartbeat, robots = row
        return ChangeMarks(
            callouts=int(callouts or 0),
            cases=int(cases or 0),
            steps=int(steps or 0),
            tasks=int(tasks or 0),
            robots=zlib.crc32(f"{robots}@{heartbeat}".encode()),
        )

    def case_timeline(self, case_id: str) -> CaseTimeline:
        """The case with its transitions, runs, step records and tasks."""
        with self._tx() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise NotFound("case", case_id)
            events = session.scalars(
                sa.select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id)
            )
            runs = session.scalars(
                sa.select(RunRow).where(RunRow.case_id == case_id).order_by(RunRow.started_at)
            )
            steps = session.scalars(sa.select(StepRow).where(StepRow.case_id == case_id).order_by(StepRow.id))
            tasks = session.scalars(
                sa.select(TaskRow).where(TaskRow.case_id == case_id).order_by(TaskRow.created_at)
            )
            return CaseTimeline(
                case=Case.model_validate(row),
                transitions=[Transition.model_validate(e) for e in events],
                runs=[RunInfo.model_validate(r) for r in runs],
                steps=[StepEntry.model_validate(s) for s in steps],
                tasks=[HumanTask.model_validate(t) for t in tasks],
            )

    def _locked_case(self, session: Session, case_id: str) -> CaseRow:
        row = session.scalars(sa.select(CaseRow).where(CaseRow.id == case_id).with_for_update()).first()
        if row is None:
            raise NotFound("case", case_id)
        return row

    def _close_open_tasks(self, session: Session, case_id: str, actor: str, why: str) -> None:
        for task in session.scalars(
            sa.select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.status.in_(("open", "claimed")))
        ):
            self._close(session, task, "cancelled", actor, None)
            self._task_event(session, task.id, actor, "comment", why)

    def _release_claim(self, case: CaseRow) -> None:
        case.robot_id = case.claim_token = case.lease_expires_at = None

    def cancel_case(self, case_id: str, *, actor: str, reason: str) -> Case:
        """Cancel an unfinished case (a running one: its robot stops at the next step).

        ``actor`` may be a person (then the roles table decides: ``case.cancel``) or a process
        such as the CLI or retention, which are not users.
        """
        with self._tx() as session:
            person = session.get(UserRow, actor)
            if person is not None:
                require(actor, person.role if person.active else "nobody", "case.cancel")
            case = self._locked_case(session, case_id)
            if case.status in FINISHED:
                raise InvalidTransition(f"case {case_id} is {case.status} already; it cannot be cancelled")
            self._release_claim(case)
            case.finished_at = self.now()
            self._close_open_tasks(session, case_id, actor, f"case cancelled: {reason}")
            self._transition(session, case, "cancelled", actor=actor, reason=reason)
            return Case.model_validate(case)

    def retry_case(self, case_id: str, *, actor: str, reason: str = "retried by hand") -> Case:
        """Queue a failed, cancelled or escalated case again; it resumes from its last checkpoint."""
        with self._tx() as session:
            case = self._locked_case(session, case_id)
            if case.status not in ("failed_business", "failed_system", "waiting_human", "cancelled"):
                raise InvalidTransition(
                    f"case {case_id} is {case.status}; only failed, cancelled or waiting cases can be retried"
                )
            self._close_open_tasks(session, case_id, actor, f"case retried: {reason}")
            case.error = case.error_kind = case.error_step = None
            self._requeue(session, case, actor, reason)
            return Case.model_validate(case)

    def act_on_case(self, case_id: str, username: str, action: str, *, reason: str = "") -> Case:
        """``retry`` or ``cancel`` a case as ``username``: the roles table
        (``orchestrator.humans.roles``) and the user's units decide; ``PermissionDenied``
        (nothing changed) otherwise."""
        if action not in ("retry", "cancel"):
            raise NotFound("case action", action)
        with self._tx() as session:
            user = session.get(UserRow, username)
            role = user.role if user is not None and user.active else "nobody"
        require(username, role, f"case.{action}")
        self.check_case_visible(case_id, username)
        if action == "retry":
            return self.retry_case(case_id, actor=username, reason=reason or "retried by hand")
        return self.cancel_case(case_id, actor=username, reason=reason or "cancelled by hand")

    # -- retention -----------------------------------------------------------------------

    def purge_personal_data(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Remove the personal data of cases finished more than ``older_than`` ago; how many.

        Gone: payload, outputs, checkpoint, error text, step outputs and errors, task data,
        answers, reasons and comments, callout contents, and the steps' evidence files
        (screenshots, step pictures, traces, page HTML, screens) where this process can reach
        them. Kept: the transitions, runs, step and task events (who, what, when) - the audit
        trail, without the page text their errors quoted - and a "purged" entry in it.
        """
        cutoff = (now or self.now()) - older_than
        evidence: list[str] = []
        with self._tx() as session:
            ids = list(
                session.scalars(
                    sa.select(CaseRow.id).where(
                        CaseRow.status.in_(FINISHED),
                        CaseRow.finished_at < cutoff,
                        CaseRow.purged_at.is_(None),
                    )
                )
            )
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                session.execute(
                    sa.update(CaseRow)
                    .where(CaseRow.id.in_(chunk))
                    .values(payload={}, outputs=None, run_state=None, error=None, purged_at=self.now())
                )
                for files in session.scalars(sa.select(StepRow.artifacts).where(StepRow.case_id.in_(chunk))):
                    evidence += [str(path) for path in files or []]
                session.execute(
                    sa.update(StepRow)
                    .where(StepRow.case_id.in_(chunk))
                    .values(outputs=None, error=None, artifacts=[])
                )
                # Reasons, titles and comments are rendered from case data: they go too; who did
                # what and when (the events themselves) stays.
                removed = "(personal data removed)"
                session.execute(
                    sa.update(TaskRow)
                    .where(TaskRow.case_id.in_(chunk))
                    .values(data={}, answer=None, reason=removed, outcome_note=None)
                )
                task_ids = sa.select(TaskRow.id).where(TaskRow.case_id.in_(chunk)).scalar_subquery()
                session.execute(
                    sa.update(TaskEventRow).where(TaskEventRow.task_id.in_(task_ids)).values(detail="")
                )
                session.execute(
                    sa.update(CalloutRow)
                    .where(CalloutRow.case_id.in_(chunk))
                    .values(data=None, hints=None, message="", title=removed)
                )
                _drop_page_text(session, chunk)
                for case_id in chunk:
                    session.add(
                        CaseEventRow(
                            case_id=case_id,
                            at=self.now(),
                            actor="retention",
                            from_status=None,
                            to_status="purged",
                            reason=f"personal data removed (finished before {cutoff:%Y-%m-%d %H:%M} UTC)",
                        )
                    )
        _remove_files(evidence)
        return len(ids)


def _drop_page_text(session: Session, case_ids: list[str]) -> None:
    """The audit trail (runs, transitions) keeps its errors without the text they quoted from
    an application's page (``robots.masking.page_quote``), which may be personal data."""
    for row_class, column in ((RunRow, "error"), (CaseEventRow, "reason")):
        rows = session.scalars(
            sa.select(row_class).where(
                row_class.case_id.in_(case_ids), getattr(row_class, column).contains("«")
            )
        )
        for row in rows:
            setattr(row, column, without_page_text(getattr(row, column)))


def _remove_files(paths: list[str]) -> None:
    """Delete evidence files, and the folders they leave empty (a run's, then its case's);
    a file already gone or out of reach (another machine's disk) is skipped."""
    folders: set[Path] = set()
    for name in paths:
        path = Path(name)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
            folders.update((path.parent, path.parent.parent))
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
