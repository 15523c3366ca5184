"""The kinds of step a workflow is made of, as typed, immutable data.

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

Owns the step models with their human-task parts (forms, priorities, outcomes, callouts),
the ``Step`` union, the keywords the loader reads them by (``CONTROL_KEYWORDS``) and the
walks over nested steps (``child_blocks``, ``walk``). The workflow that holds them is
``robots.language.model``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from robots.language import expressions
from robots.language.model_values import (
    NAME_PATTERN,
    Condition,
    Duration,
    Frozen,
    Items,
    Location,
    RetryPolicy,
    task_priority,
)

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
):
    _model.model_rebuild()


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
