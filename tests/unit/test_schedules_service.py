"""The schedule service on SQLite with a small case store that keeps references unique.

The contract suite (tests/contract/test_schedules.py) runs the same service against the
orchestrator's real store on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from orchestrator.schedules.fires import FireSummary, fire_reference
from orchestrator.schedules.service import ScheduleError, ScheduleService
from robots.language.inputs import validate_input
from robots.language.project import Project
from tests.conftest import ROOT, write

WORKFLOW = """
    name: address_change
    input:
      customer_id: {type: string, pattern: "C[0-9]{6}"}
      street: {type: string, min_length: 3}
      postal_code: {type: string, pattern: "[0-9]{5}"}
      city: {type: string}
    steps:
      - set: {x: 1}
    """

CSV = """
    customer_id,street,postal_code,city
    C000001,Hauptstr. 1,80331,Munich
    C000002,Ringweg 2,10115,Berlin
    C000003,Am Markt 3,2011,Hamburg
    C000004,Seeweg 4,20095,Hamburg
    """

SCHEDULE = """
    name: nightly
    workflow: address_change
    cron: "0 2 * * *"
    timezone: Europe/Berlin
    calendar: {country: DE, subdivision: BY}
    priority: 3
    deadline: 8h
    source:
      file: in/changes.csv
      key: customer_id
    """

FIRE = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class UniqueCases:
    """A case store that, like the real one, validates payloads and never creates a reference twice."""

    def __init__(self, project: Project, fail_at: int | None = None) -> None:
        self.project = project
        self.cases: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0
        self.fail_at = fail_at
        self._lock = threading.Lock()
        self._workflows: dict[str, Any] = {}

    def create_case(
        self,
        workflow: str,
        reference: str,
        payload: dict[str, Any],
        *,
        priority: int = 0,
        deadline: datetime | None = None,
        not_before: datetime | None = None,
        actor: str = "api",
        channel: str | None = None,
    ) -> tuple[Any, bool]:
        with self._lock:
            self.calls += 1
            if self.fail_at is not None and self.calls == self.fail_at:
                raise OperationalError("INSERT INTO cases", {}, Exception("database is locked"))
            if workflow not in self._workflows:
                self._workflows[workflow] = self.project.workflow(workflow)
            validate_input(self._workflows[workflow], payload)  # InputError lists the problems
            key = (workflow, reference)
            if key in self.cases:
                return self.cases[key], False
            case = {"payload": payload, "priority": priority, "deadline": deadline, "actor": actor}
            self.cases[key] = case
            return case, True


class Clock:
    """A clock the test sets."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write(tmp_path / "workflows" / "address_change.yaml", WORKFLOW)
    write(tmp_path / "schedules" / "nightly.yaml", SCHEDULE)
    write(tmp_path / "in" / "changes.csv", CSV)
    return tmp_path


@pytest.fixture
def cases(root: Path) -> UniqueCases:
    return UniqueCases(Project(root))


@pytest.fixture
def clock() -> Clock:
    return Clock(FIRE + timedelta(seconds=5))


def service(
    root: Path, cases: UniqueCases | None, clock: Callable[[], datetime], **options: Any
) -> ScheduleService:
    made = ScheduleService(
        cases, database_url=f"sqlite:///{root / 'tandem.db'}", root=root, clock=clock, **options
    )
    assert not made.problems, "\n".join(map(str, made.problems))
    return made


def test_a_fire_creates_a_case_per_row_and_rejects_the_bad_row(
    root: Path, cases: UniqueCases, clock: Clock
) -> None:
    summary = service(root, cases, clock).fire("nightly", FIRE)
    assert (summary.status, summary.total, summary.created, summary.existed, summary.rejected) == (
        "done",
        4,
        3,
        0,
        1,
    )
    assert summary.rejections[0].where == "line 4"
    assert summary.rejections[0].key == "C000003"
    assert "input.postal_code" in summary.rejections[0].reasons[0]
    reference = "nightly@2026-11-23T01:00:00Z/C000001"
    assert ("address_change", reference) in cases.cases
    case = cases.cases[("address_change", reference)]
    assert case["priority"] == 3
    assert case["deadline"] == FIRE + timedelta(hours=8)
    assert case["actor"] == "schedule:nightly"
    assert "3 created, 0 already existed, 1 rejected" in str(summary)
    assert "rejected line 4 (key C000003): input.postal_code" in str(summary)


def test_the_same_fire_twice_creates_nothing_more(root: Path, cases: UniqueCases, clock: Clock) -> None:
    first = service(root, cases, clock)
    first.fire("nightly", FIRE)
    again = service(root, cases, clock).fire("nightly", FIRE)
    assert again.status == "already_fired"
    assert (again.created, again.rejected) == (3, 1)  # what the first fire recorded
    assert len(cases.cases) == 3
    tomorrow = first.fire("nightly", FIRE + timedelta(days=1))
    assert tomorrow.created == 3
    assert len(cases.cases) == 6


