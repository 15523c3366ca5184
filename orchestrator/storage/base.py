"""The shared core of the orchestrator's stores: the engine, transactions, the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestrator.storage import db
from orchestrator.storage.tables import CaseEventRow, CaseRow
from robots.language.project import Project


def new_id(prefix: str) -> str:
    """A random, unguessable id with a readable prefix (``c-1f3a...`` for a case)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


class StoreBase:
    """Owns the engine; every store method runs in one short transaction from ``_tx``."""

    def __init__(
        self,
        url: str | None = None,
        *,
        project: Project | None = None,
        migrate: bool = True,
        pool_size: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.url = db.database_url(url)
        self.engine: sa.Engine = db.create_engine(self.url, pool_size=pool_size)
        self.project = project or Project()
        self.clock = clock
        if migrate:
            db.migrate(self.engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def now(self) -> datetime:
        """The current time in UTC (from the clock the store was made with)."""
        return self.clock() if self.clock is not None else datetime.now(UTC)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _transition(
        self,
        session: Session,
        case: CaseRow,
        to_status: str,
        *,
        actor: str,
        reason: str = "",
        at: datetime | None = None,
        initial: bool = False,
    ) -> None:
        """Change a case's status and append the transition to its audit trail."""
        when = at or self.now()
        session.add(
            CaseEventRow(
                case_id=case.id,
                at=when,
                actor=actor,
                from_status=None if initial else case.status,
                to_status=to_status,
                reason=reason,
            )
        )
        case.status = to_status
        case.updated_at = when
