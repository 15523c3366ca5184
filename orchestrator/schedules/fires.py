"""One fire of a schedule, and its record: claimed once, heart-beating, finished, read back.

Owns what a fire did (``FireSummary``, ``RejectedRow``, ``FireProgress``), the case reference
of each row of a fire (``fire_reference``), which due fire times run by the misfire policy
(``select_fire_times``), the mapping of the schedule tables (``schedule_fires``, the fire
records; ``schedule_states``, the pause state) and ``FireRecords``, the fire records in the
database: a fire is claimed there once however many schedulers wake for it, its owner heart-
beats while it works, and a claim whose owner stopped is taken over. The service that fires
is ``orchestrator.schedules.service``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from loguru import logger
from sqlalchemy.exc import IntegrityError

from orchestrator.schedules.model import Schedule

FireKind = Literal["scheduled", "manual"]
FireStatus = Literal["done", "failed", "skipped", "missed", "already_fired", "running_elsewhere"]

# The mapping the service works with. The tables themselves are created by the orchestrator's
# Alembic migrations (``0002_schedule_tables``, with APScheduler's ``schedule_jobs``), so a
# database opened by ``Orchestrator(migrate=True)`` has them.
metadata = sa.MetaData()

fires_table = sa.Table(
    "schedule_fires",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule", sa.String(200), nullable=False),
    sa.Column("fire_time", sa.DateTime, nullable=False, comment="UTC"),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("existed", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
    sa.Column("rejections", sa.Text, nullable=False, default="[]"),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("schedule", "fire_time", name="uq_schedule_fires_fire"),
)

states_table = sa.Table(
    "schedule_states",
    metadata,
    sa.Column("schedule", sa.String(200), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("file_paused", sa.Boolean, nullable=False, comment="the file's paused: when ops changed it"),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)

_FINAL = ("done", "skipped", "missed")
# Rejection reasons kept per fire in the database (the summary returned keeps them all).
_MAX_STORED_REJECTIONS = 500


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; ``ValueError`` for a time without a zone."""
    if moment.tzinfo is None:
        raise ValueError(f"a fire time needs a time zone, got {moment!r}")
    return moment.astimezone(UTC)


def db_time(moment: datetime) -> datetime:
    """Naive UTC, the same on SQLite and PostgreSQL."""
    return as_utc(moment).replace(tzinfo=None)


