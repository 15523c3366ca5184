"""The engine: runs a ``Workflow`` for one case.

It evaluates conditions, runs actions from the registry, applies retries with backoff and
timeouts, separates business from system exceptions, hands work to humans, and records
every step (masked) as the run's audit trail. It checkpoints completed steps, so a run
can be resumed (after a crash, or when a human answered) without repeating effects.

Owns the ``Engine``: a run from its input to its end (``run``: input checks, masking, the
final status, the workflow's ``on_error``, escalating a failure) and what a step of each
kind does (``_execute``: actions, decisions, ``if``, ``for_each``, ``in`` blocks with their
login, ``ensure``, ``call``, ``output``, ``fail``). How steps are walked — checkpoints,
retries, timeouts, step records — is ``walker``; the steps that involve people are
``human_steps``; what a run carries is ``run_context``.

Step screenshots ("watch a robot"): where the workflow or its system asks for them
(``step_screenshots: true``), or the robot's ``TANDEM_STEP_SCREENSHOTS`` says ``all``, each
step that completed an action in a web system's page leaves a small JPEG of the page in the
step's record, beside its failure evidence (``SystemSessions.step_screenshot``), and that
record is stored at once (a checkpoint of its own), so the case page shows the step while
its ``in`` block still runs.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import ValidationError

from robots.drivers.systems import SystemSessions, Unavailable
from robots.engine.human_gateway import HumanGateway, InMemoryHumans
from robots.engine.human_steps import await_human, escalate, escalate_failure, push_callout
from robots.engine.records import RunRecord, RunState
from robots.engine.run_context import (
    ActiveRun,
    CallFrame,
    DataError,
    RunListener,
    assign,
    idempotency_key,
    json_safe,
    render,
    unexpected_error,
    utc_now,
)
from robots.engine.walker import StepWalker, TimeoutSignal
from robots.errors import (
    BusinessException,
    DefinitionError,
    Escalated,
    ExpressionError,
    RobotException,
    SystemException,
    TandemError,
    WaitingForHuman,
)
from robots.language import expressions
from robots.language.inputs import InputError, personal_values, validate_input
from robots.language.model import Workflow
from robots.language.project import Project
from robots.language.registry import ActionContext, get_action
from robots.language.steps import (
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
    IfStep,
    InStep,
    OutputStep,
    SetStep,
    StepBase,
)
from robots.masking import PROCESS_MASKER, Masker

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


class Engine(StepWalker):
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
            started_at=utc_now(),
            state=state.model_copy(deep=True) if state else RunState(),
        )
        masker = Masker(parent=PROCESS_MASKER)
        run = ActiveRun(
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

    def _run(self, flow: Workflow, inputs: Mapping[str, Any], run: ActiveRun, attempt: int) -> RunRecord:
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
            frame = CallFrame(flow, self._scope(run, values))
            logger.info("run started: {} (attempt {})", flow.name, attempt)
            try:
                self._steps(run, frame, flow.steps, "")
                outputs = dict(frame.outputs)
                outputs.update(render(run, frame, flow.outputs, "outputs"))
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
                record.task_id = escalate_failure(self.humans, run, frame, error, step)
                status = "failed_system" if isinstance(error, SystemException) else "failed_business"
                return self._finish(run, status, error=error.message, kind=error.kind, step=step)

    def _secret(self, run: ActiveRun, name: str) -> str:
        """A secret from the robot's vault (``services["vault"]`` or the default one), masked
        in this run from now on."""
        from connectors.vault import default_vault

        vault = self.services.get("vault") or default_vault()
        value: str = vault.get(str(name))
        run.masker.add_secret(value)
        return value

    def _scope(self, run: ActiveRun, values: dict[str, Any]) -> dict[str, Any]:
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
        run: ActiveRun,
        status: Any,
        *,
        error: str | None = None,
        kind: str | None = None,
        step: str | None = None,
    ) -> RunRecord:
        record = run.record
        record.status = status
        record.ended_at = utc_now()
        record.error = run.masker.mask_text(error) if error else None
        record.error_kind = kind
        record.error_step = step or None
        # A done run's outputs are the case's result, reported to the channel that sent it: they
        # keep the customer's data but, like everything else, never a secret. Outputs of a run
        # that did not finish are only evidence, masked as step records are.
        outputs = json_safe(record.outputs)
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

    def _run_on_error(self, run: ActiveRun, frame: CallFrame, error: RobotException) -> None:
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

    # -- the kinds of step ---------------------------------------------------------------

    def _execute(self, run: ActiveRun, frame: CallFrame, step: StepBase, path: str, attempt: int) -> Any:
        where = f"step {path}"
        if isinstance(step, ActionStep):
            return self._action(run, frame, step, path, attempt)
        if isinstance(step, SetStep):
            for name, value in step.set.items():
                assign(run, frame, str(name), render(run, frame, value, f"{where} (set {name})"))
            return {str(k): frame.scope[str(k)] for k in step.set}
        if isinstance(step, DecideStep):
            inputs = render(run, frame, step.with_, f"{where} (decide {step.decide})")
            try:
                result = self.project.rules.decide(step.decide, inputs)
            except (DefinitionError, KeyError) as error:
                raise DataError(f"{where}: decision {step.decide!r} cannot run: {error}") from None
            except RobotException:
                raise
            except Exception as error:  # a Python decision's own bug
                raise unexpected_error(run, f"{where}: decision {step.decide}", error) from error
            assign(run, frame, step.as_ or step.decide, result)
            return result
        if isinstance(step, IfStep):
            branch = expressions.truthy(render(run, frame, step.if_, f"{where} (if)"))
            self._steps(
                run,
                frame,
                step.then if branch else step.else_,
                f"{path}.{'then' if branch else 'else'}",
            )
            return None
        if isinstance(step, ForEachStep):
            items = render(run, frame, step.for_each, f"{where} (for_each)")
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
            values = render(run, frame, step.output, f"{where} (output)")
            frame.outputs.update(values)
            if run.effects:
                run.effects[-1]["outputs"].update(values)
            return values
        if isinstance(step, EscalateStep):
            escalate(self.humans, run, frame, step, path)  # raises Escalated: the run ends here
        if isinstance(step, AwaitHumanStep):
            return await_human(self.humans, run, frame, step, path)
        if isinstance(step, CalloutStep):
            return push_callout(self.humans, run, frame, step, path)
        if isinstance(step, FailStep):
            message = str(render(run, frame, step.fail.message, where))
            raise (BusinessException if step.fail.kind == "business" else SystemException)(message)
        raise TandemError(f"{where}: the engine does not know step kind {type(step).__name__}")

    def _action(self, run: ActiveRun, frame: CallFrame, step: ActionStep, path: str, attempt: int) -> Any:
        definition = get_action(step.action)
        raw = render(run, frame, definition.normalize(step.params), f"step {path} ({step.action})")
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
        except (RobotException, WaitingForHuman, TimeoutSignal):
            raise
        except ExpressionError as error:
            raise DataError(run.masker.mask_text(str(error))) from None
        except Exception as error:  # an action's own bug or an unexpected library error
            raise unexpected_error(run, step.action, error) from error
        if step.as_:
            assign(run, frame, step.as_, result)
        return result

    def _ensure(self, run: ActiveRun, frame: CallFrame, step: EnsureStep, path: str) -> dict[str, Any]:
        """Check, change only when needed, verify: see ``EnsureStep``."""
        where = f"step {path} (holds)"
        self._steps(run, frame, step.check, f"{path}.check")
        if expressions.truthy(render(run, frame, step.holds, where)):
            logger.info("ensure {}: already holds, nothing changed", path)
            result = {"changed": False}
        else:
            self._steps(run, frame, step.change, f"{path}.change")
            self._steps(run, frame, step.verify or step.check, f"{path}.verify")
            if not expressions.truthy(render(run, frame, step.holds, where)):
                raise SystemException(
                    run.masker.mask_text(
                        f"step {path}: after the change, {step.ensure!r} does not hold "
                        f"({step.holds} is false when read again)"
                    )
                )
            result = {"changed": True}
        if step.as_:
            assign(run, frame, step.as_, result)
        return result

    def _in(self, run: ActiveRun, frame: CallFrame, step: InStep, path: str) -> None:
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

    def _login(
        self, run: ActiveRun, frame: CallFrame, system: str, name: str, session: Any, path: str
    ) -> None:
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
            login_frame = CallFrame(sub, self._scope(run, values), prefix="")
            with logger.contextualize(step=f"{path}>login"):
                self._steps(run, login_frame, sub.steps, f"{path}>{name}")
        except InputError as error:
            raise DataError(f"login workflow {name!r} of system {system!r}: {error}") from None
        finally:
            run.atomic_depth -= 1
            run.system, run.session, run.pictures = previous

    def _call(self, run: ActiveRun, frame: CallFrame, step: CallStep, path: str) -> Any:
        if step.call in run.call_chain:
            raise DataError(f"step {path}: call cycle {' -> '.join([*run.call_chain, step.call])}")
        try:
            sub = self.project.workflow(step.call)
        except DefinitionError as error:
            raise DataError(f"step {path}: cannot call {step.call!r}: {error}") from None
        inputs = render(run, frame, step.with_, f"step {path} (call {step.call})")
        try:
            values = validate_input(sub, inputs)
        except InputError as error:
            raise DataError(f"step {path}: {error}") from None
        sub_frame = CallFrame(sub, self._scope(run, values))
        run.call_chain.append(step.call)
        try:
            self._steps(run, sub_frame, sub.steps, f"{path}>{step.call}")
            outputs = dict(sub_frame.outputs)
            outputs.update(render(run, sub_frame, sub.outputs, f"outputs of {step.call}"))
        finally:
            run.call_chain.pop()
        if step.as_:
            assign(run, frame, step.as_, outputs)
        return outputs
