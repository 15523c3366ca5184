"""The hot path's own bind processors write exactly what SQLAlchemy's would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from orchestrator.queue.claim_statements import bind_processor
from orchestrator.storage.tables import UTCDateTime

SQLITE = sqlite.dialect()


def sqlalchemys(type_: sa.types.TypeEngine[Any]) -> Any:
    return type_.dialect_impl(SQLITE).bind_processor(SQLITE)


@pytest.mark.parametrize(
    "value",
    [
        None,
        datetime(2026, 11, 23, 22, 58, 0, tzinfo=UTC),  # no microseconds: still written with them
        datetime(2026, 11, 23, 22, 58, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),  # another zone
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    ],
)
def test_timestamps_are_written_as_sqlalchemy_writes_them(value: datetime | None) -> None:
    ours, theirs = bind_processor(UTCDateTime(), SQLITE), sqlalchemys(UTCDateTime())
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value)


def test_a_naive_timestamp_is_refused_as_before() -> None:
    ours = bind_processor(UTCDateTime(), SQLITE)
    assert ours is not None
    with pytest.raises(ValueError, match="naive datetime"):
        ours(datetime(2026, 11, 23, 12, 0))


@pytest.mark.parametrize(
    "value", [[], {}, None, [{"Date": "2026-11-24", "Window": "08:00-12:00"}], {"a": [1, 2.5, "ü"]}, "", 0]
)
def test_json_is_written_as_sqlalchemy_writes_it(value: Any) -> None:
    ours, theirs = bind_processor(sa.JSON(), SQLITE), sqlalchemys(sa.JSON())
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value)


def test_other_types_and_dialects_keep_sqlalchemys_processors() -> None:
    pg = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    value = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    ours, theirs = bind_processor(UTCDateTime(), pg), UTCDateTime().dialect_impl(pg).bind_processor(pg)
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value) == datetime(2026, 11, 23, 11, 0)
    assert bind_processor(sa.String(), SQLITE) is None


def test_step_rows_are_what_the_general_path_would_write() -> None:
    from types import SimpleNamespace

    from orchestrator.queue.claim_statements import SQLiteStatements
    from orchestrator.queue.claims import step_values
    from robots.engine.records import StepRecord

    statements = SQLiteStatements(SQLITE)
    claim: Any = SimpleNamespace(case=SimpleNamespace(id="c_1"), run_id="r_1")
    began = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    steps = [
        StepRecord(path="1", kind="web.goto", label="open", started_at=began),  # still running
        StepRecord(
            path="2.1",
            kind="web.read",
            label="slots",
            depth=1,
            attempt=2,
            started_at=began,
            ended_at=began + timedelta(milliseconds=21),
            duration_ms=21.4,
            outcome="ok",
            outputs=[{"Date": "2026-11-24", "Window": "08:00-12:00"}],
            system="nordlog",
        ),
        StepRecord(
            path="3",
            kind="web.click",
            label="book",
            started_at=began,
            ended_at=began,
            outcome="failed",
            outputs={},
            error="no slot",
            error_kind="business",
            artifacts=["shot.png", "trace.zip"],
        ),
    ]
    general = [statements.steps._values(step_values(claim, step)) for step in steps]
    assert statements.step_rows(claim, steps) == general
