"""The claim → complete hot path in as few round trips as each backend allows.

A no-op case used to cost 10 statements (each claim: pick, take, audit, run, robot; each
completion: read the lease, update, audit, run, robot; plus BEGIN/COMMIT). On PostgreSQL
every statement is a network round trip, so here:

* the claim picks and takes the case in one ``UPDATE cases ... FROM (SELECT ... FOR UPDATE
  SKIP LOCKED LIMIT 1)`` that also returns what the row held before (to tell a reclaim of
  an expired lease); the audit entry, the run row and the robot row follow in one statement
  (data-modifying CTEs);
* checkpoints and the completion fence on the claim token inside their ``UPDATE`` instead
  of reading the row first (the row is read only to explain a ``LeaseLost``); after a
  completion the audit entry, closing the run and the robot row again go in one statement.

SQLite cannot modify data in a CTE nor return the ``FROM`` side of an ``UPDATE``; there the
same statements run one after another inside the one ``BEGIN IMMEDIATE`` transaction (no
network, so the count matters less than the time the write lock is held).

A reclaim (the lease of a robot that died or hung expired) counts as a system failure of
the case. A case whose robots keep dying — a poison case, e.g. a page that crashes the
browser — is not claimed again once its failures reach the workflow's ``max_attempts``:
``CaseStore.give_up_lost_case`` hands it to the exception queue instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orchestrator.base import new_id
from orchestrator.errors import LeaseLost
from orchestrator.models import Case, Claim
from orchestrator.tables import CaseEventRow, CaseRow, RobotRow, RunRow, StepRow, UTCDateTime
from robots.records import RunRecord, RunState, StepRecord

if TYPE_CHECKING:
    from orchestrator.cases import CaseStore


class _Statements:
    """The statements of the hot path, built once with bind parameters (building them per
    call cost more than running them on a busy machine)."""

    def __init__(self) -> None:
        b = sa.bindparam
        now = b("p_now", type_=UTCDateTime)
        claimable = sa.or_(
            sa.and_(
                CaseRow.status == "queued",
                sa.or_(CaseRow.not_before.is_(None), CaseRow.not_before <= now),
            ),
            sa.and_(CaseRow.status == "running", CaseRow.lease_expires_at < now),
        )
        pick = (
            sa.select(
                CaseRow.id,
                CaseRow.status,
                CaseRow.robot_id,
                CaseRow.run_id,
                CaseRow.failures,
                CaseRow.max_attempts,
            )
            .where(claimable)
            .order_by(
                CaseRow.priority.desc(), CaseRow.deadline.asc().nulls_last(), CaseRow.created_at, CaseRow.id
            )
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        self.pick = pick
        self.pick_among = pick.where(CaseRow.workflow.in_(b("p_workflows", expanding=True)))
        self.lose_run = (
            sa.update(RunRow)
            .where(RunRow.id == b("p_run"), RunRow.ended_at.is_(None))
            .values(ended_at=now, status="lost", error=b("p_error"))
        )
        take_values: dict[str, Any] = {
            "status": "running",
            "attempts": CaseRow.attempts + 1,
            "robot_id": b("p_robot"),
            "claim_token": b("p_token"),
            "lease_expires_at": b("p_lease", type_=UTCDateTime),
            "run_id": b("p_run"),
            "not_before": None,
            "updated_at": now,
        }
        # SQLite: pick, then take (p_lost = 1 for a reclaim: the lost run is a failure).
        self.take = (
            sa.update(CaseRow)
            .where(CaseRow.id == b("p_id"))
            .values({**take_values, "failures": CaseRow.failures + b("p_lost", type_=sa.Integer)})
            .returning(*CaseRow.__table__.columns)
        )

        # PostgreSQL: pick and take in one statement, returning what the row held before.
        def pick_and_take(query: sa.Select[*tuple[Any, ...]]) -> sa.Update:
            picked = query.subquery("picked")
            lost = sa.case((picked.c.status == "running", 1), else_=0)
            return (
                sa.update(CaseRow)
                .where(CaseRow.id == picked.c.id)
                .values({**take_values, "failures": CaseRow.failures + lost})
                .returning(
                    picked.c.status.label("previous_status"),
                    picked.c.robot_id.label("previous_robot"),
                    picked.c.run_id.label("previous_run"),
                    *CaseRow.__table__.columns,
                )
            )

        self.pick_and_take = pick_and_take(pick)
        self.pick_and_take_among = pick_and_take(self.pick_among)
        self.audit = sa.insert(CaseEventRow)
        self.open_run = sa.insert(RunRow)
        self.robot_busy = (
            sa.update(RobotRow)
            .where(RobotRow.id == b("p_robot"))
            .values(status="busy", case_id=b("p_case"), workflow=b("p_workflow"), step=None, heartbeat_at=now)
        )
        # PostgreSQL: audit entry + run row + robot row of a fresh claim in one statement.
        claim_event = (
            sa.insert(CaseEventRow)
            .values(
                case_id=b("p_case"),
                at=now,
                actor=b("p_robot"),
                from_status="queued",
                to_status="running",
                reason=b("p_reason"),
            )
            .cte("claim_event")
        )
        claim_run = (
            sa.insert(RunRow)
            .values(
                id=b("p_run"),
                case_id=b("p_case"),
                attempt=b("p_attempt"),
                robot_id=b("p_robot"),
                started_at=now,
                status="running",
            )
            .cte("claim_run")
        )
        self.after_claim = self.robot_busy.add_cte(claim_event).add_cte(claim_run)
        # Completion and checkpoints fenced on the token in the update itself: no row = lease lost.
        fence = (CaseRow.id == b("p_id"), CaseRow.claim_token == b("p_token"), CaseRow.status == "running")
        self.done_fenced = (
            sa.update(CaseRow)
            .where(*fence)
            .values(
                status="done",
                run_state=b("p_state", type_=sa.JSON),
                outputs=b("p_outputs", type_=sa.JSON),
                error=None,
                error_kind=None,
                error_step=None,
                finished_at=now,
                updated_at=now,
                robot_id=None,
                claim_token=None,
                lease_expires_at=None,
            )
            .returning(*CaseRow.__table__.columns)
        )
        self.close_run = (
            sa.update(RunRow).where(RunRow.id == b("p_run")).values(ended_at=now, status="done", error=None)
        )
        self.robot_done = (
            sa.update(RobotRow)
            .where(RobotRow.id == b("p_robot"))
            .values(
                status="idle",
                case_id=None,
                workflow=None,
                step=None,
                heartbeat_at=now,
                cases_done=RobotRow.cases_done + 1,
            )
        )
        done_event = (
            sa.insert(CaseEventRow)
            .values(
                case_id=b("p_case"),
                at=now,
                actor=b("p_robot"),
                from_status="running",
                to_status="done",
                reason="the run finished",
            )
            .cte("done_event")
        )
        self.after_done = self.robot_done.add_cte(done_event).add_cte(self.close_run.cte("close_run"))
        self.checkpoint_fenced = (
            sa.update(CaseRow).where(*fence).values(run_state=b("p_state", type_=sa.JSON))
        )
        self.steps = sa.insert(StepRow)
        self.current = sa.select(CaseRow.status, CaseRow.claim_token, CaseRow.robot_id).where(
            CaseRow.id == b("p_id")
        )


_STATEMENTS = _Statements()


class _Poisoned(Exception):
    """The picked case's robots died ``max_attempts`` times: not to be claimed again."""

    def __init__(self, case_id: str) -> None:
        super().__init__(case_id)
        self.case_id = case_id


