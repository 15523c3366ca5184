"""Schedules against the orchestrator's real case store, on SQLite and on PostgreSQL.

Fires are driven by calling the service with a given fire time; the one test that lets
APScheduler fire waits for the fire records, it does not time anything.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from orchestrator.schedules.fires import FireSummary, fire_reference, states_table
from orchestrator.schedules.fires import metadata as schedules_metadata
from orchestrator.schedules.scheduler import JOBS_TABLE
from orchestrator.schedules.service import ScheduleService
from orchestrator.service import Orchestrator
from orchestrator.storage import db
from robots.language.project import Project
from tests.conftest import postgres_schema, write

INPUTS = {"address_like": frozenset({"customer_id", "street", "postal_code"})}

CSV = """
    Kunde;Strasse;PLZ
    C000001;Hauptstr. 1;80331
    C000002;Ringweg 2;10115
    C000003;Am Markt 3;2011
    C000004;Seeweg 4;20095
    C000005;Zeil 90;60311
    """

SCHEDULE = """
    name: nightly
    workflow: address_like
    cron: "0 2 * * 1-5"
    timezone: Europe/Berlin
    calendar: {country: DE, subdivision: BY}
    priority: 4
    deadline: 8h
    source:
      file: in/changes.csv
      delimiter: ";"
      columns: {customer_id: Kunde, street: Strasse, postal_code: PLZ}
      key: customer_id
    """

FIRE = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)  # Monday 02:00 in Berlin


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write(tmp_path / "schedules" / "nightly.yaml", SCHEDULE)
    write(tmp_path / "in" / "changes.csv", CSV)
    return tmp_path


def service_for(store: Orchestrator, root: Path, **options: Any) -> ScheduleService:
    """A schedule service on the store's own database, as a scheduler process would run it."""
    made = ScheduleService(store, engine=store.engine, root=root, workflows=INPUTS, **options)
    assert not made.problems, "\n".join(map(str, made.problems))
    return made


@pytest.fixture
def other_store(orch: Orchestrator, contract_project: Project) -> Iterator[Orchestrator]:
    """A second store on the same database: what a second scheduler process would open."""
    store = Orchestrator(orch.url, project=contract_project, migrate=False)
    yield store
    store.close()


def scheduled_references(store: Orchestrator) -> list[str]:
    return sorted(case.reference for case in store.list_cases(workflow="address_like", limit=1000))


def test_a_fire_creates_real_cases_and_rejects_the_bad_row(orch: Orchestrator, root: Path) -> None:
    summary = service_for(orch, root).fire("nightly", FIRE)
    assert (summary.status, summary.created, summary.existed, summary.rejected) == ("done", 4, 0, 1)
    [rejected] = summary.rejections
    assert (rejected.where, rejected.key) == ("line 4", "C000003")
    assert "postal_code" in rejected.reasons[0]
    case = orch.find_case("address_like", fire_reference("nightly", FIRE, "C000001"))
    assert case is not None
    assert case.status == "queued"
    assert case.priority == 4
    assert case.payload == {"customer_id": "C000001", "street": "Hauptstr. 1", "postal_code": "80331"}
    assert case.deadline is not None and case.deadline.replace(tzinfo=UTC) == FIRE + timedelta(hours=8)
    assert len(scheduled_references(orch)) == 4


def test_two_scheduler_processes_firing_at_once_create_each_case_once(
    orch: Orchestrator, other_store: Orchestrator, root: Path
) -> None:
    services = [
        service_for(orch, root, owner="scheduler-a"),
        service_for(other_store, root, owner="scheduler-b"),
    ]
    results = fire_together(services, FIRE)
    assert sorted(r.status for r in results) in (["already_fired", "done"], ["done", "running_elsewhere"])
    assert scheduled_references(orch) == sorted(
        fire_reference("nightly", FIRE, key) for key in ("C000001", "C000002", "C000004", "C000005")
    )


