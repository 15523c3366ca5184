"""The workflow language as typed, immutable data.

The loader (``robots.language.loader``) turns YAML into these objects; the engine
(``robots.engine.runner``) walks them; ``run.py schema`` and ``run.py validate`` are walks too.
Nothing here runs anything.

A step is one of::

    ActionStep      web.fill: {label: Street, value: "{{ input.street }}"}
    DecideStep      decide: postal_code_supplier
    SetStep         set: {total: "{{ a + b }}"}
    IfStep          if: "{{ cond }}"  then: [...]  else: [...]
    ForEachStep     for_each: "{{ items }}"  as: item  steps: [...]
    CallStep        call: crm_login  with: {...}
    InStep          in: crm  steps: [...]
    EnsureStep      ensure: address is new  check: [...]  holds: "{{ ... }}"  change: [...]  verify: [...]
    BlockStep       steps: [...]          (a group, e.g. to retry or time out together)
    EscalateStep    escalate: {queue: ..., reason: ...}
    AwaitHumanStep  await_human: {queue: ..., form: [...]}  as: answer
    CalloutStep     callout: {title: ..., message: ...}
    OutputStep      output: {booking: "{{ booking }}"}
    FailStep        fail: {message: ..., kind: business}

and every step may carry ``id``, ``name``, ``when``, ``retry``, ``timeout`` and ``on_error``.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from robots.errors import quoted
from robots.language import expressions

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


InputType = Literal["string", "integer", "number", "boolean", "object", "array", "date", "datetime"]


class InputField(Frozen):
    """One field of a workflow's input: checked when a case is created."""

    type: InputType = Field("string", description="The value's type.")
    required: bool = Field(True, description="Must the case carry this field?")
    default: Any = Field(None, description="Value used when the field is missing.")
    description: str = Field("", description="What the field means, for people and for the API.")
    pattern: str | None = Field(None, description="Regular expression a string must match whole.")
    enum: tuple[Any, ...] | None = Field(None, description="The only values allowed.")
    minimum: float | None = Field(None, description="Smallest number allowed.")
    maximum: float | None = Field(None, description="Largest number allowed.")
    min_length: int | None = Field(None, ge=0, description="Shortest text or list allowed.")
    max_length: int | None = Field(None, ge=0, description="Longest text or list allowed.")
    personal: bool = Field(False, description="Personal data: masked in logs and step records.")
    secret: bool = Field(False, description="A secret: never shown anywhere.")

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except (re.error, OverflowError, RecursionError) as error:  # a{99999999999}, deep nesting
                raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _bounds_in_order(self) -> InputField:
        for low, high in (("minimum", "maximum"), ("min_length", "max_length")):
            least, most = getattr(self, low), getattr(self, high)
            if least is not None and most is not None and least > most:
                raise ValueError(f"{low} {least:g} is above {high} {most:g}: no value could fit")
        return self


@functools.lru_cache(maxsize=256)  # read after every web.goto of a system with logged_out_url
def url_pattern(text: str) -> re.Pattern[str]:
    """A URL pattern as workflows write it: a glob (``**`` any characters, ``*`` any but
    ``/``, the rest literal, matched against the whole URL) or ``re:`` and a regular
    expression (found anywhere in the URL)."""
    if text.startswith("re:"):
        return re.compile(text[3:])
    # ^ and $, not \A and \Z: web.expect hands the pattern to the browser's RegExp.
    return re.compile("^" + re.escape(text).replace(r"\*\*", ".*").replace(r"\*", "[^/]*") + "$")


