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
run on the driver's cursor (``_Prepared``).

A reclaim (the lease of a robot that died or hung expired) counts as a system failure of
the case. A case whose robots keep dying — a poison case, e.g. a page that crashes the
browser — is not claimed again once its failures reach the workflow's ``max_attempts``:
``CaseStore.give_up_lost_case`` hands it to the exception queue instead.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, NoReturn, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql.compiler import SQLCompiler

from orchestrator.errors import LeaseLost
from orchestrator.models import Case, Claim
from orchestrator.storage.base import new_id
from orchestrator.storage.db import WriterConnection
from orchestrator.storage.tables import CaseEventRow, CaseRow, RobotRow, RunRow, StepRow, UTCDateTime
from robots.engine.records import RunRecord, RunState, StepRecord


class CaseStore(Protocol):
    """What the fast paths need of the case store (``orchestrator.queue.cases.CaseStore``):
    typed here so that this module does not import the one that imports it."""

    engine: sa.Engine

    def now(self) -> datetime:
        """The store's current time (UTC)."""

    def give_up_lost_case(self, case_id: str) -> Case:
        """Fail a case whose robots crashed on it too often."""


class _Statements:
    """The statements of the hot path, built once with bind parameters (building them per
    call cost more than running them on a busy machine)."""

    def picks_among(self, count: int) -> tuple[sa.Select[Any], sa.Select[Any]]:
        """The two picks (queued, expired lease) restricted to ``count`` workflows, bound
        one by one as ``p_workflow_0``, ``p_workflow_1`` ... (an expanding ``IN`` can only
        be compiled per call)."""
        among = CaseRow.workflow.in_([sa.bindparam(f"p_workflow_{i}") for i in range(count)])
        return self._first(sa.and_(self._queued, among)), self._first(sa.and_(self._expired, among))

    def __init__(self) -> None:
        b = sa.bindparam
        now = b("p_now", type_=UTCDateTime)
        queued = sa.and_(
            CaseRow.status == "queued",
            sa.or_(CaseRow.not_before.is_(None), CaseRow.not_before <= now),
        )
        expired = sa.and_(CaseRow.status == "running", CaseRow.lease_expires_at < now)

        def first(condition: sa.ColumnElement[bool]) -> sa.Select[*tuple[Any, ...]]:
            # In the order of ix_cases_claim_order: priority, deadline (none last), age.
            return (
                sa.select(
                    CaseRow.id,
                    CaseRow.status,
                    CaseRow.robot_id,
                    CaseRow.run_id,
                    CaseRow.failures,
                    CaseRow.max_attempts,
                    CaseRow.priority,
                    CaseRow.deadline,
                    CaseRow.created_at,
                )
                .where(condition)
                .order_by(
                    CaseRow.priority.desc(),
                    CaseRow.deadline.is_(None),
                    CaseRow.deadline,
                    CaseRow.created_at,
                    CaseRow.id,
                )
                .limit(1)
                .with_for_update(skip_locked=True)
            )

        # A claim takes the first of two candidates, each one index search: the first queued
        # case and the first expired lease. (One query with ``queued OR expired`` cannot walk
        # the index: it read and sorted the whole queue on every claim.)
        among = CaseRow.workflow.in_(b("p_workflows", expanding=True))
        self._first, self._queued, self._expired = first, queued, expired
        self.pick_queued = first(queued)
        self.pick_expired = first(expired)
        self.pick_queued_among = first(sa.and_(queued, among))
        self.pick_expired_among = first(sa.and_(expired, among))
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
        # Locking clauses are not allowed on a UNION, so each candidate is locked in its CTE.
        def pick_and_take(
            queued_first: sa.Select[*tuple[Any, ...]], expired_first: sa.Select[*tuple[Any, ...]]
        ) -> sa.Update:
            both = sa.union_all(
                sa.select(queued_first.cte("queued_first")), sa.select(expired_first.cte("expired_first"))
            ).subquery("candidates")
            c = both.c
            picked = (
                sa.select(both)
                .order_by(c.priority.desc(), c.deadline.is_(None), c.deadline, c.created_at, c.id)
                .limit(1)
                .subquery("picked")
            )
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

        self.pick_and_take = pick_and_take(self.pick_queued, self.pick_expired)
        self.pick_and_take_among = pick_and_take(self.pick_queued_among, self.pick_expired_among)
        self.audit = sa.insert(CaseEventRow)
        self.open_run = sa.insert(RunRow)
        self.robot_busy = (
            sa.update(RobotRow)
            .where(RobotRow.id == b("p_robot"))
            .values(status="busy", case_id=b("p_case"), workflow=b("p_workflow"), step=None, heartbeat_at=now)
        )

        def robot_event(name: str, from_status: str, to_status: str, reason: Any) -> sa.CTE:
            """The robot's audit entry for the case, as a data-modifying CTE (PostgreSQL)."""
            return (
                sa.insert(CaseEventRow)
                .values(
                    case_id=b("p_case"),
                    at=now,
                    actor=b("p_robot"),
                    from_status=from_status,
                    to_status=to_status,
                    reason=reason,
                )
                .cte(name)
            )

        # PostgreSQL: audit entry + run row + robot row of a fresh claim in one statement.
        claim_event = robot_event("claim_event", "queued", "running", b("p_reason"))
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
            # What a Case shows: not the run state just written (parsed again for nothing).
            .returning(*(CaseRow.__table__.c[name] for name in Case.model_fields))
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
        # PostgreSQL: the whole outcome in one statement. The fenced update is a CTE; the audit
        # entry, the run and the robot are written only when it matched (a lost lease changes
        # nothing), and the statement returns what it returned. One statement is atomic on
        # its own: without step records to add it runs without BEGIN and COMMIT round trips.
        done = self.done_fenced.cte("done")
        matched = sa.exists(sa.select(done.c.id))
        done_event = (
            sa.insert(CaseEventRow)
            .from_select(
                ["case_id", "at", "actor", "from_status", "to_status", "reason"],
                sa.select(
                    done.c.id,
                    now,
                    b("p_robot"),
                    sa.literal("running"),
                    sa.literal("done"),
                    sa.literal("the run finished"),
                ),
            )
            .cte("done_event")
        )
        done_run = self.close_run.where(matched).cte("done_run")
        done_robot = self.robot_done.where(matched).cte("done_robot")
        self.done_all = sa.select(done).add_cte(done_event, done_run, done_robot)
        self.checkpoint_fenced = (
            sa.update(CaseRow).where(*fence).values(run_state=b("p_state", type_=sa.JSON))
        )
        self.steps = sa.insert(StepRow)
        self.current = sa.select(CaseRow.status, CaseRow.claim_token, CaseRow.robot_id).where(
            CaseRow.id == b("p_id")
        )