def test_even_without_the_fire_claim_each_case_is_created_once(
    orch: Orchestrator, other_store: Orchestrator, root: Path
) -> None:
    # stale_after=0: every claim counts as abandoned, so both schedulers run the whole batch
    # at the same moment; the unique references alone must keep every case single.
    services = [
        service_for(orch, root, owner="scheduler-a", stale_after=timedelta(0)),
        service_for(other_store, root, owner="scheduler-b", stale_after=timedelta(0)),
    ]
    results = fire_together(services, FIRE)
    done = [r for r in results if r.status == "done"]
    assert done
    assert len(scheduled_references(orch)) == 4
    if len(done) == 2:
        assert sum(r.created for r in done) == 4
        assert sum(r.created + r.existed for r in done) == 8


def fire_together(services: list[ScheduleService], fire_time: datetime) -> list[FireSummary]:
    barrier = threading.Barrier(len(services))
    results: list[FireSummary] = []
    errors: list[BaseException] = []

    def fire(service: ScheduleService) -> None:
        try:
            barrier.wait()
            results.append(service.fire("nightly", fire_time))
        except BaseException as error:  # reported below, a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=fire, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_a_query_source_reads_a_table_of_the_same_database(orch: Orchestrator, root: Path) -> None:
    with orch.engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE pending_moves (customer_no TEXT, street TEXT, zip INTEGER, move_date DATE)")
        )
        connection.execute(
            sa.text("INSERT INTO pending_moves VALUES (:c, :s, :z, :d)"),
            [
                {"c": "C000011", "s": "Hauptstr. 11", "z": 80331, "d": datetime(2030, 1, 7).date()},
                {"c": "C000012", "s": "Ringweg 12", "z": 10115, "d": datetime(2030, 1, 8).date()},
                {"c": "C000013", "s": "Am Markt 13", "z": 20095, "d": datetime(2030, 1, 7).date()},
            ],
        )
    url = orch.engine.url.render_as_string(hide_password=False)
    write(
        root / "schedules" / "nightly.yaml",
        SCHEDULE.split("    source:")[0]
        + f"""
    source:
      url: "{url}"
      query: SELECT customer_no, street, zip FROM pending_moves WHERE move_date = :fire_date
      columns: {{customer_id: customer_no, street: street, postal_code: zip}}
      key: customer_id
    """,
    )
    summary = service_for(orch, root).fire("nightly", FIRE)
    assert (summary.status, summary.created, summary.rejected) == ("done", 2, 0), str(summary)
    found = orch.find_case("address_like", fire_reference("nightly", FIRE, "C000013"))
    assert found is not None and found.payload["postal_code"] == "20095"


def test_a_holiday_fire_creates_nothing(orch: Orchestrator, root: Path) -> None:
    epiphany = datetime(2030, 1, 6, 1, 0, tzinfo=UTC)  # a Sunday, but the holiday is named first
    new_year = datetime(2030, 1, 1, 1, 0, tzinfo=UTC)
    service = service_for(orch, root)
    assert "public holiday" in service.fire("nightly", epiphany).message
    skipped = service.fire("nightly", new_year)
    assert skipped.status == "skipped" and "New Year's Day" in skipped.message
    assert scheduled_references(orch) == []


def test_pause_from_one_process_holds_in_another(
    orch: Orchestrator, other_store: Orchestrator, root: Path
) -> None:
    dashboard = service_for(orch, root)
    scheduler = service_for(other_store, root)
    dashboard.pause("nightly", actor="ops:anna")
    assert scheduler.fire("nightly", FIRE).status == "skipped"
    dashboard.resume("nightly", actor="ops:anna")
    # The skipped fire stays recorded as skipped; the next fire runs.
    assert scheduler.fire("nightly", FIRE).status == "already_fired"
    assert scheduler.fire("nightly", FIRE + timedelta(days=1)).created == 4


