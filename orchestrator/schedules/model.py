"""The schedule language: YAML -> ``Schedule``, every problem located to file:line:column.

A schedule says *when* (cron or interval, in a time zone, on the days a business calendar
allows) a *source* (a CSV/Excel file, a SQL query, or one fixed payload) is turned into
cases of one workflow. This module is only the model and its loading; firing lives in
``orchestrator.schedules.service``. See ``docs/schedules.md`` for the language with examples.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from robots.errors import DefinitionError, Problem
from robots.language import expressions
from robots.language.model import NAME_PATTERN
from robots.language.registry import suggest
from robots.language.yamlsource import PathKey, Source, load_yaml, load_yaml_file

# -- durations ---------------------------------------------------------------------------------

_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_span(value: Any) -> timedelta:
    """A ``timedelta`` from ``90s``, ``15m``, ``1h30m``, ``2d``, ``1w`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 15m, 2h or 1d, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.replace(" ", "")
        parts = _SPAN_PART.findall(text)
        if parts and "".join(number + unit for number, unit in parts) == text:
            return timedelta(seconds=sum(float(number) * _UNIT[unit] for number, unit in parts))
    raise ValueError(f"expected a duration like 90s, 15m, 1h30m, 2d or 1w, got {value!r}")


Span = Annotated[timedelta, BeforeValidator(parse_span)]


def _text_span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- cron ----------------------------------------------------------------------------------------

_CRON_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _cron_day(text: str) -> int:
    lowered = text.strip().lower()
    if lowered in _CRON_DAYS:
        return _CRON_DAYS.index(lowered)
    if not lowered.isdigit():
        raise ValueError(f"day of week {text!r} is not 0-7 or a day name (mon, tue...)")
    number = int(lowered)
    if not 0 <= number <= 7:
        raise ValueError(f"day of week {text!r} is outside 0-7 (0 and 7 are Sunday)")
    return number % 7


def _cron_weekdays(field: str) -> str:
    """Crontab's day-of-week field (0/7 = Sunday) in APScheduler's names.

    APScheduler 3 reads ``1-5`` as Tuesday-Saturday (it counts from Monday = 0), so a crontab
    copied from elsewhere would fire on the wrong days; we translate to day names instead.
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in day of week {part!r}")
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            start, end = body.split("-", 1)
            first, last = _cron_day(start), _cron_day(end)
            if end.strip() == "7":
                last = 7
        else:
            first = last = _cron_day(body)
        if last < first:
            raise ValueError(f"day range {body!r} runs backwards; write it as two parts, e.g. 5-6,0")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_DAYS[day] for day in sorted(days))


def cron_trigger(expression: str, zone: tzinfo) -> CronTrigger:
    """An APScheduler trigger from a five-field crontab line, read the way crontab reads it."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron line has 5 fields (minute hour day month weekday), got {len(fields)} in {expression!r}"
        )
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_cron_weekdays(weekday),
        timezone=zone,
    )


# -- the model -----------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CalendarSpec(_Frozen):
    """The days a schedule may fire on; a fire on any other day is skipped (and recorded)."""

    country: str | None = Field(
        None, description="ISO country code whose public holidays are closed days (DE, AT, FR, US...)."
    )
    subdivision: str | None = Field(
        None, description="State / region of the country for regional holidays (BY, NW, CA...)."
    )
    weekdays_only: bool = Field(False, description="Saturdays and Sundays are closed.")
    closed: tuple[date, ...] = Field((), description="Extra closed days (company holidays), YYYY-MM-DD.")

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        supported = holidays.list_supported_countries()
        if value.upper() not in supported:
            raise ValueError(
                f"no holiday calendar for country {value!r} {suggest(value.upper(), set(supported))}"
            )
        return value.upper()

    @model_validator(mode="after")
    def _known_subdivision(self) -> CalendarSpec:
        """The subdivision must belong to the country (the holidays package knows them)."""
        if self.subdivision is not None:
            if self.country is None:
                raise ValueError("a subdivision needs a country")
            known = holidays.list_supported_countries()[self.country]
            if self.subdivision not in known:
                raise ValueError(
                    f"{self.country} has no subdivision {self.subdivision!r}; known: {', '.join(known)}"
                )
        return self

    @cached_property
    def _holidays(self) -> holidays.HolidayBase | None:
        if self.country is None:
            return None
        return holidays.country_holidays(self.country, subdiv=self.subdivision)

    def closed_reason(self, day: date) -> str | None:
        """Why ``day`` is closed ("public holiday: Christmas Day (DE-BY)"), or None if open."""
        if day in self.closed:
            return f"closed day {day.isoformat()} (calendar.closed)"
        if self.weekdays_only and day.weekday() >= 5:
            return f"{day:%A} {day.isoformat()} (calendar.weekdays_only)"
        table = self._holidays
        if table is not None and day in table:
            region = f"{self.country}-{self.subdivision}" if self.subdivision else str(self.country)
            return f"public holiday {table.get(day)} on {day.isoformat()} ({region})"
        return None


class MisfireSpec(_Frozen):
    """What happens to fires that were due while no scheduler ran (or it was too busy).

    A fire is *missed* when it is handled more than ``grace`` after its time.

    * ``run_once`` (default): all fires still within ``grace`` coalesce into one run, for the
      latest of them; older ones are recorded as missed. Default grace: 1 hour.
    * ``run_all``: each fire still within ``grace`` runs, oldest first (each makes its own
      cases). Default grace: 1 hour.
    * ``skip``: no catching up: only the latest due fire runs, and only if it is at most
      ``grace`` late. Default grace: 1 minute.
    """

    policy: Literal["run_once", "run_all", "skip"] = Field(
        "run_once", description="run_once, run_all or skip."
    )
    grace: Span | None = Field(None, description="How late a fire may still run (default 1h; skip: 1m).")

    @property
    def grace_time(self) -> timedelta:
        """``grace`` with the policy's default filled in."""
        if self.grace is not None:
            return self.grace
        return timedelta(minutes=1) if self.policy == "skip" else timedelta(hours=1)


class RowsSpec(_Frozen):
    """How the rows of a file or a query become payloads (shared by both row sources)."""

    columns: dict[str, str] | None = Field(
        None,
        description="payload field -> column name. Without it every column becomes a field of its own name.",
    )
    key: tuple[str, ...] = Field(
        (),
        description="Payload field(s) that identify a row across runs; default: the row number.",
    )
    constants: dict[str, Any] = Field({}, description="Fields added to every payload.")

    @field_validator("key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class FileSource(RowsSpec):
    """Rows of a CSV or Excel (.xlsx) file; ``file`` may name the fire date: ``in/{fire:%Y%m%d}.csv``."""

    kind: Literal["file"] = "file"
    file: str = Field(description="Path (relative to the project folder); .csv, .xlsx or .xlsm.")
    sheet: str | None = Field(None, description="Excel: the worksheet (default: the first).")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV: the field separator.")
    encoding: str = Field("utf-8-sig", description="CSV: the text encoding.")

    @field_validator("file")
    @classmethod
    def _supported_suffix(cls, value: str) -> str:
        suffix = Path(value).suffix.lower()
        if suffix not in (".csv", ".xlsx", ".xlsm"):
            raise ValueError(
                f"cannot read {suffix or 'a file without suffix'}: use a .csv, .xlsx or .xlsm file"
            )
        return value

    def file_for(self, local_fire: datetime) -> str:
        """``file`` with ``{fire:...}`` filled in for a fire (local time of the schedule).

        ``ValueError`` says what is wrong with a placeholder other than ``{fire}``.
        """
        try:
            return self.file.format(fire=local_fire)
        except (KeyError, IndexError, AttributeError, ValueError) as error:
            raise ValueError(
                f"source.file {self.file!r} has a bad placeholder ({error}); "
                "the only one is {fire}, e.g. in/{fire:%Y-%m-%d}.csv"
            ) from None


class QuerySource(RowsSpec):
    """Rows of a SQL query; it may use ``:fire_time``, ``:fire_date`` and ``:schedule``."""

    kind: Literal["query"] = "query"
    query: str = Field(min_length=1, description="A SELECT; each result row becomes a payload.")
    url: str = Field(description="SQLAlchemy URL of the database, e.g. ${BILLING_DB_URL}.")


class PayloadSource(_Frozen):
    """One case per fire with a fixed payload."""

    kind: Literal["payload"] = "payload"
    payload: dict[str, Any] = Field(description="The case's input.")


SourceSpec = FileSource | QuerySource | PayloadSource
_SOURCE_KINDS: dict[str, type[BaseModel]] = {
    "file": FileSource,
    "query": QuerySource,
    "payload": PayloadSource,
}


class Schedule(_Frozen):
    """One schedule: when a source is turned into cases of a workflow."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique name; part of every case reference.")
    description: str = ""
    workflow: str = Field(description="The workflow each case runs.")
    cron: str | None = Field(None, description="Crontab line: minute hour day month weekday.")
    interval: Span | None = Field(None, description="Fire every so long (15m, 2h, 1d).")
    start: datetime | None = Field(
        None,
        description="Interval anchor (local time); default 2000-01-01 00:00, so every scheduler "
        "computes the same fire times.",
    )
    timezone: str = Field("UTC", description="IANA time zone of the cron line and the calendar.")
    calendar: CalendarSpec | None = Field(None, description="Business days; other days are skipped.")
    paused: bool = Field(False, description="Paused from the start (ops can resume).")
    priority: int = Field(0, description="Priority of the cases created.")
    deadline: Span | None = Field(None, description="Each case's deadline: this long after the fire time.")
    misfire: MisfireSpec = Field(MisfireSpec(), description="What happens to missed fires.")
    source: SourceSpec = Field(PayloadSource(payload={}), description="What turns into cases.")
    file: str = Field("<schedule>", description="Where the schedule was written.")
    line: int = 1

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Berlin") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return ZoneInfo(self.timezone)

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger: cron or interval, skipping the calendar's closed days."""
        inner: BaseTrigger
        if self.cron is not None:
            inner = cron_trigger(self.cron, self.zone)
        else:
            assert self.interval is not None
            anchor = self.start or datetime(2000, 1, 1)
            if anchor.tzinfo is None:  # local time of the schedule; an explicit offset is kept
                anchor = anchor.replace(tzinfo=self.zone)
            inner = IntervalTrigger(
                seconds=self.interval.total_seconds(), start_date=anchor, timezone=self.zone
            )
        fixed_hours = self.cron is not None and "*" not in self.cron.split()[1]
        return BusinessDayTrigger(inner, self.calendar, self.timezone, once_per_wall_time=fixed_hours)

    def closed_reason(self, fire_time: datetime) -> str | None:
        """Why the calendar does not allow a fire at ``fire_time`` (None when it does)."""
        if self.calendar is None:
            return None
        return self.calendar.closed_reason(fire_time.astimezone(self.zone).date())

    def next_fire_times(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next ``count`` fire times after ``after`` (in the schedule's zone), closed days left out."""
        trigger = self.trigger()
        found: list[datetime] = []
        previous: datetime | None = None
        now = _just_after(after)
        while len(found) < count:
            nxt = trigger.get_next_fire_time(previous, now)
            if nxt is None:
                break
            found.append(nxt)
            previous, now = nxt, _just_after(nxt)
        return found

    def fingerprint(self) -> str:
        """A hash of everything that decides the fire times (changes -> the stored job is replaced)."""
        parts = {
            "trigger": 2,  # BusinessDayTrigger's version: a new one replaces the stored jobs
            "cron": self.cron,
            "interval": self.interval.total_seconds() if self.interval else None,
            "start": self.start.isoformat() if self.start else None,
            "timezone": self.timezone,
            "calendar": self.calendar.model_dump(mode="json") if self.calendar else None,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def when(self) -> str:
        """The timing in words for listings: ``cron 0 2 * * 1-5, DE-BY holidays`` (zone apart)."""
        text = f"cron {self.cron}" if self.cron else f"every {_text_span(self.interval or timedelta())}"
        if self.calendar:
            if self.calendar.country:
                region = self.calendar.country + (
                    f"-{self.calendar.subdivision}" if self.calendar.subdivision else ""
                )
                text += f", {region} holidays"
            if self.calendar.weekdays_only:
                text += ", weekdays"
            if self.calendar.closed:
                text += f", {len(self.calendar.closed)} closed days"
        return text


def _just_after(moment: datetime) -> datetime:
    """One microsecond after ``moment``, counted in UTC.

    Adding to a local time counts on the wall clock and drops ``fold``: 02:30 (second
    occurrence, when clocks go back) + 1 µs would land an hour *earlier*.
    """
    return moment.astimezone(UTC) + timedelta(microseconds=1)


def _repeated_wall_time(moment: datetime) -> bool:
    """Whether ``moment`` is the second occurrence of a local time (the hour clocks go back)."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


class BusinessDayTrigger(BaseTrigger):
    """Wraps a cron/interval trigger and passes over the fire times on closed calendar days.

    With ``once_per_wall_time`` (cron lines with fixed hours) a local time that occurs twice
    when the clocks go back fires once, as crontab does: a nightly batch at 02:30 must not
    run twice that night. Stored (pickled) in the APScheduler job store, so it keeps only
    plain data.
    """

    # A calendar that closes every day would otherwise loop for ever.
    MAX_CLOSED_IN_A_ROW = 2000

    def __init__(
        self,
        inner: BaseTrigger,
        calendar: CalendarSpec | None,
        timezone: str,
        *,
        once_per_wall_time: bool = False,
    ) -> None:
        self.inner = inner
        self.calendar = calendar
        self.timezone = timezone
        self.once_per_wall_time = once_per_wall_time

    def _skip(self, candidate: datetime) -> bool:
        if self.once_per_wall_time and _repeated_wall_time(candidate.astimezone(ZoneInfo(self.timezone))):
            return True
        if self.calendar is None:
            return False
        return self.calendar.closed_reason(candidate.astimezone(ZoneInfo(self.timezone)).date()) is not None

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The inner trigger's next fire time that falls on an open day (None when none is near)."""
        candidate = self.inner.get_next_fire_time(previous_fire_time, now)
        for _ in range(self.MAX_CLOSED_IN_A_ROW):
            if candidate is None or not self._skip(candidate):
                return candidate
            candidate = self.inner.get_next_fire_time(candidate, _just_after(candidate))
        return None

    def __getstate__(self) -> dict[str, Any]:
        """Plain data only: the calendar travels as its spec (the holiday table is rebuilt)."""
        return {
            "version": 2,
            "inner": self.inner,
            "calendar": self.calendar.model_dump(mode="json") if self.calendar else None,
            "timezone": self.timezone,
            "once_per_wall_time": self.once_per_wall_time,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from ``__getstate__``'s data."""
        self.inner = state["inner"]
        self.calendar = CalendarSpec.model_validate(state["calendar"]) if state["calendar"] else None
        self.timezone = state["timezone"]
        self.once_per_wall_time = state.get("once_per_wall_time", False)

    def __str__(self) -> str:
        return f"business days of {self.inner}"


# -- loading -----------------------------------------------------------------------------------

FIRE_NAMES = ("schedule", "fire_time", "fire_date", "fire")
"""What templates in ``payload`` and ``constants`` may use (see ``schedule_sources.fire_values``)."""

WorkflowInputs = dict[str, frozenset[str] | None]
"""Workflow name -> its input field names (None: the workflow does not load)."""


class _ScheduleParser:
    def __init__(self, source: Source, workflows: WorkflowInputs | None, root: Path | None = None) -> None:
        self.source = source
        self.workflows = workflows
        self.root = root
        self.problems: list[Problem] = []

    def problem(self, path: PathKey, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(path, message, hint))

    def report(self, error: ValidationError, prefix: PathKey, what: str, model: type[BaseModel]) -> None:
        for item in error.errors():
            loc = tuple(
                part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-"))
            )
            where = ".".join(str(part) for part in (*prefix, *loc))
            kind = item["type"]
            ctx = item.get("ctx") or {}
            hint = ""
            if kind == "extra_forbidden":
                allowed = sorted(set(_section(model, loc).model_fields) - {"file", "line", "kind"})
                message = f"unknown key {where!r} in {what}"
                hint = suggest(str(loc[-1]), set(allowed)) or f"allowed here: {', '.join(allowed)}"
            elif kind == "missing":
                message = f"{what} needs {where!r}"
            else:
                given = item.get("input")
                shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
                reason = str(item["msg"]).removeprefix("Value error, ").rstrip(".")
                message = f"{where}: {reason}{shown}"
                if kind == "literal_error" and "expected" in ctx:
                    hint = f"use one of {ctx['expected']}"
            self.problem((*prefix, *loc), message, hint)

    def parse(self, data: Any) -> Schedule | None:
        if not isinstance(data, dict):
            shown = "an empty file" if data is None else f"a {type(data).__name__}"
            self.problem(
                (), f"a schedule file must be a mapping, got {shown}", "start with 'name:' and 'workflow:'"
            )
            return None
        fields = dict(data)
        if ("cron" in data) == ("interval" in data):
            self.problem(
                (),
                "a schedule needs exactly one of 'cron' and 'interval'",
                "e.g. cron: '0 2 * * 1-5' (02:00 on weekdays) or interval: 15m",
            )
        if "start" in data and "cron" in data:
            self.problem(
                ("start",), "'start' anchors an interval; a cron schedule does not use it", "remove it"
            )
        source = self.parse_source(data.get("source"))
        fields.pop("source", None)
        if "cron" in data and isinstance(data["cron"], str):
            try:
                cron_trigger(data["cron"], ZoneInfo("UTC"))
            except ValueError as error:
                self.problem(("cron",), f"cron {data['cron']!r}: {error}", "minute hour day month weekday")
        try:
            schedule = Schedule.model_validate(
                {**fields, "file": self.source.file, "line": self.source.where(())[0]}
                | ({"source": source} if source else {})
            )
        except ValidationError as error:
            self.report(error, (), "the schedule", Schedule)
            # What the file refers to is still checked: every problem of the file at once.
            if isinstance(data.get("workflow"), str):
                self.check_workflow(data["workflow"], source)
            self.check_source_file(source)
            return None
        if source is None and "source" in data:
            return None
        self.check_workflow(schedule.workflow, schedule.source)
        self.check_templates(schedule)
        if not self.problems and not schedule.next_fire_times(datetime(2026, 1, 1, tzinfo=schedule.zone)):
            self.problem(
                ("calendar",),
                "this schedule never fires: its calendar closes every day it would fire on",
                "check cron weekdays against calendar.weekdays_only and calendar.closed",
            )
        self.check_source_file(schedule.source)
        return schedule if not self.problems else None

    def parse_source(self, raw: Any) -> SourceSpec | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problem(("source",), "source must be a mapping with file, query or payload", "")
            return None
        kinds = [kind for kind in ("file", "query", "payload") if kind in raw]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none of them"
            self.problem(
                ("source",),
                f"a source has exactly one of file, query and payload (found {found})",
                "file: in/contracts.csv | query: SELECT ... with url: | payload: {...}",
            )
            return None
        model = _SOURCE_KINDS[kinds[0]]
        try:
            return model.model_validate(raw)  # type: ignore[return-value]
        except ValidationError as error:
            self.report(error, ("source",), f"a {kinds[0]} source", model)
            return None

    def check_templates(self, schedule: Schedule) -> None:
        source = schedule.source
        values = source.payload if isinstance(source, PayloadSource) else source.constants
        what = "payload" if isinstance(source, PayloadSource) else "constants"
        for path, text in _template_strings(values, ("source", what)):
            problem = expressions.syntax_problem(text)
            if problem:
                self.problem(path, f"{problem} in {text!r}", "check the braces and the expression")
                continue
            unknown = expressions.referenced_names(text) - set(FIRE_NAMES)
            if unknown:
                self.problem(
                    path,
                    f"unknown name {', '.join(sorted(unknown))} in {text!r}",
                    f"templates here know {', '.join(FIRE_NAMES)}",
                )

    def check_source_file(self, source: SourceSpec | None) -> None:
        """With a project folder: the source file is there (or, named by the fire, its folder).

        Only ``validate`` asks for this: a scheduler loads a schedule whose file is still to
        come (it is read at fire time, and a missing one fails that fire).
        """
        if self.root is None or not isinstance(source, FileSource):
            return
        try:
            name = source.file_for(datetime(2026, 1, 1, tzinfo=UTC))
        except ValueError as error:
            self.problem(("source", "file"), str(error))
            return
        path = Path(name) if Path(name).is_absolute() else self.root / name
        if "{" not in source.file:
            if not path.is_file():
                self.problem(
                    ("source", "file"),
                    f"source file {path} does not exist",
                    "put the file there or correct source.file (relative to the project folder)",
                )
        elif "{" not in str(Path(source.file).parent) and not path.parent.is_dir():
            self.problem(
                ("source", "file"),
                f"the folder {path.parent} of source file {source.file!r} does not exist",
                "create it or correct source.file (relative to the project folder)",
            )

    def check_workflow(self, workflow: str, source: SourceSpec | None) -> None:
        """The workflow exists, and the payload fields the source makes are its inputs."""
        if self.workflows is None:
            return
        if workflow not in self.workflows:
            hint = suggest(workflow, set(self.workflows)) or (
                f"workflows: {', '.join(sorted(self.workflows)) or 'none'}"
            )
            self.problem(("workflow",), f"no workflow named {workflow!r}", hint)
            return
        inputs = self.workflows[workflow]
        if inputs is None or source is None:
            return  # a workflow that does not load: `run.py validate` reports why
        named: list[tuple[PathKey, str]] = []
        if isinstance(source, PayloadSource):
            named = [(("source", "payload", field), field) for field in source.payload]
        else:
            named = [(("source", "columns", field), field) for field in source.columns or {}]
            named += [(("source", "constants", field), field) for field in source.constants]
        for path, field in named:
            if field not in inputs:
                hint = suggest(field, set(inputs)) or f"inputs of {workflow}: {', '.join(sorted(inputs))}"
                self.problem(path, f"{field!r} is not an input of workflow {workflow!r}", hint)


def _template_strings(value: Any, path: PathKey) -> list[tuple[PathKey, str]]:
    if isinstance(value, str):
        return [(path, value)] if expressions.is_template(value) else []
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _template_strings(item, (*path, str(key)))]
    if isinstance(value, list | tuple):
        return [
            found for index, item in enumerate(value) for found in _template_strings(item, (*path, index))
        ]
    return []


def _section(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model that holds the key at ``loc`` (for "allowed here" hints)."""
    if model is Schedule and len(loc) > 1:
        sections: dict[str, type[BaseModel]] = {"calendar": CalendarSpec, "misfire": MisfireSpec}
        return sections.get(str(loc[0]), model)
    return model


def parse_schedule(
    text: str, file: str = "<schedule>", *, workflows: WorkflowInputs | None = None
) -> tuple[Schedule | None, list[Problem]]:
    """Parse one schedule from YAML text: the schedule (None if unusable) and every problem.

    ``workflows`` (name -> input field names), when given, lets the parser check the
    workflow exists and that the payload fields are its inputs.
    """
    data, source, problems = load_yaml(text, file)
    return _parse(data, source, problems, workflows)


def _parse(
    data: Any,
    source: Source,
    problems: list[Problem],
    workflows: WorkflowInputs | None,
    root: Path | None = None,
) -> tuple[Schedule | None, list[Problem]]:
    if problems and data is None:
        return None, problems
    parser = _ScheduleParser(source, workflows, root)
    schedule = parser.parse(data)
    found = sorted([*problems, *parser.problems], key=lambda p: (p.file, p.line, p.column))
    return (schedule if not found else None), found


def load_schedule(path: Path | str, *, workflows: WorkflowInputs | None = None) -> Schedule:
    """Load one schedule file; ``DefinitionError`` lists every problem found."""
    data, source, problems = load_yaml_file(Path(path))
    schedule, problems = _parse(data, source, problems, workflows)
    if schedule is None:
        raise DefinitionError(problems or [Problem(str(path), 1, 1, "the schedule could not be read")])
    return schedule


def load_schedules(
    directory: Path | str, *, workflows: WorkflowInputs | None = None, root: Path | str | None = None
) -> tuple[dict[str, Schedule], list[Problem]]:
    """Every ``*.yaml`` schedule under ``directory``: name -> schedule, and all problems.

    A file with problems is left out (the others still run); two files with one name is a
    problem on the second. See ``load_schedule_files`` for ``workflows`` and ``root``.
    """
    return load_schedule_files(schedule_files(directory), workflows=workflows, root=root)


def schedule_files(directory: Path | str) -> list[Path]:
    """The ``*.yaml`` / ``*.yml`` files under ``directory`` and its subfolders, sorted."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_schedule_files(
    paths: Iterable[Path], *, workflows: WorkflowInputs | None = None, root: Path | str | None = None
) -> tuple[dict[str, Schedule], list[Problem]]:
    """The schedules of the given files: name -> schedule, and all problems (as ``load_schedules``).

    ``workflows`` (name -> input field names) lets the workflow and the payload fields be
    checked; ``root`` (the project folder) lets ``validate`` check that source files exist.
    """
    found: dict[str, Schedule] = {}
    problems: list[Problem] = []
    for path in paths:
        data, source, file_problems = load_yaml_file(Path(path))
        schedule, file_problems = _parse(
            data, source, file_problems, workflows, Path(root) if root is not None else None
        )
        problems.extend(file_problems)
        if schedule is None:
            continue
        if schedule.name in found:
            first = found[schedule.name]
            problems.append(
                source.problem(
                    ("name",),
                    f"schedule name {schedule.name!r} is already used by {first.file}:{first.line}",
                    "give each schedule its own name",
                )
            )
            continue
        found[schedule.name] = schedule
    return found, problems


def project_workflows(project_root: Path | str) -> WorkflowInputs:
    """Workflow name -> its input field names, for the workflows of a project folder.

    A workflow file that does not load still counts by name (its own problems are reported
    by ``run.py validate``), with no known inputs checked.
    """
    from robots.language.project import Project

    project = Project(project_root)
    result: WorkflowInputs = {}
    for name, path in project.workflow_files().items():
        try:
            result[name] = frozenset(project.load(path).input)
        except DefinitionError:
            result[name] = None
    return result