def test_a_taken_over_fire_finds_its_cases_again(root: Path, cases: UniqueCases, clock: Clock) -> None:
    first = service(root, cases, clock)
    first.fire("nightly", FIRE)
    # Pretend the first scheduler died while running: its claim went stale.
    with first.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE schedule_fires SET status = 'running'")
    clock.at += timedelta(hours=1)
    rerun = service(root, cases, clock, stale_after=timedelta(minutes=10)).fire("nightly", FIRE)
    assert (rerun.status, rerun.created, rerun.existed, rerun.rejected) == ("done", 0, 3, 1)
    assert len(cases.cases) == 3


def test_a_running_fire_is_left_to_its_owner(root: Path, cases: UniqueCases, clock: Clock) -> None:
    first = service(root, cases, clock)
    first.fire("nightly", FIRE)
    with first.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE schedule_fires SET status = 'running'")
    other = service(root, cases, clock).fire("nightly", FIRE)
    assert other.status == "running_elsewhere"
    assert cases.calls == 4


def test_two_schedulers_firing_at_once_create_each_case_once(
    root: Path, cases: UniqueCases, clock: Clock
) -> None:
    services = [service(root, cases, clock, owner=f"scheduler-{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    results: list[FireSummary] = []

    def fire(one: ScheduleService) -> None:
        barrier.wait()
        results.append(one.fire("nightly", FIRE))

    threads = [threading.Thread(target=fire, args=(one,)) for one in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in results) in (["already_fired", "done"], ["done", "running_elsewhere"])
    assert len(cases.cases) == 3
    assert cases.calls == 4


def test_pause_skips_scheduled_fires_but_not_run_now(root: Path, cases: UniqueCases, clock: Clock) -> None:
    one = service(root, cases, clock)
    one.pause("nightly", actor="ops:anna")
    other = service(root, cases, clock)  # another process sees the pause
    assert other.is_paused("nightly")
    assert other.list_schedules()[0].next_fire is None
    skipped = other.fire("nightly", FIRE)
    assert (skipped.status, skipped.message) == ("skipped", "skipped: paused")
    manual = other.run_now("nightly")
    assert (manual.status, manual.kind, manual.created) == ("done", "manual", 3)
    assert ("address_change", fire_reference("nightly", clock.at, "C000001")) in cases.cases
    other.resume("nightly")
    listed = one.list_schedules()[0]
    assert not listed.paused
    assert listed.next_fire is not None and listed.next_fire.astimezone(UTC) == datetime(
        2026, 11, 24, 1, tzinfo=UTC
    )
    assert listed.last_fire is not None and listed.last_fire.kind == "manual"


def test_the_files_paused_flag_wins_once_it_changes(root: Path, cases: UniqueCases, clock: Clock) -> None:
    one = service(root, cases, clock)
    one.resume("nightly")
    write(root / "schedules" / "nightly.yaml", SCHEDULE + "paused: true\n")
    assert service(root, cases, clock).is_paused("nightly")


def test_a_holiday_skips_the_fire_and_records_why(root: Path, cases: UniqueCases, clock: Clock) -> None:
    christmas = datetime(2026, 12, 25, 1, 0, tzinfo=UTC)
    one = service(root, cases, clock)
    summary = one.fire("nightly", christmas)
    assert summary.status == "skipped"
    assert "public holiday Christmas Day on 2026-12-25 (DE-BY)" in summary.message
    assert cases.calls == 0
    assert one.fires("nightly")[0].status == "skipped"


def test_run_once_after_downtime_fires_once_and_records_the_missed(
    root: Path, cases: UniqueCases, clock: Clock
) -> None:
    write(root / "schedules" / "nightly.yaml", SCHEDULE + "misfire: {policy: run_once, grace: 3d}\n")
    one = service(root, cases, clock)
    due = [FIRE - timedelta(days=2), FIRE - timedelta(days=1), FIRE]
    summaries = one.fire_due("nightly", due, now=FIRE + timedelta(hours=5))
    assert [s.status for s in summaries] == ["missed", "missed", "done"]
    assert "coalesced into the fire of 2026-11-23 01:00:00 UTC" in summaries[0].message
    assert len(cases.cases) == 3
    assert {reference.split("/")[0] for _, reference in cases.cases} == {"nightly@2026-11-23T01:00:00Z"}


def test_skip_drops_a_late_fire(root: Path, cases: UniqueCases, clock: Clock) -> None:
    write(root / "schedules" / "nightly.yaml", SCHEDULE + "misfire: {policy: skip}\n")
    one = service(root, cases, clock)
    summaries = one.fire_due("nightly", [FIRE], now=FIRE + timedelta(minutes=5))
    assert [s.status for s in summaries] == ["missed"]
    assert cases.calls == 0


def test_a_missing_file_fails_the_fire_and_a_rerun_completes_it(
    root: Path, cases: UniqueCases, clock: Clock
) -> None:
    (root / "in" / "changes.csv").rename(root / "in" / "later.csv")
    one = service(root, cases, clock)
    failed = one.fire("nightly", FIRE)
    assert failed.status == "failed"
    assert "in/changes.csv does not exist" in failed.message
    (root / "in" / "later.csv").rename(root / "in" / "changes.csv")
    assert one.fire("nightly", FIRE).created == 3


def test_a_store_failure_stops_the_fire_and_a_rerun_finishes_it(root: Path, clock: Clock) -> None:
    flaky = UniqueCases(Project(root), fail_at=2)
    one = service(root, flaky, clock)
    failed = one.fire("nightly", FIRE)
    assert failed.status == "failed"
    assert "the case store failed at row 2" in failed.message
    assert len(flaky.cases) == 1
    rerun = one.fire("nightly", FIRE)
    assert (rerun.status, rerun.created, rerun.existed, rerun.rejected) == ("done", 2, 1, 1)


def test_unknown_schedule_and_missing_store_are_clear(root: Path, clock: Clock) -> None:
    one = service(root, None, clock)
    with pytest.raises(ScheduleError, match="no schedule named 'nighty'; did you mean 'nightly'"):
        one.fire("nighty", FIRE)
    with pytest.raises(ScheduleError, match="no case store was given"):
        one.run_now("nightly")


def test_list_and_progress(root: Path, cases: UniqueCases, clock: Clock) -> None:
    one = service(root, cases, clock)
    seen: list[tuple[int, int]] = []
    one.run_now("nightly", progress=lambda p: seen.append((p.done, p.total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    [status] = one.list_schedules()
    assert (status.name, status.workflow, status.paused) == ("nightly", "address_change", False)
    assert status.when == "cron 0 2 * * *, DE-BY holidays"
    assert status.last_fire is not None and status.last_fire.created == 3


def test_the_shipped_schedules_data_become_cases_without_rejections(tmp_path: Path) -> None:
    project = Project(ROOT)
    # The inputs are checked by test_the_shipped_schedules_load_against_the_project; here the
    # rows of the shipped data files meet the workflows' real input validation.
    names = {name: None for name in project.workflow_files()}
    shipped = ScheduleService(
        UniqueCases(project), database_url=f"sqlite:///{tmp_path / 'tandem.db'}", root=ROOT, workflows=names
    )
    assert not shipped.problems, "\n".join(map(str, shipped.problems))
    for name in shipped.schedules:
        summary = shipped.run_now(name)
        assert summary.status == "done", str(summary)
        assert summary.created >= 3 and summary.rejected == 0, str(summary)


def test_an_abandoned_fire_is_finished_by_recover(root: Path, cases: UniqueCases, clock: Clock) -> None:
    crashed = service(root, cases, clock, owner="crashed")
    crashed.fire("nightly", FIRE)
    with crashed.engine.begin() as connection:
        # As if it had died after the first two rows: still "running", no heartbeat since.
        connection.exec_driver_sql("UPDATE schedule_fires SET status = 'running', created = 2")
    for key in ("C000002", "C000004"):
        del cases.cases[("address_change", fire_reference("nightly", FIRE, key))]
    survivor = service(root, cases, clock, owner="survivor")
    assert survivor.recover() == []  # the heartbeat is fresh: its owner may still be working
    clock.at += timedelta(minutes=11)
    [finished] = survivor.recover()
    assert (finished.status, finished.created, finished.existed, finished.rejected) == ("done", 2, 1, 1)
    assert survivor.fires("nightly")[0].status == "done"
    assert len(cases.cases) == 3


def test_a_very_long_key_still_makes_a_unique_reference_that_fits() -> None:
    base = "K" * 300
    first, second = fire_reference("nightly", FIRE, base + "1"), fire_reference("nightly", FIRE, base + "2")
    assert first != second
    assert len(first) <= 200 and len(second) <= 200


def test_changed_files_are_read_again_when_the_service_is_asked(
    root: Path, cases: UniqueCases, clock: Clock
) -> None:
    dashboard = service(root, cases, clock)
    write(root / "schedules" / "weekly.yaml", SCHEDULE.replace("name: nightly", "name: weekly"))
    assert [status.name for status in dashboard.list_schedules()] == ["nightly", "weekly"]
    (root / "schedules" / "nightly.yaml").unlink()
    assert [status.name for status in dashboard.list_schedules()] == ["weekly"]
    with pytest.raises(ScheduleError, match="no schedule named 'nightly'"):
        dashboard.fire("nightly", FIRE)


def test_old_rejection_details_are_purged_but_the_counts_stay(
    root: Path, cases: UniqueCases, clock: Clock
) -> None:
    one = service(root, cases, clock)
    one.fire("nightly", FIRE)
    one.fire("nightly", FIRE + timedelta(days=40))
    assert one.purge_rejections(timedelta(days=30), now=FIRE + timedelta(days=41)) == 1
    newer, older = one.fires("nightly")
    assert (older.rejected, older.rejections) == (1, [])
    assert (older.created, older.status) == (3, "done")
    assert newer.rejected == 1 and "input.postal_code" in newer.rejections[0].reasons[0]