class SystemSpec(Frozen):
    """An application a robot logs into with its own credentials."""

    kind: Literal["web", "desktop", "terminal"] = Field(
        description="web (Playwright), desktop (pyautogui on an X display) or terminal (a character "
        "program in a pseudo-terminal, read by a terminal emulator: hosts by ssh/telnet, local programs)."
    )
    url: str | None = Field(None, description="Base URL of a web system; ${ENV} allowed.")
    program: str | None = Field(
        None,
        description="Command line that starts a desktop program, or the terminal program "
        "(e.g. 'ssh -tt robot@host', 'telnet host 23', 'python -m demo.host'); it runs in the "
        "project folder, so relative paths in it are the project's.",
    )
    window: str | None = Field(
        None, description="Title (a regular expression) of a desktop program's window."
    )
    tn3270: str | None = Field(
        None,
        description="Terminal system: a TN3270 host as host:port (L:host:port for TLS; ${ENV} "
        "allowed), reached through Debian's s3270 instead of a 'program': the keyboard lock is "
        "the host's own, function keys are PF keys, rows x columns choose the model (24x80, "
        "32x80, 43x80, 27x132).",
    )
    code_page: str | None = Field(
        None,
        description="TN3270 system: the host's code page for s3270 (e.g. 1141 for German hosts; "
        "default 037).",
    )
    login: str | None = Field(None, description="Sub-workflow that logs in (run once per session).")
    credentials: str | None = Field(None, description="Vault entry with the robot's login.")
    logged_out: str | None = Field(
        None,
        description="Web: a Playwright selector seen only on the login page, e.g. 'text=Please sign "
        "in': after web.goto it tells that the session expired, and the robot logs in again. Terminal: "
        "text on the screen (or re:regex), e.g. 'PLEASE SIGN ON'; desktop: a text (read by OCR in "
        "the program's window) or an image (.png, relative to the project folder): on screen when an 'in' "
        "block starts, it makes the robot log in again.",
    )
    rows: int = Field(24, ge=5, le=200, description="Terminal system: screen rows.")
    columns: int = Field(80, ge=20, le=400, description="Terminal system: screen columns.")
    input_locked: str | None = Field(
        None,
        description="What the program shows while it takes no keys; the robot waits until it is gone "
        "before typing. Terminal: text (the 3270 'X SYSTEM' indicator, or re:regex); desktop: an "
        "image (.png, relative to the project) or a text read by OCR in the program's window.",
    )
    settle_ms: int = Field(
        150,
        ge=0,
        le=60_000,
        description="Terminal system: the screen must be unchanged this long (ms) before the robot "
        "types or presses a key: a program still drawing has not yet unlocked its keyboard.",
    )
    logged_out_url: str | None = Field(
        None,
        description="Where the app sends an expired session, as a URL glob (e.g. '**/login*') or "
        "re:regex: after web.goto the page's address tells that the session expired, without "
        "asking the page (one round trip to the browser less per web.goto than logged_out).",
    )
    recycle_after: int | None = Field(
        None,
        ge=1,
        description="Reopen the session after N cases (default 25: a kept context grows with every case).",
    )
    step_screenshots: bool | None = Field(
        None,
        description="Web system: keep a small picture of the page after each of its steps (shown "
        "beside the step on the case page); unset: as the workflow's step_screenshots says.",
    )
    locale: str | None = Field(
        None,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="Web system: the browser's language, e.g. de-DE: what it sends as "
        "Accept-Language and tells the page, so an app that follows the browser's language shows "
        "the screens (labels, buttons, messages) the workflow names. Default: the browser's "
        "(en-US).",
    )
    description: str = ""
    login_location: Location | None = Field(
        None, exclude=True, description="Where 'login' was written (set by the loader)."
    )

    @model_validator(mode="after")
    def _tn3270_is_a_terminal(self) -> SystemSpec:
        if self.tn3270 is not None and self.kind != "terminal":
            raise ValueError("tn3270 is for terminal systems (kind: terminal)")
        if self.tn3270 is not None and self.program is not None:
            raise ValueError("give a program or a tn3270 host, not both")
        if self.locale is not None and self.kind != "web":
            raise ValueError("locale is the browser's language: it is for web systems (kind: web)")
        return self

    @field_validator("logged_out_url")
    @classmethod
    def _url_pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                url_pattern(value)
            except (re.error, OverflowError, RecursionError) as error:
                raise ValueError(f"not a valid regular expression after re: ({error})") from None
        return value


FormFieldType = Literal["string", "text", "integer", "number", "boolean", "date", "choice"]


class FormField(Frozen):
    """A field of the form a human completes (e.g. the slot to book)."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str = ""
    type: FormFieldType = "string"
    required: bool = True
    choices: tuple[Any, ...] | str | None = Field(
        None, description="Allowed values, or an expression giving them (e.g. the free slots)."
    )
    default: Any = None
    description: str = ""


class StepBase(Frozen):
    """What every step may carry."""

    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$",
        description="Names the step in runs, logs and checkpoints.",
    )
    name: str | None = Field(None, description="A human-readable title.")
    when: Condition | None = Field(
        None, description="Run the step only when this is true: an expression, or true/false."
    )
    retry: RetryPolicy | None = Field(None, description="Retry on system exceptions.")
    timeout: Duration | None = Field(None, description="Fail the step (a system exception) after this long.")
    on_error: tuple[Step, ...] | None = Field(
        None, description="Steps run when this step fails; the run then goes on."
    )
    location: Location | None = Field(
        None, exclude=True, description="Where the step was written (set by the loader)."
    )

    @property
    def kind(self) -> str:
        """The step kind's keyword (``decide``, ``if``...) or, for an action, its name."""
        raise NotImplementedError


