"""The engine: walks a ``Workflow`` and runs it for one case.

It evaluates conditions, runs actions from the registry, applies retries with backoff and
timeouts, separates business from system exceptions, hands work to humans, and records
every step (masked) as the run's audit trail. It checkpoints completed steps, so a run
can be resumed (after a crash, or when a human answered) without repeating effects.

Checkpoint units: a step outside any ``in`` block or retried group is checkpointed on its
own; an ``in`` block or a group with ``retry`` is one unit (on resume it runs again as a
whole, because a half-done screen cannot be continued in a new session).

When checkpoints are written: before a step with effects outside the run begins, every
completed step is stored (one write for all since the last), and the run's end stores the
rest (``RunListener.finished``). So no effect ever starts while an earlier one is not yet
recorded, and a case that does A, B, C writes before B, before C and at the end — not after
every step. Steps without effects outside the run (``decide``, ``set``, ``output``) never
cause a write: if the run stops before their completion is stored, they are evaluated again.

Step screenshots ("watch a robot"): where the workflow or its system asks for them
(``step_screenshots: true``), or the robot's ``TANDEM_STEP_SCREENSHOTS`` says ``all``, each
step that completed an action in a web system's page leaves a small JPEG of the page in the
step's record, beside its failure evidence (``SystemSessions.step_screenshot``), and that
record is stored at once (a checkpoint of its own), so the case page shows the step while
its ``in`` block still runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import ValidationError

from robots.drivers.systems import SystemSessions, Unavailable
from robots.engine.human_gateway import Callout, HumanGateway, InMemoryHumans
from robots.engine.records import RunRecord, RunState, StepRecord
from robots.errors import (
    BusinessException,
    DefinitionError,
    Escalated,
    ExpressionError,
    HumanTaskRequest,
    RobotException,
    StepTimeout,
    SystemException,
    TandemError,
    WaitingForHuman,
    quoted,
)
from robots.language import expressions
from robots.language.inputs import InputError, personal_values, validate_input
from robots.language.model import (
    ActionStep,
    AwaitHumanStep,
    BlockStep,
    CalloutStep,
    CallStep,
    DecideStep,
    EnsureStep,
    EscalateStep,
    FailStep,
    ForEachStep,
    FormField,
    IfStep,
    InStep,
    OutputStep,
    SetStep,
    StepBase,
    Workflow,
    task_priority,
)
from robots.language.project import Project
from robots.language.registry import ActionContext, get_action
from robots.masking import PROCESS_MASKER, Masker


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


STEP_SCREENSHOT_MODES = {
    "workflow": "a picture after each web step of the workflows (or systems) that ask for it "
    "with step_screenshots: true",
    "all": "a picture after every web step of every case (e.g. while watching a new workflow)",
    "off": "no step pictures, whatever the workflows ask (a robot that must keep no pictures)",
}


def step_screenshot_mode(value: str | None = None) -> str:
    """The step screenshot mode: ``value``, else ``TANDEM_STEP_SCREENSHOTS``, else ``workflow``."""
    mode = (value or os.environ.get("TANDEM_STEP_SCREENSHOTS") or "workflow").strip().lower()
    if mode not in STEP_SCREENSHOT_MODES:
        raise ValueError(
            f"TANDEM_STEP_SCREENSHOTS={mode!r} is not a step screenshot mode: use one of "
            f"{', '.join(STEP_SCREENSHOT_MODES)}"
        )
    return mode


class DataError(BusinessException):
    """A value the workflow computed does not fit (undefined name, wrong type): no retry helps."""


class _TimeoutSignal(BaseException):
    """Raised by SIGALRM inside a step that ran past its deadline; BaseException so no
    ``except Exception`` in an action can swallow it (as Robot Framework's timeouts)."""


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
class _Frame:
    """The variables and outputs of one workflow invocation (the top one or a ``call``)."""

    workflow: Workflow
    scope: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""


# Steps whose only effects are the run's own variables and outputs: running one again on
# resume gives the same result, so neither their start nor their end needs a write.
_PURE_STEPS = (DecideStep, SetStep, OutputStep)


@dataclass
class _Run:
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


def _now() -> datetime:
    return datetime.now(UTC)


def _json_safe(value: Any) -> Any:
    """Values as they can be stored in a checkpoint (JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "model_dump"):
        return _json_safe(value.model_dump(mode="json"))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class Engine:
    """Runs workflows of a ``Project``.

    ``humans`` receives escalations, ``await_human`` tasks and callouts; ``systems`` opens
    sessions for ``in`` blocks; ``services`` are backends actions may use (``mail``,
    ``vault``...). ``escalate_system_failures=False`` leaves a failed system run to the
    caller (the orchestrator retries the case before escalating). ``step_screenshots`` is
    a mode of ``STEP_SCREENSHOT_MODES`` (default: ``TANDEM_STEP_SCREENSHOTS``, else
    ``workflow``).
    """

    def __init__(
        self,
        project: Project | None = None,
        *,
        humans: HumanGateway | None = None,
        systems: SystemSessions | None = None,
        services: dict[str, Any] | None = None,
        robot: str = "local",
        artifacts_dir: Path | str | None = None,
        escalate_system_failures: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        step_screenshots: str | None = None,
    ) -> None:
        self.project = project or Project()
        self.humans = humans or InMemoryHumans()
        self.systems = systems or Unavailable()
        self.services = dict(services or {})
        self.services.setdefault("humans", self.humans)
        self.robot = robot
        if artifacts_dir is None:  # the project's data folder, never the folder Python runs in
            from robots.language.project_paths import artifacts_dir as project_artifacts

            artifacts_dir = project_artifacts(self.project.root)
        self.artifacts_dir = Path(artifacts_dir)
        self.escalate_system_failures = escalate_system_failures
        self.sleep = sleep
        self.step_screenshots = step_screenshot_mode(step_screenshots)

    # -- a run ---------------------------------------------------------------------------

    def run(
        self,
        workflow: Workflow | str,
        inputs: Mapping[str, Any],
        *,
        case_id: str | None = None,
        run_id: str | None = None,
        state: RunState | None = None,
        attempt: int = 1,
        listener: RunListener | None = None,
        case_values: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Run one case to its end, a human, or a failure; the run's record.

        Pass the ``state`` of an earlier run of the same case to resume it: completed steps
        are skipped (their effects restored), answered human tasks give their answers.
        ``case_values``: what the workflow reads under ``case`` besides ``case.id``, e.g.
        ``status_url`` (the customer's status link, which the orchestrator gives when the
        server's public URL is configured; "" otherwise).
        """
        flow = workflow if isinstance(workflow, Workflow) else self.project.workflow(workflow)
        case_id = case_id or f"local-{uuid.uuid4().hex[:12]}"
        run_id = run_id or uuid.uuid4().hex[:16]
        record = RunRecord(
            run_id=run_id,
            case_id=case_id,
            workflow=flow.name,
            version=str(flow.version),
            robot=self.robot,
            started_at=_now(),
            state=state.model_copy(deep=True) if state else RunState(),
        )
        masker = Masker(parent=PROCESS_MASKER)
        run = _Run(
            record,
            masker,
            self.artifacts_dir / case_id / run_id,
            [flow.name],
            attempt,
            listener or RunListener(),
            case={"status_url": "", **(case_values or {}), "id": case_id},
        )
        run.pictures_asked = self.step_screenshots == "all" or (
            self.step_screenshots == "workflow" and flow.step_screenshots
        )
        try:
            return self._run(flow, inputs, run, attempt)
        finally:
            masker.release()  # after the run's last log line: its personal data is no longer needed

    def _run(self, flow: Workflow, inputs: Mapping[str, Any], run: _Run, attempt: int) -> RunRecord:
        record, masker = run.record, run.masker
        with logger.contextualize(
            case=record.case_id, run=record.run_id, robot=self.robot, workflow=flow.name, step="-"
        ):
            try:
                values = validate_input(flow, dict(inputs))
            except InputError as error:
                return self._finish(run, "failed_business", error=str(error), kind="business")
            personal, secrets = personal_values(flow, values)
            for value in personal:
                masker.add_personal(value)
            for value in secrets:
                masker.add_secret(value)
            frame = _Frame(flow, self._scope(run, values))
            logger.info("run started: {} (attempt {})", flow.name, attempt)
            try:
                self._steps(run, frame, flow.steps, "")
                outputs = dict(frame.outputs)
                outputs.update(self._render(run, frame, flow.outputs, "outputs"))
                record.outputs = outputs
                return self._finish(run, "done")
            except WaitingForHuman as waiting:
                record.task_id = waiting.task_id
                return self._finish(run, "waiting_human", step=waiting.step)
            except Escalated as escalated:
                self._run_on_error(run, frame, escalated)
                record.task_id = escalated.task_id
                return self._finish(
                    run,
                    "escalated",
                    error=escalated.message,
                    kind="business",
                    step=escalated.request.step,
                )
            except RobotException as error:
                self._run_on_error(run, frame, error)
                step = str(error.data.get("step", ""))
                if isinstance(error, SystemException) and not self.escalate_system_failures:
                    return self._finish(run, "failed_system", error=error.message, kind="system", step=step)
                record.task_id = self._escalate_failure(run, frame, error, step)
                status = "failed_system" if isinstance(error, SystemException) else "failed_business"
                return self._finish(run, status, error=error.message, kind=error.kind, step=step)

    def _secret(self, run: _Run, name: str) -> str:
        """A secret from the robot's vault (``services["vault"]`` or the default one), masked
        in this run from now on."""
        from connectors.vault import default_vault

        vault = self.services.get("vault") or default_vault()
        value: str = vault.get(str(name))
        run.masker.add_secret(value)
        return value

    def _scope(self, run: _Run, values: dict[str, Any]) -> dict[str, Any]:
        def secret(name: str) -> str:
            return self._secret(run, name)

        return {
            "input": values,
            "case": dict(run.case),
            "run": {"id": run.record.run_id, "attempt": run.attempt, "robot": self.robot},
            "secret": secret,
        }

    def _finish(
        self,
        run: _Run,
        status: Any,
        *,
        error: str | None = None,
        kind: str | None = None,
        step: str | None = None,
    ) -> RunRecord:
        record = run.record
        record.status = status
        record.ended_at = _now()
        record.error = run.masker.mask_text(error) if error else None
        record.error_kind = kind
        record.error_step = step or None
        # A done run's outputs are the case's result, reported to the channel that sent it: they
        # keep the customer's data but, like everything else, never a secret. Outputs of a run
        # that did not finish are only evidence, masked as step records are.
        outputs = _json_safe(record.outputs)
        record.outputs = run.masker.hide_secrets(outputs) if status == "done" else run.masker.mask(outputs)
        log = logger.bind(step=step or "-")
        if status == "done":
            log.info("run done in {:.0f} ms", record.duration_ms)
        elif status == "waiting_human":
            log.info("run waiting for human task {}", record.task_id)
        else:
            log.warning("run ended {}: {}", status, record.error)
        run.listener.finished(record)
        return record

    def _escalate_failure(self, run: _Run, frame: _Frame, error: RobotException, step: str) -> str:
        flow = frame.workflow
        kind = "business exception" if isinstance(error, BusinessException) else "system exception"
        data = {
            "error": error.message,
            "step": step,
            **{k: v for k, v in error.data.items() if k != "step"},
        }
        data["gathered"] = _json_safe(
            {k: v for k, v in frame.scope.items() if k not in ("secret", "run", "case")}
        )
        request = HumanTaskRequest(
            queue=flow.queue,
            # The agent may see the customer's data, never the robot's secrets.
            reason=run.masker.hide_secrets(f"{kind} at step {step or '?'}: {error.message}"),
            data=run.masker.hide_secrets(data),
            step=step,
            kind="escalation",
        )
        return self.humans.create_task(
            request,
            case_id=run.record.case_id,
            run_id=run.record.run_id,
            key=f"{run.record.case_id}:failure:{run.record.run_id}",
        )

    def _run_on_error(self, run: _Run, frame: _Frame, error: RobotException) -> None:
        if not frame.workflow.on_error:
            return
        frame.scope["error"] = {
            "kind": error.kind,
            "message": error.message,
            "step": error.data.get("step"),
        }
        try:
            self._steps(run, frame, frame.workflow.on_error, "on_error")
        except (RobotException, WaitingForHuman) as cleanup_error:
            logger.warning("the workflow's on_error steps failed too: {}", cleanup_error)

    # -- walking -------------------------------------------------------------------------

    def _steps(self, run: _Run, frame: _Frame, steps: tuple[StepBase, ...], prefix: str) -> None:
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

    def _start(self, run: _Run, step: StepBase, path: str, attempt: int = 1) -> StepRecord:
        record = StepRecord(
            path=path,
            kind=step.kind,
            label=run.masker.mask_text(self._label(step)),
            depth=run.depth,
            attempt=attempt,
            started_at=_now(),
            system=run.system,
        )
        run.record.steps.append(record)
        run.listener.step_started(record)
        return record

    def _end(
        self,
        run: _Run,
        record: StepRecord,
        outcome: Any,
        *,
        outputs: Any = None,
        error: BaseException | None = None,
    ) -> None:
        record.ended_at = _now()
        record.duration_ms = (record.ended_at - record.started_at).total_seconds() * 1000
        record.outcome = outcome
        if outputs is not None:
            record.outputs = run.masker.mask(_json_safe(outputs))
        if error is not None:
            record.error = run.masker.mask_text(getattr(error, "message", None) or str(error))
            record.error_kind = getattr(error, "kind", None)
        run.listener.step_finished(record)

    def _step(self, run: _Run, frame: _Frame, step: StepBase, path: str) -> None:
        checkpointed = run.atomic_depth == 0
        done = run.record.state.completed.get(path) if checkpointed else None
        if done is not None:
            record = self._start(run, step, path)
            self._apply(frame, done)
            self._end(run, record, "restored")
            return
        with logger.contextualize(step=path):
            if step.when is not None:
                try:
                    allowed = expressions.truthy(self._render(run, frame, step.when, f"step {path} (when)"))
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
                run.record.state.completed[path] = _json_safe(effects)
                run.unsaved = run.unsaved or effectful

    @staticmethod
    def _save(run: _Run) -> None:
        """Checkpoint the steps completed since the last write, if one of them had effects."""
        if run.unsaved:
            run.unsaved = False
            run.listener.checkpoint(run.record)

    def _apply(self, frame: _Frame, effects: dict[str, Any]) -> None:
        frame.scope.update(effects.get("vars", {}))
        frame.outputs.update(effects.get("outputs", {}))

    def _assign(self, run: _Run, frame: _Frame, name: str, value: Any) -> None:
        frame.scope[name] = value
        if run.effects:
            run.effects[-1]["vars"][name] = value

    def _attempts(self, run: _Run, frame: _Frame, step: StepBase, path: str) -> None:
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

    def _step_screenshot(self, run: _Run, record: StepRecord) -> bool:
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

    def _handle(self, run: _Run, frame: _Frame, step: StepBase, path: str, error: RobotException) -> None:
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
    def _deadline(self, run: _Run, step: StepBase, path: str) -> Iterator[None]:
        if step.timeout is None:
            yield
            return
        deadline = time.monotonic() + step.timeout
        run.deadlines.append(deadline)
        use_signal = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        previous_handler: Any = None
        if use_signal:

            def on_alarm(signum: int, frame: Any) -> None:
                raise _TimeoutSignal()

            previous_handler = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, max(0.001, min(run.deadlines) - time.monotonic()))
        try:
            yield
        except _TimeoutSignal:
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

    # -- the kinds of step ---------------------------------------------------------------

    def _render(self, run: _Run, frame: _Frame, value: Any, where: str) -> Any:
        try:
            return expressions.render(value, frame.scope, where=where)
        except ExpressionError as error:
            raise DataError(run.masker.mask_text(str(error))) from None

    def _execute(self, run: _Run, frame: _Frame, step: StepBase, path: str, attempt: int) -> Any:
        where = f"step {path}"
        if isinstance(step, ActionStep):
            return self._action(run, frame, step, path, attempt)
        if isinstance(step, SetStep):
            for name, value in step.set.items():
                self._assign(run, frame, str(name), self._render(run, frame, value, f"{where} (set {name})"))
            return {str(k): frame.scope[str(k)] for k in step.set}
        if isinstance(step, DecideStep):
            inputs = self._render(run, frame, step.with_, f"{where} (decide {step.decide})")
            try:
                result = self.project.rules.decide(step.decide, inputs)
            except (DefinitionError, KeyError) as error:
                raise DataError(f"{where}: decision {step.decide!r} cannot run: {error}") from None
            except RobotException:
                raise
            except Exception as error:  # a Python decision's own bug
                raise _unexpected(run, f"{where}: decision {step.decide}", error) from error
            self._assign(run, frame, step.as_ or step.decide, result)
            return result
        if isinstance(step, IfStep):
            branch = expressions.truthy(self._render(run, frame, step.if_, f"{where} (if)"))
            self._steps(
                run,
                frame,
                step.then if branch else step.else_,
                f"{path}.{'then' if branch else 'else'}",
            )
            return None
        if isinstance(step, ForEachStep):
            items = self._render(run, frame, step.for_each, f"{where} (for_each)")
            if isinstance(items, dict):
                items = [{"key": k, "value": v} for k, v in items.items()]
            if isinstance(items, tuple | range):  # range(n): n rounds
                items = list(items)
            if not isinstance(items, list):
                raise DataError(f"{where}: for_each needs a list, got {type(items).__name__} {items!r}")
            for index, item in enumerate(items):
                frame.scope[step.as_] = item
                frame.scope["loop"] = {
                    "index": index,
                    "number": index + 1,
                    "first": index == 0,
                    "last": index == len(items) - 1,
                    "length": len(items),
                }
                self._steps(run, frame, step.steps, f"{path}[{index}]")
            frame.scope.pop("loop", None)
            return None
        if isinstance(step, BlockStep):
            self._steps(run, frame, step.steps, path)
            return None
        if isinstance(step, InStep):
            return self._in(run, frame, step, path)
        if isinstance(step, EnsureStep):
            return self._ensure(run, frame, step, path)
        if isinstance(step, CallStep):
            return self._call(run, frame, step, path)
        if isinstance(step, OutputStep):
            values = self._render(run, frame, step.output, f"{where} (output)")
            frame.outputs.update(values)
            if run.effects:
                run.effects[-1]["outputs"].update(values)
            return values
        if isinstance(step, EscalateStep):
            spec = step.escalate
            request = HumanTaskRequest(
                queue=spec.queue,
                reason=str(self._render(run, frame, spec.reason, f"{where} (reason)")),
                data=_json_safe(self._render(run, frame, spec.data, f"{where} (data)")),
                form=self._form(run, frame, spec.form, where),
                priority=self._priority(run, frame, spec.priority, where),
                step=path,
                kind="escalation",
                outcomes=_offered(spec.outcomes),
            )
            task_id = self.humans.create_task(
                request,
                case_id=run.record.case_id,
                run_id=run.record.run_id,
                key=f"{run.record.case_id}:{path}",
            )
            raise Escalated(request, task_id)
        if isinstance(step, AwaitHumanStep):
            return self._await_human(run, frame, step, path)
        if isinstance(step, CalloutStep):
            pop_up = step.callout
            callout = Callout(
                title=str(self._render(run, frame, pop_up.title, where)),
                message=str(self._render(run, frame, pop_up.message, where)),
                queue=self._render(run, frame, pop_up.queue, where),
                agent=self._render(run, frame, pop_up.agent, where),
                data=_json_safe(self._render(run, frame, pop_up.data, where)),
                hints=_json_safe(self._render(run, frame, pop_up.hints, where)),
                level=_callout_level(self._render(run, frame, pop_up.level, where)),
                case_id=run.record.case_id,
                run_id=run.record.run_id,
                step=path,
            )
            self.humans.push_callout(callout)
            return {"title": callout.title, "queue": callout.queue, "agent": callout.agent}
        if isinstance(step, FailStep):
            message = str(self._render(run, frame, step.fail.message, where))
            raise (BusinessException if step.fail.kind == "business" else SystemException)(message)
        raise TandemError(f"{where}: the engine does not know step kind {type(step).__name__}")

    def _action(self, run: _Run, frame: _Frame, step: ActionStep, path: str, attempt: int) -> Any:
        definition = get_action(step.action)
        raw = self._render(run, frame, definition.normalize(step.params), f"step {path} ({step.action})")
        raw = definition.normalize(raw)
        try:
            params = definition.params.model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'parameters'}: {e['msg']}" for e in error.errors()
            )
            raise DataError(run.masker.mask_text(f"step {path} ({step.action}): {problems}")) from None
        context = ActionContext(
            case_id=run.record.case_id,
            run_id=run.record.run_id,
            workflow=run.record.workflow,
            step=path,
            attempt=attempt,
            robot=self.robot,
            idempotency_key=idempotency_key(run.record.case_id, path),
            log=logger.bind(action=step.action),
            masker=run.masker,
            artifacts_dir=run.artifacts,
            services=self.services,
            system=run.system,
            session=run.session,
            deadline=min(run.deadlines) if run.deadlines else None,
            secrets=lambda name: self._secret(run, name),
            project_root=self.project.root,
            case=run.case,
        )
        try:
            result = definition.function(context, params)
        except (RobotException, WaitingForHuman, _TimeoutSignal):
            raise
        except ExpressionError as error:
            raise DataError(run.masker.mask_text(str(error))) from None
        except Exception as error:  # an action's own bug or an unexpected library error
            raise _unexpected(run, step.action, error) from error
        if step.as_:
            self._assign(run, frame, step.as_, result)
        return result

    def _ensure(self, run: _Run, frame: _Frame, step: EnsureStep, path: str) -> dict[str, Any]:
        """Check, change only when needed, verify: see ``EnsureStep``."""
        where = f"step {path} (holds)"
        self._steps(run, frame, step.check, f"{path}.check")
        if expressions.truthy(self._render(run, frame, step.holds, where)):
            logger.info("ensure {}: already holds, nothing changed", path)
            result = {"changed": False}
        else:
            self._steps(run, frame, step.change, f"{path}.change")
            self._steps(run, frame, step.verify or step.check, f"{path}.verify")
            if not expressions.truthy(self._render(run, frame, step.holds, where)):
                raise SystemException(
                    run.masker.mask_text(
                        f"step {path}: after the change, {step.ensure!r} does not hold "
                        f"({step.holds} is false when read again)"
                    )
                )
            result = {"changed": True}
        if step.as_:
            self._assign(run, frame, step.as_, result)
        return result

    def _in(self, run: _Run, frame: _Frame, step: InStep, path: str) -> None:
        spec = frame.workflow.systems[step.in_]
        login = None
        if spec.login:
            login_name = spec.login

            def login(session: Any) -> None:
                self._login(run, frame, step.in_, login_name, session, path)

        previous = (run.system, run.session, run.pictures)
        asked = spec.step_screenshots if spec.step_screenshots is not None else run.pictures_asked
        with self.systems.session(
            step.in_, spec, login=login, case_id=run.record.case_id, project_root=self.project.root
        ) as session:
            run.system, run.session = step.in_, session
            run.pictures = self.step_screenshots == "all" or (self.step_screenshots == "workflow" and asked)
            try:
                self._steps(run, frame, step.steps, path)
            finally:
                run.system, run.session, run.pictures = previous

    def _login(self, run: _Run, frame: _Frame, system: str, name: str, session: Any, path: str) -> None:
        spec = frame.workflow.systems[system]
        try:
            sub = self.project.workflow(name)
        except DefinitionError as error:
            raise DataError(f"system {system!r}: login workflow {name!r} does not load: {error}") from None
        inputs = {
            k: v
            for k, v in {"credentials": spec.credentials, "url": spec.url, "system": system}.items()
            if k in sub.input
        }
        previous = (run.system, run.session, run.pictures)
        # No step screenshots of a login: its page shows the robot's user name.
        run.system, run.session, run.pictures = system, session, False
        run.atomic_depth += 1
        try:
            values = validate_input(sub, inputs)
            login_frame = _Frame(sub, self._scope(run, values), prefix="")
            with logger.contextualize(step=f"{path}>login"):
                self._steps(run, login_frame, sub.steps, f"{path}>{name}")
        except InputError as error:
            raise DataError(f"login workflow {name!r} of system {system!r}: {error}") from None
        finally:
            run.atomic_depth -= 1
            run.system, run.session, run.pictures = previous

    def _call(self, run: _Run, frame: _Frame, step: CallStep, path: str) -> Any:
        if step.call in run.call_chain:
            raise DataError(f"step {path}: call cycle {' -> '.join([*run.call_chain, step.call])}")
        try:
            sub = self.project.workflow(step.call)
        except DefinitionError as error:
            raise DataError(f"step {path}: cannot call {step.call!r}: {error}") from None
        inputs = self._render(run, frame, step.with_, f"step {path} (call {step.call})")
        try:
            values = validate_input(sub, inputs)
        except InputError as error:
            raise DataError(f"step {path}: {error}") from None
        sub_frame = _Frame(sub, self._scope(run, values))
        run.call_chain.append(step.call)
        try:
            self._steps(run, sub_frame, sub.steps, f"{path}>{step.call}")
            outputs = dict(sub_frame.outputs)
            outputs.update(self._render(run, sub_frame, sub.outputs, f"outputs of {step.call}"))
        finally:
            run.call_chain.pop()
        if step.as_:
            self._assign(run, frame, step.as_, outputs)
        return outputs

    def _priority(self, run: _Run, frame: _Frame, value: Any, where: str) -> int:
        """A human task's priority; an expression that gives no whole number is a DataError."""
        try:
            return task_priority(self._render(run, frame, value, f"{where} (priority)"))
        except ValueError as error:
            raise DataError(run.masker.mask_text(f"{where}: {error}")) from None

    def _form(
        self, run: _Run, frame: _Frame, form: tuple[FormField, ...], where: str
    ) -> list[dict[str, Any]]:
        fields = []
        for item in form:
            described = item.model_dump()
            described["choices"] = _json_safe(
                self._render(run, frame, item.choices, f"{where} (form {item.name})")
            )
            described["default"] = _json_safe(
                self._render(run, frame, item.default, f"{where} (form {item.name})")
            )
            fields.append(described)
        return fields

    def _await_human(self, run: _Run, frame: _Frame, step: AwaitHumanStep, path: str) -> Any:
        spec = step.await_human
        where = f"step {path}"
        task_id = run.record.state.tasks.get(path)
        form = self._form(run, frame, spec.form, where)
        if task_id is None:
            request = HumanTaskRequest(
                queue=spec.queue,
                reason=str(self._render(run, frame, spec.reason, f"{where} (reason)")),
                data=_json_safe(self._render(run, frame, spec.data, f"{where} (data)")),
                form=form,
                priority=self._priority(run, frame, spec.priority, where),
                step=path,
                kind="await_human",
                outcomes=_offered(spec.outcomes),
            )
            if spec.reopen:
                earlier = earlier_step(run.record.state.tasks, path, spec.reopen)
                if earlier is None:
                    raise DataError(
                        f"{where}: reopen {spec.reopen!r} names no await_human step that ran before "
                        "it in its list of steps or an enclosing one"
                    )
                task_id = run.record.state.tasks[earlier]
                self.humans.reopen_task(task_id, request)
            else:
                task_id = self.humans.create_task(
                    request,
                    case_id=run.record.case_id,
                    run_id=run.record.run_id,
                    key=f"{run.record.case_id}:{path}",
                )
            run.record.state.tasks[path] = task_id
            run.unsaved = False
            run.listener.checkpoint(run.record)
        answer = self.humans.answer_for(task_id)
        if answer is None:
            raise WaitingForHuman(task_id, path)
        checked = check_answer(form, answer)
        self._assign(run, frame, step.as_, checked)
        return checked


