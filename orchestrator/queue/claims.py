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
network, so the count matters less than the time the write lock is held), compiled once and
run on the driver's cursor (``orchestrator.queue.claim_statements``).

A reclaim (the lease of a robot that died or hung expired) counts as a system failure of
the case. A case whose robots keep dying — a poison case, e.g. a page that crashes the
browser — is not claimed again once its failures reach the workflow's ``max_attempts``:
``RunStore.give_up_lost_case`` hands it to the exception queue instead.

Owns: claiming the next case, finishing a successful run, checkpoints and step records, and
telling a lost lease. The statements themselves are ``orchestrator.queue.claim_statements``.

May import: ``orchestrator.queue.claim_statements``, ``orchestrator.storage``,
``orchestrator.errors``, ``orchestrator.models`` and ``robots``; never the case store (the
store calls this module: ``ClaimingStore`` below is only the part of it used here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn, Protocol

import sqlalchemy as sa

from orchestrator.errors import LeaseLost
from orchestrator.models import Case, Claim
from orchestrator.queue.claim_statements import STATEMENTS, driver_connection, sqlite_statements, sqlite_write
from orchestrator.storage.base import new_id
from robots.engine.records import RunRecord, RunState, StepRecord


class ClaimingStore(Protocol):
    """What the fast paths need of the case store (``orchestrator.queue.runs.RunStore``):
    typed here so that this module does not import the one that imports it."""

    engine: sa.Engine

    def now(self) -> datetime:
        """The store's current time (UTC)."""

    def give_up_lost_case(self, case_id: str) -> Case:
        """Fail a case whose robots crashed on it too often."""


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
    store: ClaimingStore, robot_id: str, lease_seconds: float, workflows: list[str] | None
) -> Claim | None:
    """See ``RunStore.claim_next_case``; poison cases met on the way go to a human."""
    claim = _claim_once if store.engine.dialect.name == "postgresql" else _claim_once_sqlite
    while True:
        try:
            return claim(store, robot_id, lease_seconds, workflows)
        except _Poisoned as poisoned:  # rolled back: hand it over, then pick again
            store.give_up_lost_case(poisoned.case_id)


def lost_reason(robot: str | None) -> str:
    return f"lease of robot {robot} expired"