def check_held(claim: Claim, case: Any) -> None:
    """``LeaseLost`` unless ``case`` (a row or None) is still running under this claim."""
    if case is None or case.claim_token != claim.token or case.status != "running":
        state = "gone" if case is None else f"{case.status}, held by {case.robot_id or 'nobody'}"
        raise LeaseLost(
            f"robot {claim.robot_id} no longer holds case {claim.case.id} ({state}); "
            "its lease expired or the case was cancelled: stop working on it"
        )


def claim_next_case(
    store: CaseStore, robot_id: str, lease_seconds: float, workflows: list[str] | None
) -> Claim | None:
    """See ``CaseStore.claim_next_case``; poison cases met on the way go to a human."""
    claim = _claim_once if store.engine.dialect.name == "postgresql" else _claim_once_sqlite
    while True:
        try:
            return claim(store, robot_id, lease_seconds, workflows)
        except _Poisoned as poisoned:  # rolled back: hand it over, then pick again
            store.give_up_lost_case(poisoned.case_id)


def lost_reason(robot: str | None) -> str:
    return f"lease of robot {robot} expired"


def _claim_once(
    store: CaseStore, robot_id: str, lease_seconds: float, workflows: list[str] | None
) -> Claim | None:
    now: datetime = store.now()
    token, run_id = new_id("k")[2:], new_id("r")[2:]
    params: dict[str, Any] = {
        "p_now": now,
        "p_robot": robot_id,
        "p_token": token,
        "p_lease": now + timedelta(seconds=lease_seconds),
        "p_run": run_id,
    }
    statement = _STATEMENTS.pick_and_take
    if workflows:
        statement = _STATEMENTS.pick_and_take_among
        params["p_workflows"] = list(workflows)
    with store.engine.begin() as connection:
        row = connection.execute(statement, params).first()
        if row is None:
            return None
        reclaimed = row.previous_status == "running"
        if reclaimed:
            if row.failures >= row.max_attempts:
                raise _Poisoned(row.id)
            # Rare (a robot died): the lost run, two audit entries, then as a fresh claim.
            why = lost_reason(row.previous_robot)
            connection.execute(
                _STATEMENTS.lose_run, {"p_run": row.previous_run, "p_now": now, "p_error": why}
            )
            connection.execute(
                _STATEMENTS.audit,
                {
                    "case_id": row.id,
                    "at": now,
                    "from_status": "running",
                    "to_status": "queued",
                    "actor": "orchestrator",
                    "reason": f"{why} ({row.failures}/{row.max_attempts})",
                },
            )
        connection.execute(
            _STATEMENTS.after_claim,
            {
                "p_case": row.id,
                "p_now": now,
                "p_robot": robot_id,
                "p_reason": f"claimed (attempt {row.attempts})",
                "p_run": run_id,
                "p_attempt": row.attempts,
                "p_workflow": row.workflow,
            },
        )
        return _claim(row, robot_id, token, run_id, reclaimed)