def earlier_step(tasks: Mapping[str, str], path: str, step_id: str) -> str | None:
    """The path of the step ``step_id`` that made one of ``tasks`` (path -> task id) before
    the step at ``path``: in the same list of steps or an enclosing one of the same workflow,
    the innermost first. So a ``reopen`` in the n-th round of a ``for_each`` finds a step of
    that round before one outside the loop, and never looks into a calling workflow."""
    frame_start = path.rfind(">") + 1  # a called workflow's steps start after its '>'
    cut = len(path)
    while (cut := path.rfind(".", frame_start, cut)) != -1:
        candidate = f"{path[:cut]}.{step_id}"
        if candidate in tasks:
            return candidate
    return step_id if frame_start == 0 and step_id in tasks else None


def _safe_file_part(path: str) -> str:
    """A step's path as part of a file name (``4[1].crm>login.2`` → ``4_1_.crm_login.2``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path)[:80]


def _unexpected(run: _Run, what: str, error: Exception) -> SystemException:
    """A system exception for an error that Python code of a step (an action, a Python
    decision) raised without meaning to: retried like any system failure, its message kept.

    Only code written for steps is wrapped this way; what the run's listener or the human
    gateway raises (a lost lease, the database away) is the caller's to handle.
    """
    logger.debug("{} raised:\n{}", what, run.masker.mask_text(traceback.format_exc()))
    return SystemException(run.masker.mask_text(f"{what} failed: {type(error).__name__}: {error}"))


def _offered(outcomes: Mapping[Any, Any] | None) -> dict[str, dict[str, Any]]:
    """A step's ``outcomes`` as plain data for the task (empty: every outcome, default texts)."""
    if not outcomes:
        return {}
    return {
        name: (spec.model_dump(exclude_none=True) if spec is not None else {})
        for name, spec in outcomes.items()
    }


