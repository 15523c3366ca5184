"""A robot's runs of cases: claims with leases, heartbeats, checkpoints and outcomes.

A claim carries a token; heartbeats, checkpoints and the outcome are accepted only with the
token of the current claim (``LeaseLost`` otherwise), so a robot whose lease expired (and
whose case another robot took) changes nothing. A system failure is retried after a
backoff until the workflow's ``max_attempts``, then handed to its exception queue; so is a
case whose robots kept dying on it.

Owns: ``RunStore`` (claim, heartbeat, release, checkpoint, step records, finish, the
backoff) over the cases of ``orchestrator.queue.cases``; the hot path's statements are
``orchestrator.queue.claims``.

May import: ``orchestrator.queue.cases`` and ``orchestrator.queue.claims``,
``orchestrator.storage``, ``orchestrator.errors``, ``orchestrator.models`` and ``robots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestrator.models import Case, Claim
from orchestrator.queue import claims
from orchestrator.queue.cases import CaseStore
from orchestrator.storage.tables import CaseRow, RobotRow, RunRow, TaskRow
from robots.engine.records import RunRecord, RunState, StepRecord
from robots.errors import HumanTaskRequest

DEFAULT_LEASE_SECONDS = 60.0


class RunStore(CaseStore):
    """Adds what a robot does with a case: claim it, keep its lease, checkpoint, finish."""

    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0

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
