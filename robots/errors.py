"""Every error Tandem raises, in one place.

::

    TandemError                       base of everything below
    ├── DefinitionError               a workflow, rule table or config file is wrong
    │     (carries a list of located Problems; raised at load/validate time)
    ├── ExpressionError               a template failed at run time (undefined name, bad call)
    └── RobotException                a step failed while a robot ran a case
          ├── BusinessException       the data or the business situation is wrong:
          │     │                     never retried, goes to a human
          │     ├── Escalated         an `escalate` step handed the case to a human
          │     └── DecisionError     a decision table could not decide (no/too many hits)
          └── SystemException         the machine failed (timeout, app down, element missing):
                ├── StepTimeout       retried with backoff, then goes to a human
                └── LoginRefused      the app refused the robot's login: not retried

``WaitingForHuman`` is not an error: it is how an ``await_human`` step suspends a run
until an agent answers. It derives from ``BaseException`` so no ``on_error`` handler and no
``except Exception`` in an action can swallow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition file, located to the character."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def quoted(value: Any, limit: int = 60) -> str:
    """A value a user wrote, quoted for a message: its ``repr``, shortened when long (a
    400-digit number would otherwise fill the screen)."""
    text = repr(value).replace("\n", " ")  # one line (a str's repr has none; some objects' do)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


class TandemError(Exception):
    """Base of all of Tandem's own errors."""


class DefinitionError(TandemError):
    """A definition (workflow, decision table, schedule) has problems; all are listed."""

    def __init__(self, problems: list[Problem], partial: Any = None) -> None:
        self.problems = list(problems)
        #: What could be read despite the problems (the valid steps), so references can be
        #: checked too and every problem is reported at once; None when nothing was usable.
        self.partial = partial
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(str(p) for p in self.problems))


class ExpressionError(TandemError):
    """A template could not be evaluated; says which name, which template and which step."""


class RobotException(TandemError):
    """A failure while running a case. ``retryable`` says whether trying again can help."""

    retryable: bool = False
    kind: str = "error"

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = dict(data or {})


class BusinessException(RobotException):
    """The data or the business situation is wrong: a human must look, a retry cannot help."""

    retryable = False
    kind = "business"


class SystemException(RobotException):
    """The machine failed (timeout, app down, element missing): a retry may help."""

    retryable = True
    kind = "system"


class StepTimeout(SystemException):
    """A step ran longer than its ``timeout``."""


class LoginRefused(SystemException):
    """The application refused the robot's login (a wrong or expired password): trying again
    with the same credentials cannot help, so the step is not retried."""

    retryable = False


class DecisionError(BusinessException):
    """A decision table matched no rule (and has no default) or, for `unique`, several."""


@dataclass
class HumanTaskRequest:
    """What a robot hands to a human: the queue, why, and the data gathered so far."""

    queue: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)
    form: list[dict[str, Any]] = field(default_factory=list)
    priority: int = 0
    step: str = ""
    kind: str = "escalation"  # "escalation" or "await_human"
    # The outcomes offered (name -> customer texts / mail); empty: every outcome, default texts.
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)


class Escalated(BusinessException):
    """An ``escalate`` step handed the case to a human queue; the run ends here."""

    def __init__(self, request: HumanTaskRequest, task_id: str) -> None:
        super().__init__(f"escalated to queue {request.queue!r}: {request.reason}")
        self.request = request
        self.task_id = task_id


class WaitingForHuman(BaseException):
    """An ``await_human`` step is waiting for an agent's answer; the run is suspended."""

    def __init__(self, task_id: str, step: str) -> None:
        super().__init__(f"waiting for human task {task_id} at step {step}")
        self.task_id = task_id
        self.step = step