def _claim_once_sqlite(
    store: CaseStore, robot_id: str, lease_seconds: float, workflows: list[str] | None
) -> Claim | None:
    # SQLite: RETURNING cannot name the FROM side, so pick then take, in one immediate
    # transaction (the write lock is held from BEGIN: nobody else picks meanwhile).
    now: datetime = store.now()
    statements = _STATEMENTS
    params: dict[str, Any] = {"p_now": now}
    query = statements.pick
    if workflows:
        query = statements.pick_among
        params["p_workflows"] = list(workflows)
    with store.engine.begin() as connection:
        found = connection.execute(query, params).first()
        if found is None:
            return None
        reclaimed = found.status == "running"
        events = []
        if reclaimed:
            if found.failures + 1 >= found.max_attempts:
                raise _Poisoned(found.id)
            why = lost_reason(found.robot_id)
            connection.execute(statements.lose_run, {"p_run": found.run_id, "p_now": now, "p_error": why})
            events.append(
                ("running", "queued", "orchestrator", f"{why} ({found.failures + 1}/{found.max_attempts})")
            )
        token, run_id = new_id("k")[2:], new_id("r")[2:]
        row = connection.execute(
            statements.take,
            {
                "p_id": found.id,
                "p_robot": robot_id,
                "p_token": token,
                "p_lease": now + timedelta(seconds=lease_seconds),
                "p_run": run_id,
                "p_now": now,
                "p_lost": int(reclaimed),
            },
        ).one()
        events.append(("queued", "running", robot_id, f"claimed (attempt {row.attempts})"))
        connection.execute(
            statements.audit,
            [
                {"case_id": row.id, "at": now, "from_status": a, "to_status": b, "actor": who, "reason": why}
                for a, b, who, why in events
            ],
        )
        connection.execute(
            statements.open_run,
            {
                "id": run_id,
                "case_id": row.id,
                "attempt": row.attempts,
                "robot_id": robot_id,
                "started_at": now,
                "status": "running",
            },
        )
        connection.execute(
            statements.robot_busy,
            {"p_robot": robot_id, "p_case": row.id, "p_workflow": row.workflow, "p_now": now},
        )
        return _claim(row, robot_id, token, run_id, reclaimed)


