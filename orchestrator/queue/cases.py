"""Cases: creation (validated, idempotent on reference), claims with leases, outcomes, retention.

States::

    queued ──claim──▶ running ──▶ done
      ▲                 │  ├───▶ waiting_human ──(task answered / returned)──▶ queued
      │                 │  └───▶ queued (system exception: retried later with backoff)
      └──(lease expired: another robot claims it, attempt + 1)
    failed_business | failed_system | waiting_human ──retry_case──▶ queued
    any unfinished state ──cancel_case──▶ cancelled

Every transition is appended to ``case_events`` (the audit trail). A claim carries a token;
heartbeats, checkpoints and the outcome are accepted only with the token of the current
claim, so a robot whose lease expired (and whose case another robot took) changes nothing.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Sequence
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
    Claim,
    HumanTask,
    RunInfo,
    StepEntry,
    Transition,
)
from orchestrator.queue import claims
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
from robots.engine.records import RunRecord, RunState, StepRecord
from robots.errors import DefinitionError, HumanTaskRequest
from robots.language.inputs import InputError, validate_input
from robots.language.model import not_a_process
from robots.masking import without_page_text

DEFAULT_LEASE_SECONDS = 60.0


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
    """Cases, claims, runs, checkpoints and the audit trail."""

    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0

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

    # -- claims --------------------------------------------------------------------------

    def claim_next_case(
        self,
        robot_id: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        *,
        workflows: list[str] | None = None,
    ) -> Claim | None:
        """Lease the most urgent claimable case to ``robot_id``; None when there is none.

        Order: priority (high first), deadline (soonest first, none last), age. A queued case
        is claimable from its ``not_before``; a running case whose lease expired is claimed
        again (its robot died) with the attempt count raised and the lost run counted as a
        system failure; once those reach ``max_attempts`` the case goes to the exception
        queue instead (``give_up_lost_case``).
        PostgreSQL locks the chosen row and skips rows other robots are locking; SQLite runs
        the choice and the update in one immediate (write-locked) transaction. The statements
        are in ``orchestrator.queue.claims``.
        """
        return claims.claim_next_case(self, robot_id, lease_seconds, workflows)

    def give_up_lost_case(self, case_id: str) -> Case:
        """Hand a case whose robots died ``max_attempts`` times to its exception queue.

        Called by the claim when it meets such a case; does nothing (returns the case as
        it is) unless the case is still running under an expired lease.
        """
        now = self.now()
        with self._tx() as session:
            case = self._locked_case(session, case_id)
            if case.status != "running" or case.lease_expires_at is None or case.lease_expires_at >= now:
                return Case.model_validate(case)
            why = claims.lost_reason(case.robot_id)
            session.execute(
                sa.update(RunRow)
                .where(RunRow.id == case.run_id, RunRow.ended_at.is_(None))
                .values(ended_at=now, status="lost", error=why)
            )
            robot = session.get(RobotRow, case.robot_id) if case.robot_id else None
            step = robot.step if robot is not None and robot.case_id == case.id else None
            case.failures += 1
            case.error = f"the robot working on it was lost ({why})"
            case.error_kind, case.error_step = "system", step
            self._release_claim(case)
            self._escalate_failures(session, case, run_id=case.run_id, actor="orchestrator", now=now)
            return Case.model_validate(case)

    def _held(self, session: Session, claim: Claim) -> CaseRow:
        case = session.scalars(
            sa.select(CaseRow).where(CaseRow.id == claim.case.id).with_for_update()
        ).first()
        claims.check_held(claim, case)
        assert case is not None
        return case

    def heartbeat(self, claim: Claim, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> datetime:
        """Extend the lease; the new expiry. ``LeaseLost`` when the claim is no longer valid."""
        now = self.now()
        with self._tx() as session:
            case = self._held(session, claim)
            case.lease_expires_at = now + timedelta(seconds=lease_seconds)
            robot = session.get(RobotRow, claim.robot_id)
            if robot is not None:
                robot.heartbeat_at = now
            return case.lease_expires_at

    def release_case(self, claim: Claim, *, reason: str) -> Case:
        """Give a claimed case back to the queue unfinished (a robot shutting down)."""
        with self._tx() as session:
            case = self._held(session, claim)
            self._release_claim(case)
            session.execute(
                sa.update(RunRow)
                .where(RunRow.id == claim.run_id)
                .values(ended_at=self.now(), status="released")
            )
            self._set_robot_idle(session, claim.robot_id, finished=False)
            self._transition(session, case, "queued", actor=claim.robot_id, reason=reason)
            return Case.model_validate(case)

    def save_checkpoint(self, claim: Claim, state: RunState, steps: Sequence[StepRecord] = ()) -> None:
        """Persist the run's resumable state (completed steps, open tasks) and the step records
        finished since the last checkpoint, in one transaction fenced by the claim's token
        (``LeaseLost`` otherwise)."""
        claims.save_checkpoint(self, claim, state, steps)

    def record_step(self, claim: Claim, record: StepRecord) -> None:
        """Store one finished step record (already masked by the engine)."""
        with self._tx() as session:
            claims.insert_steps(self, session.connection(), claim, [record])

    def backoff(self, failures: int) -> timedelta:
        """The wait before retrying after the n-th system failure: base * 2^(n-1), capped."""
        seconds = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, failures - 1))
        return timedelta(seconds=seconds)

    def _set_robot_idle(self, session: Session, robot_id: str, *, finished: bool) -> None:
        robot = session.get(RobotRow, robot_id)
        if robot is not None:
            robot.status, robot.case_id, robot.workflow, robot.step = "idle", None, None, None
            robot.heartbeat_at = self.now()
            if finished:
                robot.cases_done += 1

    def finish_run(self, claim: Claim, record: RunRecord, *, steps: Sequence[StepRecord] = ()) -> Case:
        """Store a run's outcome and move the case on: done, to a human, or queued for a retry.

        ``steps`` are the step records not stored by a checkpoint yet; they are written in
        the same transaction. A system failure is retried after ``backoff`` until the
        workflow's ``max_attempts`` is reached, then escalated to the workflow's exception
        queue. ``LeaseLost`` when the claim is no longer valid (nothing is changed then).
        """
        if record.status == "done":  # the common outcome: the fenced fast path
            return claims.finish_done(self, claim, record, steps)
        return self._finish_other(claim, record, steps)

    def finish_run_and_claim_next(
        self,
        claim: Claim,
        record: RunRecord,
        *,
        steps: Sequence[StepRecord] = (),
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        workflows: list[str] | None = None,
    ) -> tuple[Case, Claim | None]:
        """``finish_run``, then ``claim_next_case`` for the same robot: the case as stored and
        the robot's next claim (None when nothing is claimable).

        After a successful run on SQLite both happen in one transaction, which saves a
        commit per case for a robot working through a queue. ``LeaseLost`` (nothing changed,
        nothing claimed) when the finished claim is no longer valid.
        """
        if record.status == "done":
            return claims.finish_done_and_claim(self, claim, record, steps, lease_seconds, workflows)
        case = self._finish_other(claim, record, steps)
        return case, self.claim_next_case(claim.robot_id, lease_seconds, workflows=workflows)

    def _finish_other(self, claim: Claim, record: RunRecord, steps: Sequence[StepRecord]) -> Case:
        now = self.now()
        with self._tx() as session:
            case = self._held(session, claim)
            claims.insert_steps(self, session.connection(), claim, steps)
            robot = claim.robot_id
            case.run_state = record.state.model_dump(mode="json")
            case.error, case.error_kind, case.error_step = record.error, record.error_kind, record.error_step
            run_status = record.status
            self._release_claim(case)
            if record.status == "failed_system":
                case.failures += 1
                if case.failures < case.max_attempts:
                    wait = self.backoff(case.failures)
                    case.not_before = now + wait
                    self._transition(
                        session,
                        case,
                        "queued",
                        actor=robot,
                        reason=f"system exception ({case.failures}/{case.max_attempts}), retry in "
                        f"{wait.total_seconds():.0f}s: {record.error}",
                        at=now,
                    )
                else:
                    self._escalate_failures(session, case, run_id=claim.run_id, actor=robot, now=now)
            elif record.task_id is not None:
                case.task_id = record.task_id
                task = session.get(TaskRow, record.task_id)
                why = {
                    "waiting_human": "waits for an answer",
                    "escalated": "escalated",
                    "failed_business": "business exception, escalated",
                }.get(record.status, record.status)
                if task is not None and self._apply_late_outcome(session, case, task):
                    pass  # the person ended the task while the robot was still reporting
                elif (
                    task is not None
                    and task.status in ("completed", "returned")
                    and task.kind == "await_human"
                ):
                    # The agent answered before the robot finished reporting: go on at once.
                    self._transition(
                        session,
                        case,
                        "queued",
                        actor=robot,
                        reason=f"task {task.id} answered already",
                        at=now,
                    )
                else:
                    self._transition(
                        session,
                        case,
                        "waiting_human",
                        actor=robot,
                        reason=f"{why} in task {record.task_id}",
                        at=now,
                    )
            else:
                case.finished_at = now
                self._transition(
                    session, case, "failed_business", actor=robot, reason=record.error or "", at=now
                )
            session.execute(
                sa.update(RunRow)
                .where(RunRow.id == claim.run_id)
                .values(ended_at=now, status=run_status, error=record.error)
            )
            self._set_robot_idle(session, robot, finished=True)
            return Case.model_validate(case)

    def _escalate_failures(
        self, session: Session, case: CaseRow, *, run_id: str | None, actor: str, now: datetime
    ) -> None:
        """Out of attempts: a task in the workflow's exception queue, the case waits for it."""
        request = HumanTaskRequest(
            queue=case.exception_queue,
            reason=f"system exception after {case.failures} attempts at step {case.error_step or '?'}: "
            f"{case.error}",
            data={"error": case.error, "step": case.error_step, "attempts": case.attempts},
            step=case.error_step or "",
            kind="escalation",
        )
        case.task_id = self._create_task_in(
            session,
            request,
            case_id=case.id,
            run_id=run_id,
            key=f"{case.id}:failure:{run_id}",
            origin="failure",
            actor=actor,
        )
        self._transition(
            session,
            case,
            "waiting_human",
            actor=actor,
            reason=f"system exception {case.failures} times: escalated in task {case.task_id}",
            at=now,
        )

    def fail_run(self, claim: Claim, error: str) -> Case:
        """Record a run that could not even start (e.g. its workflow no longer loads) as a system failure."""
        record = RunRecord(
            run_id=claim.run_id,
            case_id=claim.case.id,
            workflow=claim.case.workflow,
            version="?",
            robot=claim.robot_id,
            status="failed_system",
            started_at=self.now(),
            ended_at=self.now(),
            error=error,
            error_kind="system",
            state=claim.state,
        )
        return self.finish_run(claim, record)

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
