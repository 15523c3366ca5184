"""The values the workflow model is built from: durations, priorities, names, frozen data.

Owns how a workflow writes a duration (``2s``, ``500ms``; at most ``MAX_DURATION``) and a
human task's priority, the name pattern of variables and workflows, the deep immutability
every model of the language shares (``Frozen``, ``FrozenDict``, ``freeze``/``thaw``), the
``when``/``if`` and ``for_each`` value types, where a step was written (``Location``) and a
step's ``RetryPolicy``. The steps (``steps``) and the workflow (``model``) are made of these.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from robots.errors import quoted

DURATION_TEXT = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$"
"""A duration written as text (``2s``, ``500ms``); a valid JSON Schema pattern too."""
_DURATION = re.compile(DURATION_TEXT)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


MAX_DURATION = 86_400.0
"""The longest duration a workflow may write (1 day): a step, a retry wait or a sleep longer
than that is a mistake, and the engine's timers cannot hold much longer ones."""


def parse_duration(value: Any) -> float:
    """Seconds from ``2s``, ``500ms``, ``1.5m``, ``1h`` or a plain number of seconds.

    ``ValueError`` (with the value and the fix) for anything else, for negative, infinite
    or undefined numbers, and for more than ``MAX_DURATION``.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Compared before any conversion: a huge int cannot become a float.
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number of seconds, got {quoted(value)}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {quoted(value)}")
        if value > MAX_DURATION:
            raise ValueError(f"durations are at most 1 day (24h), got {quoted(value)}")
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a duration like 2s, 500ms, 1.5m or 1h, got {quoted(value)}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION:  # very long digit strings give inf, which is above too
        raise ValueError(f"durations are at most 1 day (24h), got {quoted(value)}")
    return seconds


PRIORITY_LIMIT = 1000
"""Human task priorities run from -PRIORITY_LIMIT to PRIORITY_LIMIT (higher is more urgent)."""


def task_priority(value: Any) -> int:
    """A human task's priority as an int: a whole number (text of one too) within the limit.

    ``None`` and ``""`` (an expression that gave nothing) are the default 0; anything else is
    a ``ValueError`` that says what to write.
    """
    if value is None or value == "":
        return 0
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,9}\s*", value)
    ):
        number = int(value)
    if number is None or abs(number) > PRIORITY_LIMIT:
        raise ValueError(
            f"a priority is a whole number from -{PRIORITY_LIMIT} to {PRIORITY_LIMIT} "
            f"(higher is more urgent) or an expression giving one, got {quoted(value)}"
        )
    return number


Duration = Annotated[
    float,
    BeforeValidator(
        parse_duration,
        # What a workflow may write, for the JSON Schema; the model holds seconds.
        json_schema_input_type=Annotated[float, Field(ge=0, le=MAX_DURATION)]
        | Annotated[str, Field(pattern=DURATION_TEXT)],
    ),
    Field(description="seconds, or text like 2s, 500ms, 1m, 1h (at most 1 day)"),
]
"""Seconds, read from a number or from text like ``2s``, ``500ms``, ``1.5m``, ``1h``."""


class FrozenDict(dict[Any, Any]):
    """A mapping of a loaded workflow: read like a dict, changed by nobody.

    A ``dict`` subclass, so the engine, ``model_dump``, ``json`` and ``isinstance(..., dict)``
    treat it as one; ``dict(frozen)`` or ``frozen.copy()`` give a plain, changeable copy.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a loaded workflow is immutable: copy the mapping (dict(...)) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and deepcopy would otherwise fill the new object with __setitem__
        return (FrozenDict, (dict(self),))


def freeze(value: Any) -> Any:
    """``value`` made deeply immutable: mappings become ``FrozenDict``, lists tuples."""
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, changeable copy of a frozen value: ``FrozenDict`` to dict, tuples to lists
    (for values that leave the workflow and become a case's data, such as input defaults)."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value


def _condition(value: Any) -> Any:
    if isinstance(value, str | bool):
        return value
    raise ValueError(f'a condition is an expression ("{{{{ ... }}}}") or true/false, got {quoted(value)}')


def _items(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        return value
    raise ValueError(
        f'for_each takes a list, or an expression ("{{{{ ... }}}}") giving one, got {quoted(value)}'
    )


Condition = Annotated[str | bool, BeforeValidator(_condition)]
"""``when`` and ``if``: an expression, or true/false (one clear error for anything else)."""
Items = Annotated[str | tuple[Any, ...], BeforeValidator(_items)]
"""``for_each``: a list, or an expression giving one."""


class Frozen(BaseModel):
    """Base of every model of the language: deeply immutable, unknown keys refused.

    ``frozen=True`` only stops assigning fields; the values inside a field (the mapping of a
    ``set`` step, an action's parameters, a list of choices) are frozen too, so nothing can
    change a workflow the loader checked (a cached workflow is shared by every case).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def model_post_init(self, context: Any, /) -> None:
        for name, value in self.__dict__.items():
            if isinstance(value, dict | list | tuple):
                self.__dict__[name] = freeze(value)


class Location(Frozen):
    """Where a step was written."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class RetryPolicy(Frozen):
    """Retry a step on system exceptions: ``attempts`` tries, waits growing by ``factor``."""

    attempts: int = Field(3, ge=1, le=100, description="How many tries in all, the first included.")
    backoff: Duration = Field(1.0, description="Wait before the second try.")
    factor: float = Field(2.0, ge=1.0, le=10.0, description="Each further wait is this many times longer.")
    max_delay: Duration = Field(60.0, description="No wait is longer than this.")

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (2, 3, ...)."""
        return float(min(self.backoff * self.factor ** max(attempt - 2, 0), self.max_delay))