def test_the_scheduler_catches_up_a_missed_fire_once_after_downtime(orch: Orchestrator, root: Path) -> None:
    write(
        root / "schedules" / "nightly.yaml",
        SCHEDULE.replace('cron: "0 2 * * 1-5"', "interval: 1h").replace(
            "calendar: {country: DE, subdivision: BY}", "misfire: {policy: run_once, grace: 1h}"
        ),
    )
    now = datetime.now(UTC)
    first = service_for(orch, root)
    first.start()
    try:
        assert first._scheduler is not None
        first._scheduler.pause()
        # As if this scheduler had stopped three hours ago: the stored next run lies in the past.
        missed_from = first.schedules["nightly"].next_fire_times(now - timedelta(hours=3))[0]
        first._scheduler.modify_job("nightly", next_run_time=missed_from)
    finally:
        first.shutdown()
    expected_due = [
        moment for moment in first.schedules["nightly"].next_fire_times(missed_from, 6) if moment <= now
    ]
    expected_due.insert(0, missed_from)
    second = service_for(orch, root)
    second.start()
    try:
        deadline = time.monotonic() + 60
        while len(second.fires("nightly")) < len(expected_due) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        second.shutdown()
    fires = sorted(second.fires("nightly"), key=lambda f: f.fire_time)
    assert [f.status for f in fires] == ["missed"] * (len(expected_due) - 1) + ["done"]
    assert fires[-1].fire_time == expected_due[-1].astimezone(UTC)
    assert fires[-1].created == 4
    assert {reference.split("/")[0] for reference in scheduled_references(orch)} == {
        f"nightly@{fires[-1].fire_time:%Y-%m-%dT%H:%M:%SZ}"
    }
    assert second.next_job_time("nightly") is None  # shut down


def _scheduler_process(url: str, project_root: str, root: str, owner: str, go: Any, stop: Any) -> None:
    """One scheduler process: its own store and service, started when the test says go."""
    store = Orchestrator(url, project=Project(project_root), migrate=False)
    service = ScheduleService(store, engine=store.engine, root=Path(root), workflows=INPUTS, owner=owner)
    go.wait(60)
    service.start()
    stop.wait(90)
    service.shutdown()
    store.close()


# Scheduler processes on several machines share one PostgreSQL; SQLite is one machine's
# embedded store, so this (slowest) test runs on PostgreSQL only.
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_scheduler_processes_with_one_job_store_fire_each_case_once(
    orch: Orchestrator, contract_project: Project, root: Path
) -> None:
    write(
        root / "schedules" / "nightly.yaml",
        SCHEDULE.replace('cron: "0 2 * * 1-5"', "interval: 1h").replace(
            "calendar: {country: DE, subdivision: BY}", "misfire: {policy: run_all, grace: 3h}"
        ),
    )
    now = datetime.now(UTC)
    setup = service_for(orch, root)
    setup.start()
    assert setup._scheduler is not None
    setup._scheduler.pause()
    missed_from = setup.schedules["nightly"].next_fire_times(now - timedelta(hours=2, minutes=30))[0]
    setup._scheduler.modify_job("nightly", next_run_time=missed_from)
    setup.shutdown()
    due = [missed_from, *[m for m in setup.schedules["nightly"].next_fire_times(missed_from, 4) if m <= now]]

    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    processes = [
        context.Process(
            target=_scheduler_process,
            args=(orch.url, str(contract_project.root), str(root), f"scheduler-{n}", go, stop),
        )
        for n in range(2)
    ]
    for process in processes:
        process.start()
    try:
        go.set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            fires = setup.fires("nightly")
            if len(fires) == len(due) and all(f.status == "done" for f in fires):
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for process in processes:
            process.join(60)
    assert [process.exitcode for process in processes] == [0, 0]
    fires = sorted(setup.fires("nightly"), key=lambda f: f.fire_time)
    assert [(f.fire_time, f.status, f.created) for f in fires] == [
        (m.astimezone(UTC), "done", 4) for m in due
    ]
    references = scheduled_references(orch)
    assert len(references) == len(set(references)) == 4 * len(due)


