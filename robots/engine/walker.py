"""The step walker: how the engine goes through a list of steps for one case.

Owns what every step goes through whatever its kind: the step's path and timeline label,
``when``, resuming from a checkpoint, the checkpoint units and when a checkpoint is written,
retries with backoff, ``timeout`` deadlines (SIGALRM), a step's own ``on_error`` steps, the
step records the listener sees and the step screenshots of "watch a robot". What one step
of each kind does is ``runner.Engine._execute``.

Checkpoint units: a step outside any ``in`` block or retried group is checkpointed on its
own; an ``in`` block or a group with ``retry`` is one unit (on resume it runs again as a
whole, because a half-done screen cannot be continued in a new session).

When checkpoints are written: before a step with effects outside the run begins, every
completed step is stored (one write for all since the last), and the run's end stores the
rest (``RunListener.finished``). So no effect ever starts while an earlier one is not yet
recorded, and a case that does A, B, C writes before B, before C and at the end — not after
every step. Steps without effects outside the run (``decide``, ``set``, ``output``) never
cause a write: if the run stops before their completion is stored, they are evaluated again.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from loguru import logger

from robots.drivers.systems import SystemSessions
from robots.engine.records import StepRecord
from robots.engine.run_context import ActiveRun, CallFrame, json_safe, render, restore_effects, utc_now
from robots.errors import Escalated, RobotException, StepTimeout, SystemException, WaitingForHuman
from robots.language import expressions
from robots.language.registry import get_action
from robots.language.steps import (
    ActionStep,
    AwaitHumanStep,
    BlockStep,
    CallStep,
    DecideStep,
    EnsureStep,
    EscalateStep,
    ForEachStep,
    IfStep,
    InStep,
    OutputStep,
    SetStep,
    StepBase,
)


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters for a timeline label, never inside a
    ``{{ expression }}``: an expression the cut would split is kept whole when it ends soon
    after, else left out; "…" marks a cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    opened = cut.rfind("{{")
    if opened > cut.rfind("}}"):
        closed = text.find("}}", opened)
        ends_soon = closed != -1 and closed + 2 <= limit + 40
        cut = text[: closed + 2] if ends_soon else text[:opened].rstrip()
    return cut + "…" if len(cut) < len(text) else cut


class TimeoutSignal(BaseException):
    """Raised by SIGALRM inside a step that ran past its deadline; BaseException so no
    ``except Exception`` in an action can swallow it (as Robot Framework's timeouts)."""


# Steps whose only effects are the run's own variables and outputs: running one again on
# resume gives the same result, so neither their start nor their end needs a write.
_PURE_STEPS = (DecideStep, SetStep, OutputStep)


class StepWalker:
    """The base of the ``Engine``: walks its steps, with every step's path, record, checkpoint,
    retries and deadline; the ``Engine`` says what a step of each kind does (``_execute``)."""

    systems: SystemSessions
    sleep: Callable[[float], None]

    def _execute(self, run: ActiveRun, frame: CallFrame, step: StepBase, path: str, attempt: int) -> Any:
        """Do what ``step`` of its kind does, once; the step's outputs."""
        raise NotImplementedError

    def _steps(self, run: ActiveRun, frame: CallFrame, steps: tuple[StepBase, ...], prefix: str) -> None:
        for index, step in enumerate(steps):
            segment = step.id or str(index + 1)
            path = f"{prefix}.{segment}" if prefix else segment
            self._step(run, frame, step, frame.prefix + path if not prefix else path)

    def _label(self, step: StepBase) -> str:
        if step.name or step.id:
            return str(step.name or step.id)
        if isinstance(step, ActionStep):
            shown = (
                step.params
                if not isinstance(step.params, dict)
                else ", ".join(f"{k}={v}" for k, v in list(step.params.items())[:2])
            )
            return _shorten(f"{step.action} {shown}".strip(), 80)
        if isinstance(step, DecideStep):
            return f"decide {step.decide}"
        if isinstance(step, CallStep):
            return f"call {step.call}"
        if isinstance(step, InStep):
            return f"in {step.in_}"
        if isinstance(step, EnsureStep):
            return _shorten(f"ensure {step.ensure}", 80)
        if isinstance(step, EscalateStep):
            return f"escalate to {step.escalate.queue}"
        if isinstance(step, AwaitHumanStep):
            return f"await human in {step.await_human.queue}"
        return step.kind

    def _is_unit(self, step: StepBase) -> bool:
        # An ensure is one unit: on resume its check must read the system again, never be
        # restored from a checkpoint taken before the change.
        return isinstance(step, InStep | EnsureStep) or (
            step.retry is not None and isinstance(step, BlockStep | IfStep | ForEachStep | CallStep)
        )

    def _start(self, run: ActiveRun, step: StepBase, path: str, attempt: int = 1) -> StepRecord:
        record = StepRecord(
            path=path,
            kind=step.kind,
            label=run.masker.mask_text(self._label(step)),
            depth=run.depth,
            attempt=attempt,
            started_at=utc_now(),
            system=run.system,
        )
        run.record.steps.append(record)
        run.listener.step_started(record)
        return record

    def _end(
        self,
        run: ActiveRun,
        record: StepRecord,
        outcome: Any,
        *,
        outputs: Any = None,
        error: BaseException | None = None,
    ) -> None:
        record.ended_at = utc_now()
        record.duration_ms = (record.ended_at - record.started_at).total_seconds() * 1000
        record.outcome = outcome
        if outputs is not None:
            record.outputs = run.masker.mask(json_safe(outputs))
        if error is not None:
            record.error = run.masker.mask_text(getattr(error, "message", None) or str(error))
            record.error_kind = getattr(error, "kind", None)
        run.listener.step_finished(record)

    def _step(self, run: ActiveRun, frame: CallFrame, step: StepBase, path: str) -> None:
        checkpointed = run.atomic_depth == 0
        done = run.record.state.completed.get(path) if checkpointed else None
        if done is not None:
            record = self._start(run, step, path)
            restore_effects(frame, done)
            self._end(run, record, "restored")
            return
        with logger.contextualize(step=path):
            if step.when is not None:
                try:
                    allowed = expressions.truthy(render(run, frame, step.when, f"step {path} (when)"))
                except RobotException as error:
                    error.data.setdefault("step", path)
                    raise
                if not allowed:
                    self._end(run, self._start(run, step, path), "skipped")
                    return
            unit = self._is_unit(step)
            collect = checkpointed and (
                unit or not isinstance(step, IfStep | ForEachStep | BlockStep | CallStep)
            )
            effectful = collect and not isinstance(step, _PURE_STEPS)
            if effectful:
                self._save(run)  # no effect starts before every earlier one is recorded
            if collect:
                run.effects.append({"vars": {}, "outputs": {}})
            if unit:
                run.atomic_depth += 1
            try:
                self._attempts(run, frame, step, path)
            finally:
                if unit:
                    run.atomic_depth -= 1
                effects = run.effects.pop() if collect else None
            # A step whose effects hold a secret is not checkpointed: it runs again on resume
            # (reading a secret has no side effect) and no secret is ever stored.
            if effects is not None and not run.masker.contains_secret(effects):
                run.record.state.completed[path] = json_safe(effects)
                run.unsaved = run.unsaved or effectful

    @staticmethod
    def _save(run: ActiveRun) -> None:
        """Checkpoint the steps completed since the last write, if one of them had effects."""
        if run.unsaved:
            run.unsaved = False
            run.listener.checkpoint(run.record)

    def _attempts(self, run: ActiveRun, frame: CallFrame, step: StepBase, path: str) -> None:
        attempts = step.retry.attempts if step.retry else 1
        for attempt in range(1, attempts + 1):
            # An ensure's record says whether it changed anything (its steps have their own).
            leaf = not isinstance(step, IfStep | ForEachStep | BlockStep | InStep | CallStep)
            record = self._start(run, step, path, attempt)
            run.depth += 1
            try:
                with self._deadline(run, step, path):
                    outputs = self._execute(run, frame, step, path, attempt)
                pictured = (
                    run.pictures
                    and isinstance(step, ActionStep)
                    and get_action(step.action).needs is not None
                    and self._step_screenshot(run, record)
                )
                self._end(run, record, "ok", outputs=outputs if leaf else None)
                if pictured:
                    # "Watch a robot": the step and its picture reach the case page now, not
                    # when its ``in`` block ends. The state saved with them is the last
                    # checkpoint's (the block is one unit) plus steps without effects.
                    run.unsaved = False
                    run.listener.checkpoint(run.record)
                return
            except WaitingForHuman:
                self._end(run, record, "waiting")
                raise
            except Escalated as error:
                error.data.setdefault("step", path)
                self._end(run, record, "escalated", error=error)
                raise
            except RobotException as error:
                error.data.setdefault("step", path)
                if isinstance(error, SystemException) and run.system is None and isinstance(step, InStep):
                    record.artifacts = self.systems.capture_failure(step.in_, run.artifacts)
                    self.systems.discard(step.in_)
                if (
                    isinstance(error, SystemException)
                    and error.retryable
                    and attempt < attempts
                    and step.retry
                ):
                    self._end(run, record, "retrying", error=error)
                    delay = step.retry.delay_before(attempt + 1)
                    logger.warning(
                        "step {} failed (attempt {}/{}), retrying in {:.1f}s: {}",
                        path,
                        attempt,
                        attempts,
                        delay,
                        run.masker.mask_text(error.message),
                    )
                    self.sleep(delay)
                    continue
                if step.on_error and not isinstance(error, Escalated):
                    self._end(run, record, "handled", error=error)
                    self._handle(run, frame, step, path, error)
                    return
                self._end(run, record, "failed", error=error)
                raise
            finally:
                run.depth -= 1

    def _step_screenshot(self, run: ActiveRun, record: StepRecord) -> bool:
        """Keep a small picture of the system's page with the step's record ("watch a
        robot"); whether there is one.

        A picture that cannot be taken (no page, a provider without pictures, a login running)
        is no reason to fail a step that did its work: the step just has none.
        """
        if run.system is None:
            return False
        name = f"step-{len(run.record.steps):04d}-{_safe_file_part(record.path)}-{record.attempt}"
        try:
            picture = self.systems.step_screenshot(run.system, run.artifacts, name)
        except Exception as error:  # the browser is gone: the next step will say so
            logger.debug("no step screenshot of {}: {}", record.path, error)
            return False
        if picture is None:
            return False
        record.artifacts = [*record.artifacts, picture]
        return True

    def _handle(
        self, run: ActiveRun, frame: CallFrame, step: StepBase, path: str, error: RobotException
    ) -> None:
        previous = frame.scope.get("error")
        frame.scope["error"] = {
            "kind": error.kind,
            "message": run.masker.mask_text(error.message),
            "step": path,
        }
        try:
            assert step.on_error is not None
            self._steps(run, frame, step.on_error, f"{path}.on_error")
        finally:
            if previous is None:
                frame.scope.pop("error", None)
            else:
                frame.scope["error"] = previous

    @contextlib.contextmanager
    def _deadline(self, run: ActiveRun, step: StepBase, path: str) -> Iterator[None]:
        if step.timeout is None:
            yield
            return
        deadline = time.monotonic() + step.timeout
        run.deadlines.append(deadline)
        use_signal = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        previous_handler: Any = None
        if use_signal:

            def on_alarm(signum: int, frame: Any) -> None:
                raise TimeoutSignal()

            previous_handler = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, max(0.001, min(run.deadlines) - time.monotonic()))
        try:
            yield
        except TimeoutSignal:
            if time.monotonic() >= deadline - 0.001:
                raise StepTimeout(
                    f"step {path} took longer than its timeout of {step.timeout:g}s",
                    data={"step": path},
                ) from None
            raise  # an outer step's deadline: let that step report it
        finally:
            run.deadlines.remove(deadline)
            if use_signal:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)
                if run.deadlines:
                    signal.setitimer(signal.ITIMER_REAL, max(0.001, min(run.deadlines) - time.monotonic()))
        if time.monotonic() > deadline:
            raise StepTimeout(
                f"step {path} took longer than its timeout of {step.timeout:g}s",
                data={"step": path},
            )


def _safe_file_part(path: str) -> str:
    """A step's path as part of a file name (``4[1].crm>login.2`` → ``4_1_.crm_login.2``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path)[:80]
