"""German and English for the control room, the webform and its status page.

One message catalogue per language (``locales/<lang>/LC_MESSAGES/messages.po``, Babel's
format; English is the source text, so it has none). The catalogue is compiled in memory
when it is first used, so no ``.mo`` file has to be built or committed.

Which language a request gets: the signed-in user's setting, else the browser's
``Accept-Language``, else the server's default (``ServerSettings.language``,
``TANDEM_LANGUAGE``). Times are shown in the user's time zone (else the server's,
``TANDEM_TIME_ZONE``, default Europe/Berlin) and always say which ("14:05 CET").

Templates call ``_("text")`` (with ``%(name)s`` placeholders filled from keyword arguments),
``ngettext`` and ``local_time(moment)``; these read the request's language and time zone
from a context variable that :func:`using` sets around the rendering, so they also work
inside imported macros.
"""

from __future__ import annotations

import contextlib
import gettext as gettext_module
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
#: The languages there is a catalogue for (English is the source text).
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch"}
DEFAULT_LANGUAGE = "en"
DEFAULT_TIME_ZONE = "Europe/Berlin"
#: Offered in the header's selector (any valid IANA name is accepted and kept).
COMMON_TIME_ZONES = (
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Helsinki",
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
)


def N_(message: str) -> str:
    """Marks a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


#: States, SLA states and outcomes as the pages' badges show them (the words come from data,
#: so they are named here for the catalogue).
BADGE_TEXTS = (
    N_("open"),
    N_("claimed"),
    N_("completed"),
    N_("returned"),
    N_("cancelled"),
    N_("ok"),
    N_("due soon"),
    N_("breached"),
    N_("queued"),
    N_("running"),
    N_("done"),
    N_("waiting human"),
    N_("failed business"),
    N_("failed system"),
    N_("corrected"),
    N_("done by hand"),
    N_("rejected"),
    N_("postponed"),
    # Robots, schedules and their fires, users and tokens.
    N_("idle"),
    N_("busy"),
    N_("stopped"),
    N_("stale"),
    N_("paused"),
    N_("failed"),
    N_("skipped"),
    N_("missed"),
    N_("already fired"),
    N_("running elsewhere"),
    N_("active"),
    N_("inactive"),
    N_("revoked"),
)

#: The default outcome buttons, their meanings and what the customer is told
#: (``orchestrator.humans.outcomes``, which may not import the control room: named again here
#: for the catalogue; ``tests/unit/test_i18n.py`` checks they stay the same texts).
OUTCOME_TEXTS = (
    N_("Corrected: back to the robot"),
    N_("Done by hand"),
    N_("Rejected"),
    N_("Postponed"),
    N_("Cancelled"),
    N_(
        "A robot takes the case on with your answer and the case data as corrected here; "
        "changed case data makes it start again from the first step."
    ),
    N_(
        "You did the work yourself in the systems: say what in the note. The case ends as "
        "done by hand and the customer is told."
    ),
    N_("The request cannot be carried out: the note is the reason the customer reads."),
    N_("Back into the queue at the time given (e.g. call back tomorrow 10:00)."),
    N_("The customer's case ends without being carried out (supervisors, ops, admins)."),
    N_("Scheduled"),
    N_("A colleague checked your request; our systems are processing it now."),
    N_("A colleague has carried out your request by hand."),
)


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    """The compiled catalogue of ``language`` (English and unknown languages: the source text)."""
    po = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po.is_file():
        return gettext_module.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def valid_language(value: str | None) -> str | None:
    """``value`` when it names a language we have, else None (``de-AT`` -> ``de``)."""
    if not value:
        return None
    base = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None


def valid_time_zone(value: str | None) -> str | None:
    """``value`` when it is an IANA time zone name, else None."""
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        return None
    return value


def from_accept_language(header: str | None) -> str | None:
    """The best language of ours in an ``Accept-Language`` header, by its q-values."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            with contextlib.suppress(ValueError):
                quality = float(params.strip()[2:])
        language = valid_language(tag)
        if language and quality > 0:
            choices.append((-quality, position, language))
    return min(choices)[2] if choices else None


