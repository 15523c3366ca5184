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
Semantics are those of ``CaseStore``: ordering, ``not_before``, expired leases (reclaimed
with the attempt raised), fencing tokens (``LeaseLost``), the audit trail, runs, robots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orchestrator.base import new_id
from orchestrator.cases import _STATEMENTS, _check_held
from orchestrator.errors import LeaseLost
from orchestrator.models import Case, Claim
from orchestrator.tables import CaseEventRow, CaseRow, RunRow, UTCDateTime
from robots.records import RunRecord, RunState, StepRecord


class _FastStatements:
    """Statements built once: the one-round-trip claim and the fenced completion."""

    def __init__(self) -> None:
        b = sa.bindparam
        base = _STATEMENTS
        take_values: dict[str, Any] = {
            "status": "running",
            "attempts": CaseRow.attempts + 1,
            "robot_id": b("p_robot"),
            "claim_token": b("p_token"),
            "lease_expires_at": b("p_lease", type_=UTCDateTime),
            "run_id": b("p_run"),
            "not_before": None,
            "updated_at": b("p_now", type_=UTCDateTime),
        }

        def pick_and_take(pick: sa.Select[*tuple[Any, ...]]) -> sa.Update:
            picked = pick.subquery("picked")
            return (
                sa.update(CaseRow)
                .where(CaseRow.id == picked.c.id)
                .values(take_values)
                .returning(
                    picked.c.status.label("previous_status"),
                    picked.c.robot_id.label("previous_robot"),
                    picked.c.run_id.label("previous_run"),
                    *CaseRow.__table__.columns,
                )
            )

        self.pick_and_take = pick_and_take(base.pick)
        self.pick_and_take_among = pick_and_take(base.pick_among)
        # PostgreSQL: audit entry + run row + robot row of a fresh claim in one statement.
        claim_event = (
            sa.insert(CaseEventRow)
            .values(
                case_id=b("p_case"),
                at=b("p_now", type_=UTCDateTime),
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
                started_at=b("p_now", type_=UTCDateTime),
                status="running",
            )
            .cte("claim_run")
        )
        self.after_claim = base.robot_busy.add_cte(claim_event).add_cte(claim_run)
        # Completion fenced on the token in the update itself: no row back = lease lost.
        self.done_fenced = base.done.where(CaseRow.claim_token == b("p_token"), CaseRow.status == "running")
        done_event = (
            sa.insert(CaseEventRow)
            .values(
                case_id=b("p_case"),
                at=b("p_now", type_=UTCDateTime),
                actor=b("p_robot"),
                from_status="running",
                to_status="done",
                reason="the run finished",
            )
            .cte("done_event")
        )
        close_run = base.close_run.cte("close_run")
        self.after_done = base.robot_done.add_cte(done_event).add_cte(close_run)
        self.checkpoint_fenced = base.checkpoint.where(
            CaseRow.claim_token == b("p_token"), CaseRow.status == "running"
        )
        self.current = sa.select(CaseRow.status, CaseRow.claim_token, CaseRow.robot_id).where(
            CaseRow.id == b("p_id")
        )


_FAST = _FastStatements()


def claim_next_case(
    store: Any, robot_id: str, lease_seconds: float, workflows: list[str] | None
) -> Claim | None:
    """``CaseStore.claim_next_case`` with the fewest round trips (see the module docstring)."""
    if store.engine.dialect.name != "postgresql":
        return _claim_sqlite(store, robot_id, lease_seconds, workflows)
    now: datetime = store.now()
    token, run_id = new_id("k")[2:], new_id("r")[2:]
    params: dict[str, Any] = {
        "p_now": now,
        "p_robot": robot_id,
        "p_token": token,
        "p_lease": now + timedelta(seconds=lease_seconds),
        "p_run": run_id,
    }
    statement = _FAST.pick_and_take
    if workflows:
        statement = _FAST.pick_and_take_among
        params["p_workflows"] = list(workflows)
    with store.engine.begin() as connection:
        row = connection.execute(statement, params).first()
        if row is None:
            return None
        reclaimed = row.previous_status == "running"
        if reclaimed:
            # Rare (a robot died): the lost run, two audit entries, then as a fresh claim.
            why = f"lease of robot {row.previous_robot} expired"
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
                    "reason": why,
                },
            )
        connection.execute(
            _FAST.after_claim,
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


def _claim_sqlite(
    store: Any, robot_id: str, lease_seconds: float, workflows: list[str] | None
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
            why = f"lease of robot {found.robot_id} expired"
            connection.execute(statements.lose_run, {"p_run": found.run_id, "p_now": now, "p_error": why})
            events.append(("running", "queued", "orchestrator", why))
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


def finish_done(store: Any, claim: Claim, record: RunRecord) -> Case:
    """Store a successful run: the fenced update, then audit, run and robot (one statement
    on PostgreSQL). ``LeaseLost`` (nothing changed) when the claim is no longer held."""
    now: datetime = store.now()
    with store.engine.begin() as connection:
        row = connection.execute(
            _FAST.done_fenced,
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
            _check_held(claim, connection.execute(_FAST.current, {"p_id": claim.case.id}).first())
            raise LeaseLost(f"robot {claim.robot_id} no longer holds case {claim.case.id}")
        if connection.dialect.name == "postgresql":
            connection.execute(
                _FAST.after_done,
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


def save_checkpoint(store: Any, claim: Claim, state: RunState, steps: Sequence[StepRecord]) -> None:
    """``CaseStore.save_checkpoint`` fenced inside its update (no read first): the state to
    resume from and the step records since the last checkpoint, in one transaction."""
    with store.engine.begin() as connection:
        result = connection.execute(
            _FAST.checkpoint_fenced,
            {"p_id": claim.case.id, "p_token": claim.token, "p_state": state.model_dump(mode="json")},
        )
        if result.rowcount != 1:
            _check_held(claim, connection.execute(_FAST.current, {"p_id": claim.case.id}).first())
            raise LeaseLost(f"robot {claim.robot_id} no longer holds case {claim.case.id}")
        if steps:
            connection.execute(_STATEMENTS.steps, [store._step_values(claim, record) for record in steps])
