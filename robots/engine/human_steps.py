"""The steps that involve people: ``escalate``, ``await_human``, ``callout``, and a failed run's escalation.

Owns how the engine turns these steps into a ``HumanTaskRequest`` or a ``Callout`` for the
``HumanGateway`` (the form, the priority, the outcomes offered), how an answered task's
answer is checked against its form (``check_answer``) and which earlier task a ``reopen``
names (``earlier_step``). The orchestrator's task store checks an answer the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from robots.engine.human_gateway import Callout, HumanGateway
from robots.engine.run_context import ActiveRun, CallFrame, DataError, assign, json_safe, render
from robots.errors import (
    BusinessException,
    Escalated,
    HumanTaskRequest,
    RobotException,
    WaitingForHuman,
    quoted,
)
from robots.language.model_values import task_priority
from robots.language.steps import CALLOUT_LEVELS, AwaitHumanStep, CalloutStep, EscalateStep, FormField


def escalate(
    humans: HumanGateway, run: ActiveRun, frame: CallFrame, step: EscalateStep, path: str
) -> NoReturn:
    """An ``escalate`` step: a task for the queue with what the robot gathered; the run ends here."""
    where = f"step {path}"
    spec = step.escalate
    request = HumanTaskRequest(
        queue=spec.queue,
        reason=str(render(run, frame, spec.reason, f"{where} (reason)")),
        data=json_safe(render(run, frame, spec.data, f"{where} (data)")),
        form=form_fields(run, frame, spec.form, where),
        priority=priority_of(run, frame, spec.priority, where),
        step=path,
        kind="escalation",
        outcomes=offered_outcomes(spec.outcomes),
    )
    task_id = humans.create_task(
        request,
        case_id=run.record.case_id,
        run_id=run.record.run_id,
        key=f"{run.record.case_id}:{path}",
    )
    raise Escalated(request, task_id)


def await_human(
    humans: HumanGateway, run: ActiveRun, frame: CallFrame, step: AwaitHumanStep, path: str
) -> Any:
    """An ``await_human`` step: create (or reopen) the task once, then wait for its answer;
    the answer checked against the form."""
    spec = step.await_human
    where = f"step {path}"
    task_id = run.record.state.tasks.get(path)
    form = form_fields(run, frame, spec.form, where)
    if task_id is None:
        request = HumanTaskRequest(
            queue=spec.queue,
            reason=str(render(run, frame, spec.reason, f"{where} (reason)")),
            data=json_safe(render(run, frame, spec.data, f"{where} (data)")),
            form=form,
            priority=priority_of(run, frame, spec.priority, where),
            step=path,
            kind="await_human",
            outcomes=offered_outcomes(spec.outcomes),
        )
        if spec.reopen:
            earlier = earlier_step(run.record.state.tasks, path, spec.reopen)
            if earlier is None:
                raise DataError(
                    f"{where}: reopen {spec.reopen!r} names no await_human step that ran before "
                    "it in its list of steps or an enclosing one"
                )
            task_id = run.record.state.tasks[earlier]
            humans.reopen_task(task_id, request)
        else:
            task_id = humans.create_task(
                request,
                case_id=run.record.case_id,
                run_id=run.record.run_id,
                key=f"{run.record.case_id}:{path}",
            )
        run.record.state.tasks[path] = task_id
        run.unsaved = False
        run.listener.checkpoint(run.record)
    answer = humans.answer_for(task_id)
    if answer is None:
        raise WaitingForHuman(task_id, path)
    checked = check_answer(form, answer)
    assign(run, frame, step.as_, checked)
    return checked


def push_callout(
    humans: HumanGateway, run: ActiveRun, frame: CallFrame, step: CalloutStep, path: str
) -> dict[str, Any]:
    """A ``callout`` step: a pop-up for the agents of a queue (or one agent); what was shown to whom."""
    where = f"step {path}"
    pop_up = step.callout
    callout = Callout(
        title=str(render(run, frame, pop_up.title, where)),
        message=str(render(run, frame, pop_up.message, where)),
        queue=render(run, frame, pop_up.queue, where),
        agent=render(run, frame, pop_up.agent, where),
        data=json_safe(render(run, frame, pop_up.data, where)),
        hints=json_safe(render(run, frame, pop_up.hints, where)),
        level=callout_level(render(run, frame, pop_up.level, where)),
        case_id=run.record.case_id,
        run_id=run.record.run_id,
        step=path,
    )
    humans.push_callout(callout)
    return {"title": callout.title, "queue": callout.queue, "agent": callout.agent}


def escalate_failure(
    humans: HumanGateway, run: ActiveRun, frame: CallFrame, error: RobotException, step: str
) -> str:
    """A task for the workflow's queue when a run failed and nobody handled it; its id."""
    flow = frame.workflow
    kind = "business exception" if isinstance(error, BusinessException) else "system exception"
    data = {
        "error": error.message,
        "step": step,
        **{k: v for k, v in error.data.items() if k != "step"},
    }
    data["gathered"] = json_safe({k: v for k, v in frame.scope.items() if k not in ("secret", "run", "case")})
    request = HumanTaskRequest(
        queue=flow.queue,
        # The agent may see the customer's data, never the robot's secrets.
        reason=run.masker.hide_secrets(f"{kind} at step {step or '?'}: {error.message}"),
        data=run.masker.hide_secrets(data),
        step=step,
        kind="escalation",
    )
    return humans.create_task(
        request,
        case_id=run.record.case_id,
        run_id=run.record.run_id,
        key=f"{run.record.case_id}:failure:{run.record.run_id}",
    )


def priority_of(run: ActiveRun, frame: CallFrame, value: Any, where: str) -> int:
    """A human task's priority; an expression that gives no whole number is a DataError."""
    try:
        return task_priority(render(run, frame, value, f"{where} (priority)"))
    except ValueError as error:
        raise DataError(run.masker.mask_text(f"{where}: {error}")) from None


def form_fields(
    run: ActiveRun, frame: CallFrame, form: tuple[FormField, ...], where: str
) -> list[dict[str, Any]]:
    """A human step's form as the task shows it: choices and defaults evaluated."""
    fields = []
    for item in form:
        described = item.model_dump()
        described["choices"] = json_safe(render(run, frame, item.choices, f"{where} (form {item.name})"))
        described["default"] = json_safe(render(run, frame, item.default, f"{where} (form {item.name})"))
        fields.append(described)
    return fields


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


def offered_outcomes(outcomes: Mapping[Any, Any] | None) -> dict[str, dict[str, Any]]:
    """A step's ``outcomes`` as plain data for the task (empty: every outcome, default texts)."""
    if not outcomes:
        return {}
    return {
        name: (spec.model_dump(exclude_none=True) if spec is not None else {})
        for name, spec in outcomes.items()
    }


def callout_level(value: Any) -> str:
    """A callout's level as written, else ``info``."""
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