def _claim_once(
    store: ClaimingStore, robot_id: str, lease_seconds: float, workflows: list[str] | None
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
    statement = STATEMENTS.pick_and_take
    if workflows:
        statement = STATEMENTS.pick_and_take_among
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
            connection.execute(STATEMENTS.lose_run, {"p_run": row.previous_run, "p_now": now, "p_error": why})
            connection.execute(
                STATEMENTS.audit,
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
            STATEMENTS.after_claim,
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
    store: ClaimingStore, robot_id: str, lease_seconds: float, workflows: list[str] | None
) -> Claim | None:
    # SQLite: RETURNING cannot name the FROM side, so pick then take, in one immediate
    # transaction (the write lock is held from BEGIN: nobody else picks meanwhile).
    with sqlite_write(store.engine) as driver:
        taken = _take_sqlite(store, driver, robot_id, lease_seconds, workflows)
    # Outside the transaction: the write lock is held no longer than the SQL needs.
    return _claim(*taken) if taken is not None else None


def _take_sqlite(
    store: ClaimingStore,
    driver: sqlite3.Connection,
    robot_id: str,
    lease_seconds: float,
    workflows: list[str] | None,
) -> tuple[Any, str, str, str, bool] | None:
    """Pick and take the next case inside the caller's transaction; what ``_claim`` needs.

    ``_Poisoned`` is raised before anything is written, so a caller may catch it and commit
    what else its transaction did."""
    now: datetime = store.now()
    token, run_id = new_id("k")[2:], new_id("r")[2:]
    prepared = sqlite_statements(store.engine.dialect)
    params: dict[str, Any] = {"p_now": now}
    pick_queued, pick_expired = prepared.pick_queued, prepared.pick_expired
    if workflows:
        pick_queued, pick_expired = prepared.picks_among(len(workflows))
        params.update((f"p_workflow_{i}", name) for i, name in enumerate(workflows))
    candidates = [*pick_queued.rows(driver, params), *pick_expired.rows(driver, params)]
    found = min(candidates, key=_claim_order, default=None)
    if found is None:
        return None
    reclaimed = found.status == "running"
    events = []
    if reclaimed:
        if found.failures + 1 >= found.max_attempts:
            raise _Poisoned(found.id)
        why = lost_reason(found.robot_id)
        prepared.lose_run.run(driver, {"p_run": found.run_id, "p_now": now, "p_error": why})
        events.append(
            ("running", "queued", "orchestrator", f"{why} ({found.failures + 1}/{found.max_attempts})")
        )
    (row,) = prepared.take.rows(
        driver,
        {
            "p_id": found.id,
            "p_robot": robot_id,
            "p_token": token,
            "p_lease": now + timedelta(seconds=lease_seconds),
            "p_run": run_id,
            "p_now": now,
            "p_lost": int(reclaimed),
        },
    )
    events.append(("queued", "running", robot_id, f"claimed (attempt {row.attempts})"))
    prepared.audit.run_many(
        driver,
        [
            {"case_id": row.id, "at": now, "from_status": a, "to_status": b, "actor": who, "reason": why}
            for a, b, who, why in events
        ],
    )
    prepared.open_run.run(
        driver,
        {
            "id": run_id,
            "case_id": row.id,
            "attempt": row.attempts,
            "robot_id": robot_id,
            "started_at": now,
            "status": "running",
        },
    )
    prepared.robot_busy.run(
        driver, {"p_robot": robot_id, "p_case": row.id, "p_workflow": row.workflow, "p_now": now}
    )
    return row, robot_id, token, run_id, reclaimed


def _claim_order(row: Any) -> tuple[Any, ...]:
    """The claim order as a sort key (the ORDER BY of ``claim_statements.Statements.pick_queued``)."""
    return (-row.priority, row.deadline is None, row.deadline, row.created_at, row.id)


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


def finish_done(
    store: ClaimingStore, claim: Claim, record: RunRecord, steps: Sequence[StepRecord] = ()
) -> Case:
    """Store a successful run: the fenced update, then audit, run and robot (one statement
    on PostgreSQL) and the step records not checkpointed yet. ``LeaseLost`` (nothing
    changed) when the claim is no longer held."""
    if store.engine.dialect.name == "postgresql":
        if steps:
            with store.engine.begin() as connection:
                row = _store_done(store, connection, claim, record, steps)
        else:  # one statement: atomic by itself, no BEGIN and COMMIT round trips
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                row = _store_done(store, connection, claim, record, steps)
    else:
        with sqlite_write(store.engine) as driver:
            row = _store_done(store, driver, claim, record, steps)
    return Case.model_validate(row)


def finish_done_and_claim(
    store: ClaimingStore,
    claim: Claim,
    record: RunRecord,
    steps: Sequence[StepRecord],
    lease_seconds: float,
    workflows: list[str] | None,
) -> tuple[Case, Claim | None]:
    """``finish_done``, then the robot's next claim. On SQLite both are one transaction: one
    commit and one turn at the write lock less per case. On PostgreSQL the claim stays a
    transaction of its own: its one pick-and-take statement writes before it can tell a case
    whose robots kept dying, and undoing that would need a savepoint, which costs more round
    trips than the commit it saves."""
    if store.engine.dialect.name == "postgresql":
        return finish_done(store, claim, record, steps), claim_next_case(
            store, claim.robot_id, lease_seconds, workflows
        )
    poisoned = False
    taken = None
    with sqlite_write(store.engine) as driver:
        row = _store_done(store, driver, claim, record, steps)
        try:
            taken = _take_sqlite(store, driver, claim.robot_id, lease_seconds, workflows)
        except _Poisoned:  # nothing of the claim was written: commit the outcome, then hand it over
            poisoned = True
    case = Case.model_validate(row)
    if poisoned:
        return case, claim_next_case(store, claim.robot_id, lease_seconds, workflows)
    return case, _claim(*taken) if taken is not None else None


def _store_done(
    store: ClaimingStore,
    tx: sa.Connection | sqlite3.Connection,
    claim: Claim,
    record: RunRecord,
    steps: Sequence[StepRecord],
) -> Any:
    """The outcome's writes inside ``tx``: a SQLAlchemy connection on PostgreSQL, the
    driver's own connection on SQLite (``claim_statements.sqlite_write``)."""
    now: datetime = store.now()
    params = {
        "p_id": claim.case.id,
        "p_token": claim.token,
        "p_state": record.state.model_dump(mode="json"),
        "p_outputs": record.outputs,
        "p_now": now,
    }
    after = {"p_case": claim.case.id, "p_now": now, "p_robot": claim.robot_id, "p_run": claim.run_id}
    row: Any
    if isinstance(tx, sa.Connection):
        row = tx.execute(STATEMENTS.done_all, {**params, **after}).first()
    else:
        prepared = sqlite_statements(store.engine.dialect)
        row = next(iter(prepared.done.rows(tx, params)), None)
        if row is not None:
            prepared.audit.run(
                tx,
                {
                    "case_id": row.id,
                    "at": now,
                    "actor": claim.robot_id,
                    "from_status": "running",
                    "to_status": "done",
                    "reason": "the run finished",
                },
            )
            prepared.close_run.run(tx, after)
            prepared.robot_done.run(tx, after)
    if row is None:
        _lost(store, tx, claim)
    insert_steps(store, tx, claim, steps)
    return row


def _lost(store: ClaimingStore, tx: sa.Connection | sqlite3.Connection, claim: Claim) -> NoReturn:
    """``LeaseLost`` for a fenced write that changed nothing, saying why (read only now:
    the lease expired and another robot holds the case, or it was cancelled)."""
    params = {"p_id": claim.case.id}
    if isinstance(tx, sa.Connection):
        check_held(claim, tx.execute(STATEMENTS.current, params).first())
    else:
        check_held(claim, next(iter(sqlite_statements(store.engine.dialect).current.rows(tx, params)), None))
    raise LeaseLost(f"robot {claim.robot_id} no longer holds case {claim.case.id}")


def save_checkpoint(store: ClaimingStore, claim: Claim, state: RunState, steps: Sequence[StepRecord]) -> None:
    """The state to resume from and the step records since the last checkpoint, in one
    transaction fenced inside its update (no read first)."""
    params = {"p_id": claim.case.id, "p_token": claim.token, "p_state": state.model_dump(mode="json")}
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as connection:
            if connection.execute(STATEMENTS.checkpoint_fenced, params).rowcount != 1:
                _lost(store, connection, claim)
            insert_steps(store, connection, claim, steps)
        return
    with sqlite_write(store.engine) as driver:
        if sqlite_statements(store.engine.dialect).checkpoint.run(driver, params) != 1:
            _lost(store, driver, claim)
        insert_steps(store, driver, claim, steps)


def insert_steps(
    store: ClaimingStore, tx: sa.Connection | sqlite3.Connection, claim: Claim, steps: Sequence[StepRecord]
) -> None:
    """Append ``steps`` to the case's step records, inside the caller's transaction (a
    SQLAlchemy connection, or on SQLite the driver's connection)."""
    if not steps:
        return
    if isinstance(tx, sa.Connection) and tx.dialect.name == "postgresql":
        tx.execute(STATEMENTS.steps, [step_values(claim, record) for record in steps])
        return
    prepared = sqlite_statements(store.engine.dialect)
    prepared.steps.run_rows(
        driver_connection(tx) if isinstance(tx, sa.Connection) else tx, prepared.step_rows(claim, steps)
    )


def step_values(claim: Claim, record: StepRecord) -> dict[str, Any]:
    """The ``steps`` row of one finished step record of ``claim``'s run."""
    return {
        "case_id": claim.case.id,
        "run_id": claim.run_id,
        "path": record.path,
        "kind": record.kind,
        "label": record.label,
        "depth": record.depth,
        "attempt": record.attempt,
        "outcome": record.outcome,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration_ms": record.duration_ms,
        "outputs": record.outputs,
        "error": record.error,
        "error_kind": record.error_kind,
        "system": record.system,
        "artifacts": list(record.artifacts),
    }