class ActionStep(StepBase):
    """Run one registered action: ``web.fill: {label: Street, value: ...}``."""

    action: str
    params: Any = None
    as_: str | None = Field(None, alias="as", pattern=NAME_PATTERN)

    @property
    def kind(self) -> str:
        return self.action


class DecideStep(StepBase):
    """Ask a business rule (decision table or Python decision) and keep its answer."""

    decide: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    as_: str | None = Field(None, alias="as", pattern=NAME_PATTERN)

    @property
    def kind(self) -> str:
        return "decide"


class SetStep(StepBase):
    """Set variables: ``set: {name: value, ...}``."""

    set: dict[str, Any]

    @property
    def kind(self) -> str:
        return "set"


class IfStep(StepBase):
    """Choose a branch: ``if: "{{ cond }}"``, ``then: [...]``, ``else: [...]``."""

    if_: Condition = Field(alias="if", description="An expression, or true/false.")
    then: tuple[Step, ...]
    else_: tuple[Step, ...] = Field((), alias="else")

    @property
    def kind(self) -> str:
        return "if"


class ForEachStep(StepBase):
    """Run ``steps`` once per item of a list; the item is named by ``as`` (default ``item``)."""

    for_each: Items = Field(description="A list, or an expression giving one.")
    as_: str = Field("item", alias="as", pattern=NAME_PATTERN)
    steps: tuple[Step, ...]

    @property
    def kind(self) -> str:
        return "for_each"


class CallStep(StepBase):
    """Run another workflow with ``with`` as its input; ``as`` keeps its outputs."""

    call: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    as_: str | None = Field(None, alias="as", pattern=NAME_PATTERN)

    @property
    def kind(self) -> str:
        return "call"


IDEMPOTENT_DESCRIPTION = (
    "The author's word that running these steps twice changes nothing twice (a search form, an "
    "app that refuses duplicates): 'run.py validate' then does not ask for an 'ensure' here."
)


class InStep(StepBase):
    """Run ``steps`` inside a system's session (its browser context, logged in)."""

    in_: str = Field(alias="in")
    steps: tuple[Step, ...]
    idempotent: bool = Field(False, description=IDEMPOTENT_DESCRIPTION)

    @property
    def kind(self) -> str:
        return "in"


class BlockStep(StepBase):
    """A group of steps, to retry, time out or handle errors together."""

    steps: tuple[Step, ...]
    idempotent: bool = Field(False, description=IDEMPOTENT_DESCRIPTION)

    @property
    def kind(self) -> str:
        return "steps"


class EnsureStep(StepBase):
    """Check, change, verify: make a state of a system hold, changing it at most once.

    ``check`` reads the state, ``holds`` says whether it is already as wanted; only when it is
    not do the ``change`` steps run, then ``verify`` (default: ``check`` again) reads the state
    once more and ``holds`` must be true. A run that starts again after a crash or a retry
    finds the work done in its check and changes nothing twice.
    """

    ensure: str = Field(description="What must hold, in words (the step's title in the timeline).")
    check: tuple[Step, ...] = Field(description="Steps that read the system's state (keep values with 'as').")
    holds: Condition = Field(
        description="True when the state is as wanted: an expression over what 'check' read."
    )
    change: tuple[Step, ...] = Field(
        description="Steps that change the state; run only when it does not hold."
    )
    verify: tuple[Step, ...] = Field(
        (), description="Steps that read the state after the change (default: the 'check' steps again)."
    )
    as_: str | None = Field(
        None,
        alias="as",
        pattern=NAME_PATTERN,
        description="Keeps {changed: true/false}: whether this run made the change.",
    )

    @property
    def kind(self) -> str:
        return "ensure"


def _checked_priority(value: Any) -> Any:
    """A priority as written: an expression is checked when it runs, anything else now."""
    if expressions.is_template(value) or expressions.has_env_ref(value):
        return value
    return task_priority(value)