@dataclass(frozen=True)
class Locale:
    """What one request is shown in: a language and a time zone."""

    language: str = DEFAULT_LANGUAGE
    time_zone: str = DEFAULT_TIME_ZONE

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` in this language, with ``%(name)s`` filled from ``values``. A message
        that carries its catalogue text and values (``pages.rendering.Message``: an error page's,
        a flash's) is translated by that text and filled with its values."""
        if not message:  # nothing to say (the catalogue's "" is its header, not a text)
            return ""
        template = getattr(message, "template", None)
        if isinstance(template, str) and not values:
            message, values = template, dict(getattr(message, "values", {}))
        text = translations(self.language).gettext(message)
        if values:
            return text % values
        if text == message:
            return self.store_error(message) or text
        return text

    def store_error(self, message: str) -> str | None:
        """A refusal of the store (``orchestrator.errors``, raised in English) in this
        language, or None for a text it does not know."""
        for pattern, template in _STORE_ERRORS:
            matched = pattern.match(message)
            if matched:
                found = {key: value for key, value in matched.groupdict().items() if value is not None}
                if "status" in found:
                    found["status"] = self.gettext(found["status"].replace("_", " "))
                if "until" in found:  # the store says UTC; the reader reads their own clock
                    try:
                        moment = datetime.strptime(found["until"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
                    except ValueError:  # not a time the store wrote: not its refusal
                        return None
                    found["until"] = self.local_time(moment)
                return translations(self.language).gettext(template) % found
        return None

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        """The singular or plural form for ``count`` (``%(count)s`` is filled too)."""
        text = translations(self.language).ngettext(singular, plural, count)
        return text % {"count": count, **values}

    def local_time(self, moment: datetime | None, *, seconds: bool = False) -> str:
        """``moment`` in this time zone, with its abbreviation: ``2026-12-06 14:05 CET``."""
        if moment is None:
            return ""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        local = aware.astimezone(ZoneInfo(self.time_zone))
        pattern = "yyyy-MM-dd HH:mm:ss" if seconds else "yyyy-MM-dd HH:mm"
        return f"{format_datetime(local, pattern, locale=self.language)} {local.tzname()}"


_DEFAULT = Locale()
_CURRENT: ContextVar[Locale | None] = ContextVar("tandem_locale", default=None)


def current() -> Locale:
    """The locale of the request being rendered (the server's default outside of one)."""
    return _CURRENT.get() or _DEFAULT


@contextlib.contextmanager
def using(locale: Locale) -> Iterator[Locale]:
    """Render (and translate) with ``locale`` inside the block."""
    token = _CURRENT.set(locale)
    try:
        yield locale
    finally:
        _CURRENT.reset(token)


def choose(
    *,
    user_language: str | None,
    user_time_zone: str | None,
    accept_language: str | None,
    default_language: str,
    default_time_zone: str,
) -> Locale:
    """The user's setting, else the browser's language, else the server's default."""
    language = (
        valid_language(user_language)
        or from_accept_language(accept_language)
        or valid_language(default_language)
        or DEFAULT_LANGUAGE
    )
    time_zone = valid_time_zone(user_time_zone) or valid_time_zone(default_time_zone) or DEFAULT_TIME_ZONE
    return Locale(language, time_zone)


def gettext(message: str, **values: Any) -> str:
    """``message`` in the current request's language."""
    return current().gettext(message, **values)


def ngettext(singular: str, plural: str, count: int, **values: Any) -> str:
    """Singular or plural in the current request's language."""
    return current().ngettext(singular, plural, count, **values)


def local_time(moment: datetime | None, seconds: bool = False) -> str:
    """``moment`` in the current request's time zone, saying which."""
    return current().local_time(moment, seconds=seconds)


#: Validation texts of pydantic and the workflow language -> words a person uses (with the
#: values the pattern captures). The first that matches wins.
_PLAIN_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^(Field required|required(, but missing)?)$", N_("please fill this in")),
        (r"^String should match pattern", N_("does not have the expected form")),
        (r"^String should have at least (?P<n>\d+) characters?$", N_("needs at least %(n)s characters")),
        (r"^String should have at most (?P<n>\d+) characters?$", N_("may have at most %(n)s characters")),
        (r"^Input should be a valid integer", N_("must be a whole number")),
        (r"^(Input should be a valid number|expected number)", N_("must be a number")),
        (r"^Input should be greater than or equal to (?P<n>\S+)$", N_("must be at least %(n)s")),
        (r"^Input should be less than or equal to (?P<n>\S+)$", N_("must be at most %(n)s")),
        (r"^Input should be (?P<choices>'.*')$", N_("choose one of %(choices)s")),
        (r"^.* is not one of (?P<choices>.*)$", N_("choose one of %(choices)s")),
        (r"^(Input should be a valid boolean|expected boolean)", N_("must be yes or no")),
        (r"^not a field of this workflow$", N_("is not a field of this case")),
    )
)
ENTERED = N_("entered: %(value)s")

#: What the store says when it refuses an agent (``orchestrator.errors``, in English: the JSON
#: API sends it so) -> the catalogue's text for it, filled with what the pattern captures. The
#: pages show these in the reader's language; a refusal not listed here stays as it is.
_STORE_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^no task '(?P<key>[^']*)'$", N_("There is no task %(key)s.")),
        (r"^no case '(?P<key>[^']*)'$", N_("There is no case %(key)s.")),
        (
            r"^task (?P<task>\S+) is claimed by (?P<who>\S+); only an open task can be claimed$",
            N_("%(who)s has already claimed task %(task)s; only an open task can be claimed."),
        ),
        (
            r"^task (?P<task>\S+) is (?P<status>[a-z_]+); only an open task can be claimed$",
            N_("Task %(task)s is %(status)s; only an open task can be claimed."),
        ),
        (
            r"^task (?P<task>\S+) is postponed until (?P<until>\d{4}-\d\d-\d\d \d\d:\d\d UTC); "
            r"it can be claimed from then",
            N_("Task %(task)s is postponed until %(until)s; it can be claimed from then."),
        ),
        (
            r"^task (?P<task>\S+) is held by (?P<who>\S+); claim it first$",
            N_("%(who)s is working on task %(task)s; claim it first."),
        ),
        (
            r"^task (?P<task>\S+) is held by (?P<who>\S+); only they or a supervisor may release it$",
            N_("%(who)s is working on task %(task)s; only they or a supervisor may release it."),
        ),
        (
            r"^task (?P<task>\S+) belongs to a unit outside \S+'s \((?P<unit>[^)]*)\)$",
            N_("Task %(task)s belongs to a unit outside yours (%(unit)s)."),
        ),
        (
            r"^case (?P<case>\S+) belongs to units outside \S+'s$",
            N_("Case %(case)s belongs to units outside yours."),
        ),
        (r"^task (?P<task>\S+) is (?P<status>[a-z_]+) already$", N_("Task %(task)s is already %(status)s.")),
    )
)
_PROBLEM = re.compile(r"^(?P<field>[\w.\[\]-]+): (?P<message>.*?)(?: \(got (?P<given>.*)\))?$", re.S)


def plain_problem(problem: str) -> str:
    """A validation problem (``postal_code: String should match pattern ...``) in words a
    person uses, in the current language: ``postal code: does not have the expected form``.
    A text it does not know is shown as it is."""
    found = _PROBLEM.match(problem.strip())
    if found is None:
        return gettext(problem)
    field = found["field"].removeprefix("input.").replace("_", " ")
    message = found["message"]
    for pattern, text in _PLAIN_PROBLEMS:
        matched = pattern.match(message)
        if matched:
            message = gettext(text, **{k: v for k, v in matched.groupdict().items() if v is not None})
            break
    given = f" ({gettext(ENTERED, value=found['given'])})" if found["given"] else ""
    return f"{field}: {message}{given}"


def install(env: Any) -> None:
    """Give a Jinja2 environment ``_``, ``gettext``, ``ngettext``, ``N_`` (marks a text a macro
    translates), ``local_time`` and ``locale``."""
    env.globals.update(
        _=gettext,
        N_=N_,
        gettext=gettext,
        ngettext=ngettext,
        local_time=local_time,
        plain_problem=plain_problem,
        locale=current,
        languages=LANGUAGES,
        time_zones=COMMON_TIME_ZONES,
    )


def for_request(request: Any, user: Any = None) -> Locale:
    """The locale of an HTTP request: ``user``'s settings, the browser's language, the server's defaults."""
    settings = request.app.state.settings
    return choose(
        user_language=getattr(user, "language", None),
        user_time_zone=getattr(user, "time_zone", None),
        accept_language=request.headers.get("accept-language"),
        default_language=settings.language,
        default_time_zone=settings.time_zone,
    )