def _claim(row: Any, robot_id: str, token: str, run_id: str, reclaimed: bool) -> Claim:
    return Claim(
        case=Case.model_validate(row),
        robot_id=robot_id,
        token=token,
        run_id=run_id,
        attempt=row.attempts,
        state=RunState.model_validate(row.run_state or {}),
        reclaimed=reclaimed,
    )


def finish_done(store: CaseStore, claim: Claim, record: RunRecord) -> Case:
    """Store a successful run: the fenced update, then audit, run and robot (one statement
    on PostgreSQL). ``LeaseLost`` (nothing changed) when the claim is no longer held."""
    now: datetime = store.now()
    with store.engine.begin() as connection:
        row = connection.execute(
            _STATEMENTS.done_fenced,
            {
                "p_id": claim.case.id,
                "p_token": claim.token,
                "p_state": record.state.model_dump(mode="json"),
                "p_outputs": record.outputs,
                "p_now": now,
            },
        ).first()
        if row is None:
            # Only now read why: the lease expired and another robot holds it, or cancelled.
            check_held(claim, connection.execute(_STATEMENTS.current, {"p_id": claim.case.id}).first())
            raise LeaseLost(f"robot {claim.robot_id} no longer holds case {claim.case.id}")
        if connection.dialect.name == "postgresql":
            connection.execute(
                _STATEMENTS.after_done,
                {"p_case": row.id, "p_now": now, "p_robot": claim.robot_id, "p_run": claim.run_id},
            )
        else:
            connection.execute(
                _STATEMENTS.audit,
                {
                    "case_id": row.id,
                    "at": now,
                    "actor": claim.robot_id,
                    "from_status": "running",
                    "to_status": "done",
                    "reason": "the run finished",
                },
            )
            connection.execute(_STATEMENTS.close_run, {"p_run": claim.run_id, "p_now": now})
            connection.execute(_STATEMENTS.robot_done, {"p_robot": claim.robot_id, "p_now": now})
        return Case.model_validate(row)


def save_checkpoint(store: CaseStore, claim: Claim, state: RunState, steps: Sequence[StepRecord]) -> None:
    """The state to resume from and the step records since the last checkpoint, in one
    transaction fenced inside its update (no read first)."""
    with store.engine.begin() as connection:
        result = connection.execute(
            _STATEMENTS.checkpoint_fenced,
            {"p_id": claim.case.id, "p_token": claim.token, "p_state": state.model_dump(mode="json")},
        )
        if result.rowcount != 1:
            check_held(claim, connection.execute(_STATEMENTS.current, {"p_id": claim.case.id}).first())
            raise LeaseLost(f"robot {claim.robot_id} no longer holds case {claim.case.id}")
        if steps:
            connection.execute(_STATEMENTS.steps, [store._step_values(claim, record) for record in steps])
