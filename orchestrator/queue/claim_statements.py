"""The claim hot path's SQL: every statement built once, and on SQLite compiled once and run
on the driver's own cursor.

Owns: ``STATEMENTS`` (the statements of claiming, checkpointing and finishing a case, with
bind parameters; on PostgreSQL several of them are one statement with data-modifying CTEs),
``Prepared`` and ``sqlite_statements`` (the same statements compiled for SQLite, their
parameters converted with SQLAlchemy's own processors), ``sqlite_write`` (a write
transaction on the SQLite driver's connection). What the statements mean for a case, and
which run when, is ``orchestrator.queue.claims``.

May import: ``orchestrator.storage``, ``orchestrator.models`` and ``robots`` (the step
records it writes); never the case store (it is the store's lower layer).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql.compiler import SQLCompiler

from orchestrator.models import Case, Claim
from orchestrator.storage.db import WriterConnection
from orchestrator.storage.tables import CaseEventRow, CaseRow, RobotRow, RunRow, StepRow, UTCDateTime
from robots.engine.records import StepRecord


class Statements:
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


STATEMENTS = Statements()


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


class Prepared:
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


class SQLiteStatements:
    """The hot path's statements prepared for SQLite (``Prepared``)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        s = STATEMENTS
        self.pick_queued = Prepared(s.pick_queued, dialect)
        self.pick_expired = Prepared(s.pick_expired, dialect)
        self.take = Prepared(s.take, dialect)
        self.lose_run = Prepared(s.lose_run, dialect)
        self.audit = Prepared(
            s.audit, dialect, ("case_id", "at", "actor", "from_status", "to_status", "reason")
        )
        self.open_run = Prepared(
            s.open_run, dialect, ("id", "case_id", "attempt", "robot_id", "started_at", "status")
        )
        self.robot_busy = Prepared(s.robot_busy, dialect)
        self.done = Prepared(s.done_fenced, dialect)
        self.close_run = Prepared(s.close_run, dialect)
        self.robot_done = Prepared(s.robot_done, dialect)
        self.checkpoint = Prepared(s.checkpoint_fenced, dialect)
        self.current = Prepared(s.current, dialect)
        self.steps = Prepared(s.steps, dialect, _STEP_KEYS)
        # step_rows writes the values in _STEP_KEYS's order: the statement's must be the same.
        assert [name for name, _ in self.steps.binds] == list(_STEP_KEYS), self.steps.binds
        self._step_processors = dict(self.steps.binds)
        self.dialect = dialect
        self._picks_among: dict[int, tuple[Prepared, Prepared]] = {}

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

    def picks_among(self, count: int) -> tuple[Prepared, Prepared]:
        """``Statements.picks_among`` prepared, once per number of workflows."""
        if count not in self._picks_among:
            queued, expired = STATEMENTS.picks_among(count)
            self._picks_among[count] = (Prepared(queued, self.dialect), Prepared(expired, self.dialect))
        return self._picks_among[count]


_SQLITE: dict[str, SQLiteStatements] = {}


def sqlite_statements(dialect: sa.Dialect) -> SQLiteStatements:
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _SQLITE:
        _SQLITE[key] = SQLiteStatements(dialect)
    return _SQLITE[key]


@contextlib.contextmanager
def sqlite_write(engine: sa.Engine) -> Iterator[sqlite3.Connection]:
    """A write transaction of the hot path on SQLite, on the driver's connection itself.

    What ``engine.begin()`` does (the writer's file lock, ``BEGIN IMMEDIATE``, commit or
    roll back, the connection back to the pool) without SQLAlchemy's connection and
    transaction objects and events around it: about 40 microseconds less per transaction,
    which a robot pays twice per case while Chromium competes for the same cores."""
    pooled = engine.raw_connection()
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


def driver_connection(connection: sa.Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy connection."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver
