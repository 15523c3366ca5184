"""The schedule language: loading, located errors, cron in a time zone, calendars, misfires."""

from __future__ import annotations

import functools
import pickle
import re
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.schedules.fires import select_fire_times
from orchestrator.schedules.loading import (
    WorkflowInputs,
    load_schedule,
    load_schedules,
    parse_schedule,
    project_workflows,
)
from orchestrator.schedules.model import Schedule, parse_span
from robots.errors import DefinitionError
from tests.conftest import ROOT, write

WORKFLOWS = {"address_change": frozenset({"customer_id", "street", "postal_code", "city", "email"})}


def schedule(text: str) -> Schedule:
    """A schedule written inline that must load without problems."""
    loaded, problems = parse_schedule(textwrap.dedent(text).lstrip("\n"), "s.yaml", workflows=WORKFLOWS)
    assert not problems, "\n".join(map(str, problems))
    assert loaded is not None
    return loaded


def problems_of(text: str) -> list[str]:
    """Each problem as ``line:column: message (hint)``."""
    loaded, problems = parse_schedule(textwrap.dedent(text).lstrip("\n"), "s.yaml", workflows=WORKFLOWS)
    assert loaded is None
    return [f"{p.line}:{p.column}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems]


NIGHTLY = textwrap.dedent(
    """
    name: nightly
    workflow: address_change
    cron: "0 2 * * *"
    timezone: Europe/Berlin
    source: {payload: {customer_id: C000001, street: Main St 1, postal_code: "80331", city: Munich}}
    """
)


def test_a_complete_schedule_loads_with_every_setting() -> None:
    loaded = schedule(
        """
        name: activations
        description: Contract activations from the night's export.
        workflow: address_change
        cron: "30 2 * * 1-5"
        timezone: Europe/Berlin
        calendar: {country: DE, subdivision: BY, weekdays_only: true, closed: [2026-12-24]}
        paused: true
        priority: 5
        deadline: 1d2h
        misfire: {policy: run_all, grace: 3h}
        source:
          file: "in/activations-{fire:%Y-%m-%d}.csv"
          delimiter: ";"
          columns: {customer_id: Kundennummer, street: Strasse}
          key: customer_id
          constants: {city: Munich}
        """
    )
    assert loaded.deadline == timedelta(days=1, hours=2)
    assert loaded.misfire.grace_time == timedelta(hours=3)
    assert loaded.source.kind == "file"
    assert loaded.source.key == ("customer_id",)
    assert loaded.calendar is not None and loaded.calendar.closed == (date(2026, 12, 24),)
    assert loaded.when() == "cron 30 2 * * 1-5, DE-BY holidays, weekdays, 1 closed days"


def test_cron_fires_at_local_time_across_daylight_saving() -> None:
    nightly = schedule(NIGHTLY)
    winter = nightly.next_fire_times(datetime(2026, 1, 10, 12, tzinfo=UTC))[0]
    summer = nightly.next_fire_times(datetime(2026, 7, 10, 12, tzinfo=UTC))[0]
    assert winter.astimezone(UTC) == datetime(2026, 1, 11, 1, 0, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2026, 7, 11, 0, 0, tzinfo=UTC)


def test_a_nightly_batch_runs_once_on_the_nights_the_clocks_change() -> None:
    nightly = schedule(NIGHTLY.replace('"0 2 * * *"', '"30 2 * * *"'))
    autumn = nightly.next_fire_times(datetime(2026, 10, 24, 12, tzinfo=UTC), count=3)
    assert [m.astimezone(UTC).strftime("%m-%d %H:%M") for m in autumn] == [
        "10-25 00:30",
        "10-26 01:30",
        "10-27 01:30",
    ]
    spring = nightly.next_fire_times(datetime(2026, 3, 28, 12, tzinfo=UTC), count=2)
    assert [m.astimezone(UTC).strftime("%m-%d %H:%M") for m in spring] == ["03-29 01:30", "03-30 00:30"]
    # Every half hour means every half hour of real time, also in the hour that repeats.
    half_hourly = schedule(NIGHTLY.replace('"0 2 * * *"', '"*/30 * * * *"'))
    night = half_hourly.next_fire_times(datetime(2026, 10, 24, 23, 50, tzinfo=UTC), count=4)
    assert [m.astimezone(UTC).strftime("%H:%M") for m in night] == ["00:00", "00:30", "01:00", "01:30"]


def test_cron_weekdays_are_read_as_crontab_reads_them() -> None:
    # APScheduler alone would read 1-5 as Tuesday to Saturday.
    weekdays = schedule(NIGHTLY.replace('"0 2 * * *"', '"0 9 * * 1-5"'))
    saturday = datetime(2026, 3, 28, 12, tzinfo=UTC)
    fires = weekdays.next_fire_times(saturday, count=5)
    assert [moment.strftime("%a") for moment in fires] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    sundays = schedule(NIGHTLY.replace('"0 2 * * *"', '"0 9 * * 0"'))
    assert {m.strftime("%a") for m in sundays.next_fire_times(saturday, count=3)} == {"Sun"}
    also_sundays = schedule(NIGHTLY.replace('"0 2 * * *"', '"0 9 * * 6-7"'))
    assert [m.strftime("%a") for m in also_sundays.next_fire_times(saturday, count=2)] == ["Sun", "Sat"]


def test_a_public_holiday_is_not_a_fire_time_and_says_why() -> None:
    daily = schedule(NIGHTLY + "calendar: {country: DE, subdivision: BY}\n")
    fires = daily.next_fire_times(datetime(2026, 12, 23, 12, tzinfo=UTC), count=3)
    assert [m.date() for m in fires] == [date(2026, 12, 24), date(2026, 12, 27), date(2026, 12, 28)]
    reason = daily.closed_reason(datetime(2026, 12, 25, 1, 0, tzinfo=UTC))
    assert reason is not None and "Christmas Day" in reason and "DE-BY" in reason
    # Epiphany is a holiday in Bavaria, not in Berlin.
    assert daily.closed_reason(datetime(2026, 1, 6, 1, tzinfo=UTC)) is not None
    berlin_state = schedule(NIGHTLY + "calendar: {country: DE, subdivision: BE}\n")
    assert berlin_state.closed_reason(datetime(2026, 1, 6, 1, tzinfo=UTC)) is None


def test_weekdays_only_and_extra_closed_days() -> None:
    shop = schedule(NIGHTLY + "calendar: {weekdays_only: true, closed: [2026-03-31]}\n")
    fires = shop.next_fire_times(datetime(2026, 3, 27, 12, tzinfo=UTC), count=2)
    assert [m.date() for m in fires] == [date(2026, 3, 30), date(2026, 4, 1)]


def test_interval_fire_times_are_anchored_so_every_scheduler_agrees() -> None:
    every = schedule(NIGHTLY.replace('cron: "0 2 * * *"', "interval: 15m"))
    first = every.next_fire_times(datetime(2026, 5, 1, 10, 7, 31, tzinfo=UTC), count=2)
    assert [m.astimezone(UTC).strftime("%H:%M:%S") for m in first] == ["10:15:00", "10:30:00"]


def test_an_interval_start_is_local_time_unless_it_names_its_offset() -> None:
    local = schedule(NIGHTLY.replace('cron: "0 2 * * *"', "interval: 2h\nstart: 2026-01-01T07:00:00"))
    utc = schedule(NIGHTLY.replace('cron: "0 2 * * *"', "interval: 2h\nstart: 2026-01-01T07:00:00Z"))
    after = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert local.next_fire_times(after)[0].astimezone(UTC).hour == 10  # 11:00 Berlin
    assert utc.next_fire_times(after)[0].astimezone(UTC).hour == 11


def test_the_trigger_survives_the_job_store() -> None:
    daily = schedule(NIGHTLY + "calendar: {country: DE}\n")
    trigger = pickle.loads(pickle.dumps(daily.trigger()))
    nxt = trigger.get_next_fire_time(None, datetime(2026, 12, 24, 12, tzinfo=UTC))
    assert nxt.date() == date(2026, 12, 27)


def test_durations() -> None:
    assert parse_span("90s") == timedelta(seconds=90)
    assert parse_span("1h30m") == timedelta(minutes=90)
    assert parse_span("2d") == timedelta(days=2)
    assert parse_span(45) == timedelta(seconds=45)
    for bad in ("soon", "5 parsecs", True, -1):
        with pytest.raises(ValueError, match="duration"):
            parse_span(bad)


def test_errors_are_located_and_say_how_to_fix() -> None:
    found = problems_of(
        """
        name: nightly
        workflow: address_change
        cron: "0 2 * *"
        timezone: Europe/Berlinn
        calendar: {country: DE, weekday_only: true}
        misfire: {policy: later}
        source: {payload: {}}
        retries: 3
        """
    )
    text = "\n".join(found)
    assert re.search(r"^3:1: cron '0 2 \* \*': a cron line has 5 fields", text, re.M)
    assert re.search(r"^4:1: timezone: unknown time zone 'Europe/Berlinn'", text, re.M)
    assert re.search(r"^5:25: unknown key 'calendar.weekday_only'.*did you mean 'weekdays_only'", text, re.M)
    assert re.search(r"^6:11: misfire.policy: .*\(use one of 'run_once', 'run_all' or 'skip'\)", text, re.M)
    assert re.search(r"^8:1: unknown key 'retries' in the schedule", text, re.M)


def test_workflow_and_fields_are_checked_against_the_project() -> None:
    found = problems_of(
        """
        name: nightly
        workflow: adress_change
        cron: "0 2 * * *"
        source: {payload: {}}
        """
    )
    assert found == ["2:1: no workflow named 'adress_change' (did you mean 'address_change'?)"]
    found = problems_of(
        """
        name: nightly
        workflow: address_change
        cron: "0 2 * * *"
        source:
          file: in/x.csv
          columns: {customer: Kunde, street: Strasse}
        """
    )
    assert found == [
        "6:13: 'customer' is not an input of workflow 'address_change' (did you mean 'customer_id'?)"
    ]


def test_source_needs_exactly_one_kind_and_timing_exactly_one_of_cron_and_interval() -> None:
    found = problems_of(
        """
        name: nightly
        workflow: address_change
        source: {file: in/a.csv, payload: {}}
        """
    )
    assert any("exactly one of 'cron' and 'interval'" in p for p in found)
    assert any(p.startswith("3:1: a source has exactly one of file, query and payload") for p in found)
    assert problems_of(NIGHTLY.replace("payload: {", "file: in/a.txt, x: {"))[0].startswith(
        "5:10: source.file: cannot read .txt"
    )


def test_a_calendar_that_closes_every_fire_day_is_refused() -> None:
    found = problems_of(NIGHTLY.replace('"0 2 * * *"', '"0 2 * * 6"') + "calendar: {weekdays_only: true}\n")
    assert found == [
        "6:1: this schedule never fires: its calendar closes every day it would fire on "
        "(check cron weekdays against calendar.weekdays_only and calendar.closed)"
    ]


def test_bad_country_and_subdivision() -> None:
    found = problems_of(NIGHTLY + "calendar: {country: XX}\n")
    assert found[0].startswith("6:12: calendar.country: no holiday calendar for country 'XX'")
    found = problems_of(NIGHTLY + "calendar: {country: DE, subdivision: ZZ}\n")
    assert "DE has no subdivision 'ZZ'" in found[0]


def test_a_folder_loads_every_good_file_and_reports_the_rest(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", NIGHTLY)
    write(tmp_path / "b.yaml", NIGHTLY)
    write(tmp_path / "c.yaml", NIGHTLY.replace("nightly", "other").replace("cron:", "cronn:"))
    loaded, problems = load_schedules(tmp_path, workflows=WORKFLOWS)
    assert list(loaded) == ["nightly"]
    messages = [f"{Path(p.file).name}:{p.line}: {p.message}" for p in problems]
    assert any(m.startswith("b.yaml:1: schedule name 'nightly' is already used by") for m in messages)
    assert any(m.startswith("c.yaml:3: unknown key 'cronn'") for m in messages)
    with pytest.raises(DefinitionError, match=r"c\.yaml:3:1"):
        load_schedule(tmp_path / "c.yaml", workflows=WORKFLOWS)


def test_a_missing_source_file_is_a_problem_for_validate_only(tmp_path: Path) -> None:
    body = NIGHTLY.replace(
        'source: {payload: {customer_id: C000001, street: Main St 1, postal_code: "80331", city: Munich}}',
        "source: {file: in/today.csv, key: customer_id}",
    )
    write(tmp_path / "schedules" / "nightly.yaml", body)
    # A scheduler loads it: the file is read at fire time and may arrive until then.
    loaded, problems = load_schedules(tmp_path / "schedules", workflows=WORKFLOWS)
    assert list(loaded) == ["nightly"] and problems == []
    # validate (root given) says it is not there.
    loaded, problems = load_schedules(tmp_path / "schedules", workflows=WORKFLOWS, root=tmp_path)
    assert loaded == {}
    assert [(p.line, p.column, p.message) for p in problems] == [
        (5, 10, f"source file {tmp_path / 'in' / 'today.csv'} does not exist")
    ]
    write(tmp_path / "in" / "today.csv", "customer_id\nC000001\n")
    loaded, problems = load_schedules(tmp_path / "schedules", workflows=WORKFLOWS, root=tmp_path)
    assert list(loaded) == ["nightly"] and problems == []


def test_the_shipped_schedules_load_against_the_project() -> None:
    loaded, problems = load_schedules(ROOT / "schedules", workflows=_project_inputs(), root=ROOT)
    assert not problems, "\n".join(map(str, problems))
    assert loaded


@functools.cache
def _project_inputs() -> WorkflowInputs:
    return project_workflows(ROOT)


_EXAMPLE = re.compile(r"^```yaml schedule\n(.*?)^```", re.S | re.M)


def _doc_examples() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "schedules.md").read_text(encoding="utf-8")
    return [
        (f"schedules.md:{text[: m.start()].count(chr(10)) + 1}", m.group(1)) for m in _EXAMPLE.finditer(text)
    ]


@pytest.mark.parametrize(("where", "body"), _doc_examples(), ids=[w for w, _ in _doc_examples()])
def test_every_documented_example_loads(where: str, body: str) -> None:
    loaded, problems = parse_schedule(body, where, workflows=_project_inputs())
    assert not problems, "\n".join(map(str, problems))
    assert loaded is not None


def test_the_documentation_has_examples() -> None:
    assert len(_doc_examples()) >= 4


# -- misfire policy ---------------------------------------------------------------------------------

HOURLY = NIGHTLY.replace('cron: "0 2 * * *"', "interval: 1h")
T = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
DUE = [T - timedelta(hours=3), T - timedelta(hours=2), T - timedelta(minutes=30)]


def test_run_once_coalesces_the_fires_within_grace_into_the_latest() -> None:
    policy = schedule(HOURLY + "misfire: {policy: run_once, grace: 1h}\n")
    assert select_fire_times(policy, DUE, T) == ([DUE[2]], DUE[:2])


def test_run_all_catches_up_each_fire_within_grace_oldest_first() -> None:
    policy = schedule(HOURLY + "misfire: {policy: run_all, grace: 150m}\n")
    assert select_fire_times(policy, list(reversed(DUE)), T) == ([DUE[1], DUE[2]], [DUE[0]])


def test_skip_runs_only_an_on_time_fire() -> None:
    policy = schedule(HOURLY + "misfire: {policy: skip}\n")
    assert policy.misfire.grace_time == timedelta(minutes=1)
    assert select_fire_times(policy, DUE, T) == ([], DUE)
    on_time = [*DUE, T - timedelta(seconds=20)]
    assert select_fire_times(policy, on_time, T) == ([on_time[-1]], DUE)


def test_nothing_runs_when_every_fire_is_older_than_grace() -> None:
    policy = schedule(HOURLY + "misfire: {grace: 10m}\n")
    assert select_fire_times(policy, DUE, T) == ([], DUE)