Priority = Annotated[
    Any,
    AfterValidator(_checked_priority),
    Field(description="Higher is more urgent: a whole number, or an expression."),
]


OUTCOME_NAMES = ("corrected", "done_by_hand", "rejected", "postponed", "cancelled")
"""How a person may end a human task (see docs/control-room.md, "Outcomes")."""


class OutcomeSpec(Frozen):
    """What one outcome of a human task means for the customer: the status page's words and
    the mail they get. Unset parts keep the orchestrator's defaults."""

    label: str | None = Field(None, description="The button on the task page, e.g. 'Book the agreed slot'.")
    title: str | None = Field(None, description="The status page's headline, e.g. 'Booked by our team'.")
    text: str | None = Field(
        None,
        description="The status page's explanation; {reason}, {note}, {until} and an input "
        "field's {name} are filled in by the orchestrator.",
    )
    mail: str | bool | None = Field(
        None, description="A templates/mail/<name> to send the customer, or false for no mail."
    )
    robot: bool = Field(
        False,
        description="postponed only: at the time given a robot runs the workflow again from its first "
        "step (e.g. to read the free slots again) instead of the task just coming back.",
    )


def _outcome_mapping(value: Any) -> Any:
    # A plain list names the outcomes offered, each with the default texts.
    if isinstance(value, list | tuple):
        return {name: {} for name in value}
    return value


def _corrected_says_nothing(value: dict[str, OutcomeSpec | None]) -> dict[str, OutcomeSpec | None]:
    corrected = value.get("corrected")
    if corrected is not None and (corrected.title or corrected.text or corrected.mail):
        raise ValueError(
            "corrected: give it only a label: the case goes back to a robot, and the customer reads "
            "the words of its state (the workflow's customer_status), not a title, text or mail"
        )
    return value


Outcomes = Annotated[
    dict[Literal["corrected", "done_by_hand", "rejected", "postponed", "cancelled"], OutcomeSpec | None],
    BeforeValidator(_outcome_mapping),
    AfterValidator(_corrected_says_nothing),
]
"""The outcomes a human task offers: a list of names or a mapping name -> texts (None: every
outcome with the default texts)."""


class EscalateSpec(Frozen):
    """Hand the case to a human queue; the run ends here."""

    queue: str
    reason: str
    data: Any = Field(default_factory=dict, description="What the robot gathered, shown to the agent.")
    priority: Priority = 0
    form: tuple[FormField, ...] = ()
    outcomes: Outcomes | None = Field(
        None, description="The outcomes the task offers and what the customer is told for each."
    )


class EscalateStep(StepBase):
    """A business exception by design: the case goes to a human with the data gathered."""

    escalate: EscalateSpec

    @property
    def kind(self) -> str:
        return "escalate"


class AwaitHumanSpec(Frozen):
    """Ask a human and wait: the run pauses until the task is completed."""

    queue: str
    reason: str
    data: Any = Field(default_factory=dict)
    form: tuple[FormField, ...] = ()
    priority: Priority = 0
    outcomes: Outcomes | None = Field(
        None, description="The outcomes the task offers and what the customer is told for each."
    )
    reopen: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$",
        description="The id of an earlier await_human step in the same list of steps: its task is "
        "put in front of the person again with this reason, data and form (no second task).",
    )


class AwaitHumanStep(StepBase):
    """Create a human task with a form and continue with the answer (``as``)."""

    await_human: AwaitHumanSpec
    as_: str = Field("answer", alias="as", pattern=NAME_PATTERN)

    @property
    def kind(self) -> str:
        return "await_human"


CALLOUT_LEVELS = ("info", "success", "warning", "alert")


class CalloutSpec(Frozen):
    """A real-time pop-up for agents."""

    title: str
    message: str = ""
    queue: str | None = Field(None, description="Agents of this queue see it.")
    agent: str | None = Field(None, description="Only this agent sees it.")
    data: Any = Field(default_factory=dict)
    hints: Any = Field(default_factory=list)
    level: str = Field("info", description="info, success, warning or alert (or an expression giving one).")

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value not in CALLOUT_LEVELS and "{{" not in value:
            raise ValueError(f"use one of {', '.join(CALLOUT_LEVELS)}, got {value!r}")
        return value


class CalloutStep(StepBase):
    """Push a callout to agents."""

    callout: CalloutSpec

    @property
    def kind(self) -> str:
        return "callout"


