"""The schedule language's model: what a schedule says, and the fire times that follow from it.

A schedule says *when* (cron or interval, in a time zone, on the days a business calendar
allows) a *source* (a CSV/Excel file, a SQL query, or one fixed payload) is turned into
cases of one workflow. This module owns that model (``Schedule`` and its parts, durations,
crontab lines) and ``BusinessDayTrigger``, which APScheduler stores pickled under this
module's name. Reading schedule files into the model is ``orchestrator.schedules.loading``;
firing is ``orchestrator.schedules.service``. See ``docs/schedules.md`` for the language
with examples.
"""

from __future__ import annotations

import hashlib
import json
import re
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
    field_validator,
    model_validator,
)

from robots.language.model_values import NAME_PATTERN
from robots.language.registry import suggest

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
SOURCE_KINDS: dict[str, type[BaseModel]] = {
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