def _from_db(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


# The case store takes references of up to 200 characters.
_MAX_KEY = 120


def fire_reference(schedule: str, fire_time: datetime, key: str) -> str:
    """The case reference of one row of one fire: ``nightly@2026-11-23T01:00:00Z/K-1001``.

    A very long key is shortened to its start plus a hash of the whole, so it stays unique
    and the reference fits the case store.
    """
    if len(key) > _MAX_KEY:
        key = f"{key[:80]}~{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    return f"{schedule}@{as_utc(fire_time):%Y-%m-%dT%H:%M:%SZ}/{key}"


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    """A source row that did not become a case, and why."""

    where: str
    key: str | None
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        key = f" (key {self.key})" if self.key else ""
        return f"{self.where}{key}: {'; '.join(self.reasons)}"


@dataclass
class FireSummary:
    """What one fire did: cases created, rows whose case already existed, rows rejected."""

    schedule: str
    fire_time: datetime
    kind: FireKind
    status: FireStatus
    total: int = 0
    created: int = 0
    existed: int = 0
    rejections: list[RejectedRow] = field(default_factory=list)
    message: str = ""
    references: list[str] = field(default_factory=list)
    """The references of the rows that became (or already were) cases, in source order."""
    recorded_rejected: int | None = None
    """From the fire record: how many rows were rejected (the details may be capped or purged)."""

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return self.recorded_rejected if self.recorded_rejected is not None else len(self.rejections)

    def __str__(self) -> str:
        head = f"{self.schedule} @ {self.fire_time:%Y-%m-%d %H:%M:%S %Z} ({self.kind}): {self.status}"
        if self.status in ("done", "failed"):
            head += (
                f" - {self.total} rows: {self.created} created, {self.existed} already existed, "
                f"{self.rejected} rejected"
            )
        lines = [head]
        if self.message:
            lines.append(f"  {self.message}")
        lines += [f"  rejected {rejection}" for rejection in self.rejections]
        return "\n".join(lines)


@dataclass(frozen=True)
class FireProgress:
    """Progress of a running fire (for a progress bar)."""

    schedule: str
    done: int
    total: int
    created: int
    existed: int
    rejected: int


# -- misfire policy --------------------------------------------------------------------------------


def select_fire_times(
    schedule: Schedule, due: Sequence[datetime], now: datetime
) -> tuple[list[datetime], list[datetime]]:
    """Which of the ``due`` fire times run now, and which are missed, by the misfire policy.

    Returns ``(to_fire, missed)``; see ``MisfireSpec`` for the policies.
    """
    ordered = sorted(as_utc(moment) for moment in due)
    grace = schedule.misfire.grace_time
    in_time = [moment for moment in ordered if as_utc(now) - moment <= grace]
    late = [moment for moment in ordered if moment not in in_time]
    policy = schedule.misfire.policy
    if policy == "run_all":
        return in_time, late
    # run_once coalesces the fires within grace into the latest one; skip runs only the latest
    # due fire, and only when it is on time - which is the same selection with skip's short
    # default grace. The latest due fire is the least late, so it is in time if any is.
    if in_time:
        return [ordered[-1]], ordered[:-1]
    return [], ordered


# -- the fire records ------------------------------------------------------------------------------


class FireRecords:
    """The ``schedule_fires`` table as one scheduler process (``owner``) sees it.

    A fire is claimed by inserting its row (unique per schedule and fire time); the owner
    heart-beats while it creates the cases and finishes the row with what it did. A claim
    whose owner stopped heart-beating for ``stale_after`` (or that failed) is taken over.
    """

    def __init__(
        self, engine: sa.Engine, *, owner: str, stale_after: timedelta, now: Callable[[], datetime]
    ) -> None:
        """``now`` is the service's clock (UTC)."""
        self.engine = engine
        self.owner = owner
        self.stale_after = stale_after
        self._now = now

    def claim(self, summary: FireSummary) -> FireSummary | None:
        """Claim the fire; None when it is ours now, else what the other claim says."""
        now = db_time(self._now())
        values = {
            "schedule": summary.schedule,
            "fire_time": db_time(summary.fire_time),
            "kind": summary.kind,
            "status": "running",
            "owner": self.owner,
            "started_at": now,
            "heartbeat_at": now,
            "total": 0,
            "created": 0,
            "existed": 0,
            "rejected": 0,
            "rejections": "[]",
            "message": "",
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(fires_table).values(**values))
            return None
        except IntegrityError:
            pass
        key = (fires_table.c.schedule == summary.schedule) & (
            fires_table.c.fire_time == db_time(summary.fire_time)
        )
        with self.engine.begin() as connection:
            row = connection.execute(sa.select(fires_table).where(key)).one()
            stale = row.heartbeat_at < now - self.stale_after
            if row.status in _FINAL or (row.status == "running" and not stale):
                other = self.summary_of(row)
                other.kind = summary.kind
                other.status = "already_fired" if row.status in _FINAL else "running_elsewhere"
                other.message = (
                    f"{row.status} by {row.owner} (started {row.started_at:%Y-%m-%d %H:%M:%S} UTC)"
                    + (f": {row.message}" if row.message else "")
                )
                return other
            # A failed fire, or one whose owner stopped heart-beating: take it over, but only if
            # nobody else did in between (compare-and-set on the owner and heartbeat we saw).
            taken = connection.execute(
                sa.update(fires_table)
                .where(
                    key
                    & (fires_table.c.owner == row.owner)
                    & (fires_table.c.heartbeat_at == row.heartbeat_at)
                )
                .values(**{k: v for k, v in values.items() if k not in ("schedule", "fire_time")})
            ).rowcount
        if taken:
            logger.warning(
                "schedule {} fire {}: taking over from {} ({})",
                summary.schedule,
                summary.fire_time,
                row.owner,
                row.status,
            )
            return None
        return self.claim(summary)

    def heartbeat(self, summary: FireSummary) -> None:
        """Show the claim is alive, with the counts so far (the dashboard's progress)."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(fires_table)
                .where(self._mine(summary))
                .values(
                    heartbeat_at=db_time(self._now()),
                    total=summary.total,
                    created=summary.created,
                    existed=summary.existed,
                    rejected=summary.rejected,
                )
            )

    def _mine(self, summary: FireSummary) -> Any:
        return (
            (fires_table.c.schedule == summary.schedule)
            & (fires_table.c.fire_time == db_time(summary.fire_time))
            & (fires_table.c.owner == self.owner)
        )

    def finish(self, summary: FireSummary) -> None:
        """Write what the fire did into its record (the first rejections' details, every count)."""
        rejections = [
            {"where": r.where, "key": r.key, "reasons": list(r.reasons)}
            for r in summary.rejections[:_MAX_STORED_REJECTIONS]
        ]
        now = db_time(self._now())
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(fires_table)
                .where(self._mine(summary))
                .values(
                    status=summary.status,
                    heartbeat_at=now,
                    finished_at=now,
                    total=summary.total,
                    created=summary.created,
                    existed=summary.existed,
                    rejected=summary.rejected,
                    rejections=json.dumps(rejections),
                    message=summary.message,
                )
            )

    def record_missed(self, schedule: Schedule, moment: datetime, fired: list[datetime]) -> FireSummary:
        """Record a fire the misfire policy did not run (``fired``: the fire times that did run)."""
        coalesced = fired and schedule.misfire.policy == "run_once" and moment < fired[-1]
        why = (
            f"coalesced into the fire of {fired[-1]:%Y-%m-%d %H:%M:%S} UTC (misfire policy run_once)"
            if coalesced
            else f"missed: more than {schedule.misfire.grace_time} late "
            f"(misfire policy {schedule.misfire.policy})"
        )
        summary = FireSummary(schedule.name, as_utc(moment), "scheduled", "missed", message=why)
        if self.claim(summary) is None:
            self.finish(summary)
        logger.warning("schedule {} fire {}: {}", schedule.name, moment, why)
        return summary

    def summary_of(self, row: Any) -> FireSummary:
        """A ``schedule_fires`` row as a ``FireSummary``."""
        rejections = [
            RejectedRow(item["where"], item.get("key"), tuple(item["reasons"]))
            for item in json.loads(row.rejections)
        ]
        summary = FireSummary(
            schedule=row.schedule,
            fire_time=_from_db(row.fire_time) or datetime.min.replace(tzinfo=UTC),
            kind=row.kind,
            status=row.status,
            total=row.total,
            created=row.created,
            existed=row.existed,
            rejections=rejections,
            message=row.message,
            recorded_rejected=row.rejected,
        )
        return summary

    def latest(self, name: str | None = None, *, limit: int = 20) -> list[FireSummary]:
        """The latest fire records (newest first), of one schedule or of all."""
        query = sa.select(fires_table).order_by(fires_table.c.fire_time.desc(), fires_table.c.id.desc())
        if name is not None:
            query = query.where(fires_table.c.schedule == name)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).all()
        return [self.summary_of(row) for row in rows]

    def forget_rejections(self, before: datetime) -> int:
        """Empty the rejected rows' details of the finished fires before ``before``; how many."""
        with self.engine.begin() as connection:
            purged = connection.execute(
                sa.update(fires_table)
                .where(
                    (fires_table.c.fire_time < db_time(before))
                    & (fires_table.c.status != "running")
                    & (fires_table.c.rejections != "[]")
                )
                .values(rejections="[]")
            ).rowcount
        return int(purged)

    def abandoned(self) -> list[tuple[str, datetime, FireKind]]:
        """The running fires whose owner stopped heart-beating: (schedule, fire time UTC, kind)."""
        limit = db_time(self._now() - self.stale_after)
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(fires_table.c.schedule, fires_table.c.fire_time, fires_table.c.kind).where(
                    (fires_table.c.status == "running") & (fires_table.c.heartbeat_at < limit)
                )
            ).all()
        return [(row.schedule, row.fire_time.replace(tzinfo=UTC), row.kind) for row in rows]