class OutputStep(StepBase):
    """Set outputs of the run: what the case reports back to the channel."""

    output: dict[str, Any]

    @property
    def kind(self) -> str:
        return "output"


class FailSpec(Frozen):
    """Stop with an exception of the given kind."""

    message: str
    kind: Literal["business", "system"] = "business"


class FailStep(StepBase):
    """Raise a business or system exception on purpose."""

    fail: FailSpec

    @property
    def kind(self) -> str:
        return "fail"


Step = Union[  # noqa: UP007 - a recursive alias pydantic resolves by name
    ActionStep,
    DecideStep,
    SetStep,
    IfStep,
    ForEachStep,
    CallStep,
    InStep,
    BlockStep,
    EnsureStep,
    EscalateStep,
    AwaitHumanStep,
    CalloutStep,
    OutputStep,
    FailStep,
]

CONTROL_KEYWORDS: dict[str, type[StepBase]] = {
    "decide": DecideStep,
    "set": SetStep,
    "if": IfStep,
    "for_each": ForEachStep,
    "call": CallStep,
    "in": InStep,
    "ensure": EnsureStep,
    "escalate": EscalateStep,
    "await_human": AwaitHumanStep,
    "callout": CalloutStep,
    "output": OutputStep,
    "fail": FailStep,
}
"""The keyword that makes a mapping a step of that kind (``steps`` alone makes a block)."""

COMMON_KEYS = {"id", "name", "when", "retry", "timeout", "on_error"}

SPEC_SHORTHANDS: dict[str, str] = {"fail": "message", "callout": "title"}
"""Keywords whose spec may be one text, and the field it fills (``fail: "no contract"``)."""

WHEN_IN_SPEC = frozenset({"escalate", "callout"})
"""Keywords whose spec may hold the step's ``when`` (``escalate: {when: ..., queue: ...}``)."""


CASE_STATES = (
    "queued",
    "running",
    "waiting_human",
    "done",
    "done_by_hand",
    "rejected",
    "failed_business",
    "failed_system",
    "cancelled",
)
"""The states of a case a customer's status page speaks of (``customer_status``)."""

LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")


def _languages(value: Any) -> Any:
    if isinstance(value, dict):
        wrong = [str(key) for key in value if not LANGUAGE_CODE.match(str(key))]
        if wrong:
            raise ValueError(
                f"language {', '.join(map(repr, wrong))}: name each language by its two-letter code "
                "in lower case, e.g. {de: ..., en: ...}"
            )
        if not value:
            raise ValueError("give the text, or a mapping from language to text, e.g. {de: ..., en: ...}")
    return value


CustomerText = Annotated[str | dict[str, str], BeforeValidator(_languages)]
"""A text a customer reads: the same in every language, or per language (``{de: ..., en: ...}``)."""


def in_language(text: str | dict[str, str] | None, language: str) -> str | None:
    """``text`` for a customer who reads ``language``: its own, else English, else the first
    one written; None when there is no text."""
    if text is None or isinstance(text, str):
        return text
    return text.get(language) or text.get("en") or next(iter(text.values()), None)


class StatusWords(Frozen):
    """What a customer's status page says about a case in one state."""

    title: CustomerText | None = Field(None, description="The headline, e.g. 'Booked' (or per language).")
    text: CustomerText | None = Field(
        None, description="The explanation, e.g. 'Your delivery appointment is booked.' (or per language)."
    )

    @model_validator(mode="after")
    def _something(self) -> StatusWords:
        if self.title is None and self.text is None:
            raise ValueError("give a title, a text or both (or leave the state out for the default words)")
        return self


class CustomerStatus(Frozen):
    """What the customer's status page says per case state; a state left out keeps the
    general words (docs/control-room.md, "What the customer reads"). Only ``done`` (a robot
    ran the workflow to its end, verifying each effect) and ``done_by_hand`` (a person recorded
    doing it) may tell the customer it is done."""

    heading: CustomerText | None = Field(None, description="The page's heading, e.g. 'Your address change'.")
    queued: StatusWords | None = Field(None, description="Received, not started yet.")
    running: StatusWords | None = Field(None, description="A robot works on it now.")
    waiting_human: StatusWords | None = Field(None, description="A person works on it (or will).")
    done: StatusWords | None = Field(
        None, description="A robot ran the workflow to its end: the effect is verified."
    )
    done_by_hand: StatusWords | None = Field(None, description="A person recorded doing the work by hand.")
    rejected: StatusWords | None = Field(None, description="A person refused it with a reason.")
    failed_business: StatusWords | None = Field(
        None, description="It cannot go on as asked; a person takes over."
    )
    failed_system: StatusWords | None = Field(None, description="The systems failed; a person takes over.")
    cancelled: StatusWords | None = Field(None, description="Cancelled by the service.")