_STATEMENTS = _Statements()


def bind_processor(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor for ``type_`` on ``dialect``, with faster twins (same
    output) for the two types a step record has twice: a timestamp and a JSON list that
    is nearly always empty. SQLAlchemy's take 8 and 4 microseconds a value, which a
    checkpoint of ten steps pays forty times, with the write lock held."""
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name != "sqlite" or process is None:
        return process
    if isinstance(type_, UTCDateTime):
        return _sqlite_utc
    if isinstance(type_, sa.JSON):
        general = process

        def json_value(value: Any) -> Any:
            if not value and type(value) in (list, dict):
                return "[]" if type(value) is list else "{}"
            return general(value)

        return json_value
    return process


def _sqlite_utc(value: datetime | None) -> str | None:
    """``UTCDateTime`` as SQLAlchemy writes it into SQLite: its naive UTC (and its refusal of
    a naive value), formatted with microseconds always."""
    naive = _UTC.process_bind_param(value, _SQLITE_DIALECT)
    return None if naive is None else naive.isoformat(" ", timespec="microseconds")


_UTC = UTCDateTime()
_SQLITE_DIALECT = sqlite_dialect.dialect()


class _Prepared:
    """A hot-path statement compiled once for SQLite and run on the driver's own cursor.

    Per execution SQLAlchemy builds an execution context, processes parameters and wraps
    results: on SQLite that took about three times as long as the SQL, all of it while the
    one write lock was held. Here the SQL text, the parameter order and the type conversions
    (``UTCDateTime``, JSON) are worked out once, with SQLAlchemy's own processors.
    """

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect, keys: Sequence[str] = ()) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self.binds = [
            (name, bind_processor(compiled.binds[name].type, dialect)) for name in compiled.positiontup or ()
        ]
        # Values written into the statement itself (status="running" ...).
        self.fixed = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        returned = statement.exported_columns if isinstance(statement, sa.Select | sa.UpdateBase) else ()
        self.columns = [
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in returned
        ]

    def _values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process in self.binds:
            value = params[name] if name in params else self.fixed[name]
            values.append(value if process is None else process(value))
        return tuple(values)

    def run(self, driver: sqlite3.Connection, params: dict[str, Any]) -> int:
        """Execute with ``params``; how many rows it changed."""
        cursor = driver.execute(self.sql, self._values(params))
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def rows(self, driver: sqlite3.Connection, params: dict[str, Any]) -> list[SimpleNamespace]:
        """Execute with ``params``; the rows it returns (attribute access, like SQLAlchemy's)."""
        cursor = driver.execute(self.sql, self._values(params))
        try:
            return [
                SimpleNamespace(
                    **{
                        str(name): value if process is None else process(value)
                        for (name, process), value in zip(self.columns, row, strict=True)
                    }
                )
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()

    def run_many(self, driver: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Execute once per row of ``params``."""
        self.run_rows(driver, [self._values(row) for row in rows])

    def run_rows(self, driver: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Execute once per row of values already in the statement's order and converted."""
        driver.executemany(self.sql, rows).close()


_STEP_KEYS = (
    "case_id", "run_id", "path", "kind", "label", "depth", "attempt", "outcome", "started_at",
    "ended_at", "duration_ms", "outputs", "error", "error_kind", "system", "artifacts",
)  # fmt: skip


class _SQLiteStatements:
    """The hot path's statements prepared for SQLite (``_Prepared``)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        s = _STATEMENTS
        self.pick_queued = _Prepared(s.pick_queued, dialect)
        self.pick_expired = _Prepared(s.pick_expired, dialect)
        self.take = _Prepared(s.take, dialect)
        self.lose_run = _Prepared(s.lose_run, dialect)
        self.audit = _Prepared(
            s.audit, dialect, ("case_id", "at", "actor", "from_status", "to_status", "reason")
        )
        self.open_run = _Prepared(
            s.open_run, dialect, ("id", "case_id", "attempt", "robot_id", "started_at", "status")
        )
        self.robot_busy = _Prepared(s.robot_busy, dialect)
        self.done = _Prepared(s.done_fenced, dialect)
        self.close_run = _Prepared(s.close_run, dialect)
        self.robot_done = _Prepared(s.robot_done, dialect)
        self.checkpoint = _Prepared(s.checkpoint_fenced, dialect)
        self.current = _Prepared(s.current, dialect)
        self.steps = _Prepared(s.steps, dialect, _STEP_KEYS)
        # step_rows writes the values in _STEP_KEYS's order: the statement's must be the same.
        assert [name for name, _ in self.steps.binds] == list(_STEP_KEYS), self.steps.binds
        self._step_processors = dict(self.steps.binds)
        self.dialect = dialect
        self._picks_among: dict[int, tuple[_Prepared, _Prepared]] = {}

    def step_rows(self, claim: Claim, steps: Sequence[StepRecord]) -> list[tuple[Any, ...]]:
        """Step records as ``steps``'s rows (a checkpoint writes ten or more, under the
        write lock: built directly, not through a dict per record)."""
        p = self._step_processors
        when, number, outputs, artifacts = p["started_at"], p["duration_ms"], p["outputs"], p["artifacts"]
        assert when is not None and number is not None and outputs is not None and artifacts is not None
        case_id, run_id = claim.case.id, claim.run_id
        return [
            (
                case_id,
                run_id,
                r.path,
                r.kind,
                r.label,
                r.depth,
                r.attempt,
                r.outcome,
                when(r.started_at),
                when(r.ended_at),
                number(r.duration_ms),
                outputs(r.outputs),
                r.error,
                r.error_kind,
                r.system,
                artifacts(list(r.artifacts)),
            )
            for r in steps
        ]

    def picks_among(self, count: int) -> tuple[_Prepared, _Prepared]:
        """``_Statements.picks_among`` prepared, once per number of workflows."""
        if count not in self._picks_among:
            queued, expired = _STATEMENTS.picks_among(count)
            self._picks_among[count] = (_Prepared(queued, self.dialect), _Prepared(expired, self.dialect))
        return self._picks_among[count]


_SQLITE: dict[str, _SQLiteStatements] = {}


def _sqlite(dialect: sa.Dialect) -> _SQLiteStatements:
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _SQLITE:
        _SQLITE[key] = _SQLiteStatements(dialect)
    return _SQLITE[key]


@contextlib.contextmanager
def _sqlite_write(store: CaseStore) -> Iterator[sqlite3.Connection]:
    """A write transaction of the hot path on SQLite, on the driver's connection itself.

    What ``engine.begin()`` does (the writer's file lock, ``BEGIN IMMEDIATE``, commit or
    roll back, the connection back to the pool) without SQLAlchemy's connection and
    transaction objects and events around it: about 40 microseconds less per transaction,
    which a robot pays twice per case while Chromium competes for the same cores."""
    pooled = store.engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert isinstance(driver, WriterConnection)
        driver.begin_immediate()
        try:
            yield driver
        except BaseException:
            driver.rollback()
            raise
        driver.commit()
    finally:
        pooled.close()


def _driver(connection: sa.Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy connection."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


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
    with _sqlite_write(store) as driver:
        taken = _take_sqlite(store, driver, robot_id, lease_seconds, workflows)
    # Outside the transaction: the write lock is held no longer than the SQL needs.
    return _claim(*taken) if taken is not None else None


def _take_sqlite(
    store: CaseStore,
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
    prepared = _sqlite(store.engine.dialect)
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
    """The claim order as a sort key (the ORDER BY of ``_Statements.pick_queued``)."""
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


def finish_done(store: CaseStore, claim: Claim, record: RunRecord, steps: Sequence[StepRecord] = ()) -> Case:
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
        with _sqlite_write(store) as driver:
            row = _store_done(store, driver, claim, record, steps)
    return Case.model_validate(row)


def finish_done_and_claim(
    store: CaseStore,
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
    with _sqlite_write(store) as driver:
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
    store: CaseStore,
    tx: sa.Connection | sqlite3.Connection,
    claim: Claim,
    record: RunRecord,
    steps: Sequence[StepRecord],
) -> Any:
    """The outcome's writes inside ``tx``: a SQLAlchemy connection on PostgreSQL, the
    driver's own connection on SQLite (``_sqlite_write``)."""
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
        row = tx.execute(_STATEMENTS.done_all, {**params, **after}).first()
    else:
        prepared = _sqlite(store.engine.dialect)
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


def _lost(store: CaseStore, tx: sa.Connection | sqlite3.Connection, claim: Claim) -> NoReturn:
    """``LeaseLost`` for a fenced write that changed nothing, saying why (read only now:
    the lease expired and another robot holds the case, or it was cancelled)."""
    params = {"p_id": claim.case.id}
    if isinstance(tx, sa.Connection):
        check_held(claim, tx.execute(_STATEMENTS.current, params).first())
    else:
        check_held(claim, next(iter(_sqlite(store.engine.dialect).current.rows(tx, params)), None))
    raise LeaseLost(f"robot {claim.robot_id} no longer holds case {claim.case.id}")


def save_checkpoint(store: CaseStore, claim: Claim, state: RunState, steps: Sequence[StepRecord]) -> None:
    """The state to resume from and the step records since the last checkpoint, in one
    transaction fenced inside its update (no read first)."""
    params = {"p_id": claim.case.id, "p_token": claim.token, "p_state": state.model_dump(mode="json")}
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as connection:
            if connection.execute(_STATEMENTS.checkpoint_fenced, params).rowcount != 1:
                _lost(store, connection, claim)
            insert_steps(store, connection, claim, steps)
        return
    with _sqlite_write(store) as driver:
        if _sqlite(store.engine.dialect).checkpoint.run(driver, params) != 1:
            _lost(store, driver, claim)
        insert_steps(store, driver, claim, steps)


def insert_steps(
    store: CaseStore, tx: sa.Connection | sqlite3.Connection, claim: Claim, steps: Sequence[StepRecord]
) -> None:
    """Append ``steps`` to the case's step records, inside the caller's transaction (a
    SQLAlchemy connection, or on SQLite the driver's connection)."""
    if not steps:
        return
    if isinstance(tx, sa.Connection) and tx.dialect.name == "postgresql":
        tx.execute(_STATEMENTS.steps, [step_values(claim, record) for record in steps])
        return
    prepared = _sqlite(store.engine.dialect)
    prepared.steps.run_rows(
        _driver(tx) if isinstance(tx, sa.Connection) else tx, prepared.step_rows(claim, steps)
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
