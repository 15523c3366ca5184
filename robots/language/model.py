"""The workflow as typed, immutable data: one business process and what it declares.

The loader (``robots.language.loader``) turns YAML into these objects; the engine
(``robots.engine.runner``) walks them; ``run.py schema`` and ``run.py validate`` are walks too.
Nothing here runs anything.

Owns the ``Workflow`` with its input fields (``InputField``), the systems it uses
(``SystemSpec``, ``url_pattern``), what its customers read per case state
(``CustomerStatus``, ``in_language``), the fields only the loader sets (``LOADER_FIELDS``)
and ``not_a_process``. The kinds of step are ``robots.language.steps``; durations,
priorities and the frozen base model are ``robots.language.model_values``.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from robots.language.model_values import NAME_PATTERN, Frozen, Location
from robots.language.steps import Step

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


Workflow.model_rebuild()


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


def not_a_process(workflow: Workflow) -> str | None:
    """Why a case cannot start ``workflow`` (a routine that runs inside a system's session), or None."""
    if workflow.runs_in is None:
        return None
    return (
        f"{workflow.name!r} runs inside a {workflow.runs_in} system's session (runs_in: {workflow.runs_in}): "
        "it is a login or screen routine that workflows call, not a process a case can start; "
        "start a workflow that uses it"
    )