class Workflow(Frozen):
    """One business process: typed input, the systems it uses, its steps and outputs."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique name; `call` and cases use it.")
    description: str = Field("", description="What the process does, for people.")
    version: str | int = Field(1, description="Version of the process definition.")
    input: dict[str, InputField] = Field(default_factory=dict, description="The case payload's fields.")
    systems: dict[str, SystemSpec] = Field(default_factory=dict, description="Applications used.")
    runs_in: Literal["web", "desktop", "terminal"] | None = Field(
        None,
        description="For login workflows and screen routines called inside an 'in' block: "
        "their steps run in the caller's session of a system of this kind.",
    )
    steps: tuple[Step, ...] = Field(description="What the robot does, in order.")
    outputs: dict[str, Any] = Field(default_factory=dict, description="Values reported at the end.")
    on_error: tuple[Step, ...] = Field((), description="Steps run when the run fails; it still fails.")
    queue: str = Field("exceptions", description="Human queue for exceptions nobody handled.")
    max_attempts: int = Field(
        3, ge=1, le=100, description="How often a case is tried on system exceptions (1-100)."
    )
    manual_minutes: float = Field(
        0, ge=0, le=24 * 60, description="Minutes a person needs for one case by hand (at most a day)."
    )
    customer_status: CustomerStatus = Field(
        default_factory=CustomerStatus,
        description="What the customer's status page says per case state (title, text; each the same "
        "in every language or per language); states left out keep the general words.",
    )
    step_screenshots: bool = Field(
        False,
        description="Keep a small picture of the page after each web step of a case (the case page "
        "shows it beside the step, live while the case runs). It may show customer data: it is kept "
        "and shown like a failure's screenshot.",
    )
    file: str = Field("", exclude=True, description="The file it was read from (set by the loader).")


for _model in (
    StepBase,
    ActionStep,
    DecideStep,
    SetStep,
    IfStep,
    ForEachStep,
    CallStep,
    InStep,
    BlockStep,
    EnsureStep,
    EscalateStep,
    AwaitHumanStep,
    CalloutStep,
    OutputStep,
    FailStep,
    Workflow,
):
    _model.model_rebuild()


def _loader_fields() -> frozenset[str]:
    names: set[str] = set()
    models: list[type[BaseModel]] = [Frozen]
    while models:
        model = models.pop()
        models += model.__subclasses__()
        names.update(name for name, field in model.model_fields.items() if field.exclude)
    return frozenset(names)


LOADER_FIELDS = _loader_fields()
"""The fields the loader sets itself (where a value was written, the file), marked
``exclude=True``: never in ``model_dump``, left out of the JSON Schema, never offered as
keys to write."""


def child_blocks(step: StepBase) -> list[tuple[str, tuple[StepBase, ...]]]:
    """The nested step lists of a step, each with the label its path segment uses."""
    blocks: list[tuple[str, tuple[StepBase, ...]]] = []
    if isinstance(step, IfStep):
        blocks += [("then", step.then), ("else", step.else_)]
    elif isinstance(step, ForEachStep | InStep | BlockStep):
        blocks.append(("steps", step.steps))
    elif isinstance(step, EnsureStep):
        blocks += [("check", step.check), ("change", step.change), ("verify", step.verify)]
    if step.on_error:
        blocks.append(("on_error", step.on_error))
    return blocks


def walk(steps: tuple[StepBase, ...]) -> list[StepBase]:
    """Every step, nested ones included, in document order."""
    found: list[StepBase] = []
    for step in steps:
        found.append(step)
        for _, block in child_blocks(step):
            found += walk(block)
    return found


def not_a_process(workflow: Workflow) -> str | None:
    """Why a case cannot start ``workflow`` (a routine that runs inside a system's session), or None."""
    if workflow.runs_in is None:
        return None
    return (
        f"{workflow.name!r} runs inside a {workflow.runs_in} system's session (runs_in: {workflow.runs_in}): "
        "it is a login or screen routine that workflows call, not a process a case can start; "
        "start a workflow that uses it"
    )
