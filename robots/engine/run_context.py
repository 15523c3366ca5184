"""What one run carries while the engine walks its steps, and the helpers every step kind uses.

Owns the run in progress (``ActiveRun``: its record, masker, listener, the effects of the
steps under way, the system and session of the ``in`` block it is in, its deadlines), a
workflow invocation's variables and outputs (``CallFrame``), the ``RunListener`` that sees
steps start and end and stores checkpoints, and the small helpers every step kind shares:
evaluating a step's expressions (``render``), setting a variable (``assign``), values as a
checkpoint stores them (``json_safe``), the step's ``idempotency_key`` and the
``DataError`` and ``unexpected_error`` a step's own failures become.
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger

from robots.engine.records import RunRecord, StepRecord
from robots.errors import BusinessException, ExpressionError, SystemException
from robots.language import expressions
from robots.language.model import Workflow
from robots.masking import Masker


class DataError(BusinessException):
    """A value the workflow computed does not fit (undefined name, wrong type): no retry helps."""


class RunListener:
    """Receives steps as they start and finish (the CLI's live timeline, the orchestrator)."""

    def step_started(self, record: StepRecord) -> None:
        """A step (or an attempt of it) began."""

    def step_finished(self, record: StepRecord) -> None:
        """A step (or an attempt of it) ended; ``record.outcome`` says how."""

    def checkpoint(self, run: RunRecord) -> None:
        """A step completed: persist ``run.state`` to resume from here."""

    def finished(self, run: RunRecord) -> None:
        """The run ended (any status); by default its final state is one more checkpoint."""
        self.checkpoint(run)


@dataclass
class CallFrame:
    """The variables and outputs of one workflow invocation (the top one or a ``call``)."""

    workflow: Workflow
    scope: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""


@dataclass
class ActiveRun:
    """One run of one case while the engine walks it (the engine's own bookkeeping)."""

    record: RunRecord
    masker: Masker
    artifacts: Path
    call_chain: list[str]
    attempt: int
    listener: RunListener
    effects: list[dict[str, Any]] = field(default_factory=list)
    atomic_depth: int = 0
    system: str | None = None
    session: Any = None
    deadlines: list[float] = field(default_factory=list)
    depth: int = 0
    unsaved: bool = False  # a step with effects completed since the last checkpoint
    case: dict[str, Any] = field(default_factory=dict)  # what workflows read as ``case``
    pictures_asked: bool = False  # the case's workflow asks for step screenshots (or the robot does)
    pictures: bool = False  # the steps running now get a step screenshot (set per ``in`` block)


def idempotency_key(case_id: str, path: str) -> str:
    """A key that is the same for the same step of the same case, in every attempt and run."""
    return hashlib.sha256(f"{case_id}:{path}".encode()).hexdigest()[:24]


def utc_now() -> datetime:
    """The time now, in UTC (step and run records)."""
    return datetime.now(UTC)


def json_safe(value: Any) -> Any:
    """Values as they can be stored in a checkpoint (JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "model_dump"):
        return json_safe(value.model_dump(mode="json"))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def render(run: ActiveRun, frame: CallFrame, value: Any, where: str) -> Any:
    """``value`` with its expressions evaluated in ``frame``'s scope; a bad one is a ``DataError``."""
    try:
        return expressions.render(value, frame.scope, where=where)
    except ExpressionError as error:
        raise DataError(run.masker.mask_text(str(error))) from None


def assign(run: ActiveRun, frame: CallFrame, name: str, value: Any) -> None:
    """Set a variable of ``frame``, and count it among the effects of the step that set it."""
    frame.scope[name] = value
    if run.effects:
        run.effects[-1]["vars"][name] = value


def restore_effects(frame: CallFrame, effects: dict[str, Any]) -> None:
    """Put back the variables and outputs a completed step left (from a checkpoint)."""
    frame.scope.update(effects.get("vars", {}))
    frame.outputs.update(effects.get("outputs", {}))


def unexpected_error(run: ActiveRun, what: str, error: Exception) -> SystemException:
    """A system exception for an error that Python code of a step (an action, a Python
    decision) raised without meaning to: retried like any system failure, its message kept.

    Only code written for steps is wrapped this way; what the run's listener or the human
    gateway raises (a lost lease, the database away) is the caller's to handle.
    """
    logger.debug("{} raised:\n{}", what, run.masker.mask_text(traceback.format_exc()))
    return SystemException(run.masker.mask_text(f"{what} failed: {type(error).__name__}: {error}"))
