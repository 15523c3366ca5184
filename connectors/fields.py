"""Strict field types for what channels send: texts without hidden characters, bounded dates.

Everything a channel posts ends up in a database, a robot's browser and a person's screen.
Some characters do harm on that way while being invisible: a NUL byte is refused by
PostgreSQL (a 500 instead of a 422), control characters break logs and terminals, bidi
overrides and zero-width characters make two different references look the same to a
person, lone surrogates cannot be encoded at all. And a date near year 1 or 9999 overflows
as soon as a time zone or an SLA is added to it. The types here refuse all of that at the
edge, with a message that says what to send instead.

::

    text_problem(value, allow_newlines=...)   why a text may not be stored, or None
    Reference                                 a business reference: stripped, 1-200 visible chars
    Priority                                  an integer 0-100 (not "5", not true)
    Moment                                    an aware date and time, 1900-9000 (not 0)
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, Strict

#: The range of dates a channel may send. Far enough to hold every real date, far enough from
#: datetime's limits (years 1 and 9999) that adding an SLA or a time zone cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

#: Characters that are never part of a text a person typed (besides C0 controls): DEL, the C1
#: controls, line/paragraph separators.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_ALLOWED_WHITESPACE = {"\t", "\n", "\r"}


#: What :func:`text_problem` allows, as an ECMA-262 pattern for OpenAPI schemas (lone
#: surrogates, which JSON Schema cannot name, are refused too).
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
#: The same, for a text that must say something: at least one character that is not a space.
NONBLANK_TEXT_PATTERN = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*"
    r"[^\s\x00-\x1f\x7f-\x9f]"
    r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
)


def _describe(character: str) -> str:
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" ({name})" if name else "")


def text_problem(value: str, *, allow_newlines: bool = True) -> str | None:
    """Why ``value`` may not be stored, or None: NUL and other control characters, lone
    surrogates. Tabs and line breaks are allowed unless ``allow_newlines`` is False."""
    for character in value:
        code = ord(character)
        if 0xD800 <= code <= 0xDFFF:
            return f"contains a lone surrogate {_describe(character)}: send valid UTF-8 text"
        if code < 0x20 or 0x7F <= code <= 0x9F:
            if allow_newlines and character in _ALLOWED_WHITESPACE:
                continue
            return f"contains the control character {_describe(character)}: remove it"
    return None


def identifier_problem(value: str) -> str | None:
    """Why ``value`` cannot identify something a person reads (a reference), or None: every
    :func:`text_problem`, line breaks, and invisible format characters (bidi overrides,
    zero-width spaces) that make two different values look the same."""
    problem = text_problem(value, allow_newlines=False)
    if problem:
        return problem
    for character in value:
        if unicodedata.category(character) in _INVISIBLE_CATEGORIES:
            return f"contains the invisible character {_describe(character)}: remove it"
    return None


def _reference(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("a reference must have at least one visible character")
    problem = identifier_problem(stripped)
    if problem:
        raise ValueError(problem)
    return stripped


#: A business reference (call id, submission id): stripped, 1-200 characters, none invisible.
Reference = Annotated[str, AfterValidator(_reference), Field(min_length=1, max_length=200)]

#: A priority: an integer 0-100 written as a number (``"5"`` and ``true`` are refused).
Priority = Annotated[int, Strict(), Field(ge=0, le=100)]


def _not_a_number(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError(
            "a date and time is written as text with a time zone, e.g. 2026-11-24T12:00:00Z (not a number)"
        )
    return value


def _bounded(value: datetime) -> datetime:
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise ValueError(
            f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), e.g. 2026-11-24T12:00:00Z"
        )
    return value


#: An aware date and time between 1900 and 9000 (UTC), written as ISO text.
Moment = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_bounded)]


def payload_problems(value: Any, path: str = "payload", *, limit: int = 20) -> list[tuple[str, str]]:
    """(field, message) for every text in a JSON-like value (keys included) that may not be
    stored (:func:`text_problem`), and every infinite or NaN number; at most ``limit``."""
    problems: list[tuple[str, str]] = []

    def walk(item: Any, where: str) -> None:
        if len(problems) >= limit:
            return
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                problems.append((where, problem))
        elif isinstance(item, float) and not math.isfinite(item):
            # JSON has no infinity or NaN (1e999 reads as one): PostgreSQL's json refuses them.
            problems.append((where, "must be a finite number"))
        elif isinstance(item, dict):
            for key, child in item.items():
                name = str(key)
                key_problem = text_problem(name, allow_newlines=False)
                if key_problem:
                    problems.append((where, f"a field name {key_problem}"))
                    continue
                walk(child, f"{where}.{name}")
        elif isinstance(item, list | tuple):
            for index, child in enumerate(item):
                walk(child, f"{where}.{index}")

    walk(value, path)
    return problems