def _callout_level(value: Any) -> str:
    from robots.language.model import CALLOUT_LEVELS

    return str(value) if str(value) in CALLOUT_LEVELS else "info"


# How a boolean answer may come as text (a form's checkbox sends "on"); anything else is refused.
_ANSWER_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def check_answer(form: list[dict[str, Any]], answer: Mapping[str, Any]) -> dict[str, Any]:
    """A human's answer checked against the task's form; ``DataError`` listing every problem."""
    problems: list[str] = []
    result: dict[str, Any] = dict(answer)
    casts: dict[str, Callable[[Any], Any]] = {"integer": int, "number": float}
    for field_spec in form:
        name = field_spec["name"]
        value = answer.get(name, field_spec.get("default"))
        if value in (None, "") and field_spec.get("required", True):
            problems.append(f"{name}: required")
            continue
        if value in (None, ""):
            continue
        kind = field_spec.get("type", "string")
        try:
            if kind in casts:
                value = casts[kind](value)
            elif kind == "boolean" and isinstance(value, str):
                value = _ANSWER_WORDS[value.strip().casefold()]  # KeyError: not a yes or no
        except (TypeError, ValueError, KeyError, OverflowError):  # OverflowError: int() of an infinite number
            problems.append(f"{name}: expected {kind}, got {quoted(value)}")
            continue
        choices = field_spec.get("choices")
        if isinstance(choices, list) and choices:
            allowed = [c.get("value", c) if isinstance(c, dict) else c for c in choices]
            if value not in allowed and str(value) not in [str(a) for a in allowed]:
                problems.append(f"{name}: {value!r} is not one of {allowed}")
        result[name] = value
    if problems:
        raise DataError("the answer does not fit the form: " + "; ".join(problems))
    return result