# -- the schedule tables come with the migrations -----------------------------------------------


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a database nothing has touched yet (a schema of its own on PostgreSQL)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with postgres_schema("tandem_fresh") as schema:  # skips with the reason when there is no server
        yield schema.url


SCHEDULE_TABLES = {"schedule_fires", "schedule_states", JOBS_TABLE}


def schema_differences(engine: sa.Engine) -> list[Any]:
    """How the database's schedule tables differ from the service's and APScheduler's definitions."""
    expected = sa.MetaData()
    for table in schedules_metadata.tables.values():
        table.to_metadata(expected)
    SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE).jobs_t.to_metadata(expected)
    assert set(expected.tables) == SCHEDULE_TABLES

    def ours(name: str | None, kind: str, parent: Any) -> bool:
        return kind != "table" or name in SCHEDULE_TABLES

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        return list(compare_metadata(context, expected))


def create_tables_as_before_migrations(engine: sa.Engine) -> None:
    """What ``ScheduleService`` did on its first open before the tables had a migration."""
    jobs = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE).jobs_t
    with engine.begin() as connection:
        schedules_metadata.create_all(connection, checkfirst=True)
        jobs.create(connection, checkfirst=True)


def is_at_head(engine: sa.Engine) -> bool:
    """Whether the database carries the newest migration."""
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def test_a_fresh_database_gets_the_schedule_tables_from_the_migrations(
    fresh_url: str, contract_project: Project, root: Path
) -> None:
    store = Orchestrator(fresh_url, project=contract_project)
    try:
        assert set(sa.inspect(store.engine).get_table_names()) >= SCHEDULE_TABLES
        assert schema_differences(store.engine) == []
        service = service_for(store, root)
        assert service.fire("nightly", FIRE).created == 4
        service.pause("nightly", actor="ops:anna")
        assert service.is_paused("nightly")
        service.start()  # APScheduler's own create of schedule_jobs finds the table there
        assert service.next_job_time("nightly") is not None
        service.shutdown()
    finally:
        store.close()


def test_a_database_with_the_tables_of_the_old_create_all_upgrades(
    fresh_url: str, contract_project: Project, root: Path
) -> None:
    engine = db.create_engine(fresh_url)
    command.upgrade(db.alembic_config(engine), "0001")
    create_tables_as_before_migrations(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(states_table).values(
                schedule="nightly",
                paused=True,
                file_paused=False,
                changed_by="ops:anna",
                changed_at=datetime(2030, 1, 6, 12, 0),
            )
        )
    engine.dispose()
    store = Orchestrator(fresh_url, project=contract_project)
    try:
        assert is_at_head(store.engine)
        assert schema_differences(store.engine) == []
        service = service_for(store, root)
        assert service.is_paused("nightly")  # what ops decided before the upgrade is kept
        service.resume("nightly", actor="ops:anna")
        assert service.fire("nightly", FIRE).created == 4
    finally:
        store.close()


def _migrating_process(url: str, together: Any) -> None:
    """One process opening the database, as a scheduler or control room starting up would."""
    engine = db.create_engine(url, pool_size=1)
    together.wait(60)
    db.migrate(engine)
    engine.dispose()


def test_many_processes_migrating_a_fresh_database_at_once_all_succeed(
    fresh_url: str, contract_project: Project, root: Path
) -> None:
    # Processes, not threads: Alembic's ``op`` and ``context`` are per process.
    context = multiprocessing.get_context("spawn")
    together = context.Barrier(3)
    processes = [context.Process(target=_migrating_process, args=(fresh_url, together)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    store = Orchestrator(fresh_url, project=contract_project, migrate=False)
    try:
        assert is_at_head(store.engine)
        assert service_for(store, root).fire("nightly", FIRE).created == 4
    finally:
        store.close()
