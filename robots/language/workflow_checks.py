"""Checks that need the whole workflow, once the loader has read its parts.

Owns ``check_workflow``: input defaults that do not fit their field, names the engine
provides (``RESERVED_NAMES``) set by a step, step ids given twice, names read before
anything sets them, ``input.<field>`` reads of undeclared fields, the systems ``in`` blocks
name (no ``in`` or ``await_human`` inside one), where actions of a system kind may run, and
what a ``reopen`` may point at. Each problem names the file, line and column and the fix.
Reading the YAML into a ``Workflow`` is ``loader``; it runs these checks on what it read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from robots.errors import Problem, quoted
from robots.language import expressions
from robots.language.inputs import default_problem
from robots.language.model import Workflow
from robots.language.registry import load_actions, suggest
from robots.language.steps import (
    ActionStep,
    AwaitHumanStep,
    CallStep,
    DecideStep,
    EnsureStep,
    ForEachStep,
    InStep,
    SetStep,
    StepBase,
    child_blocks,
    walk,
)
from robots.language.yamlsource import PathKey, Source

RESERVED_NAMES = {"input", "case", "run", "error", "loop", "secret", "now", "today", "outputs"}
"""Names the engine provides; a workflow cannot assign them."""


def strings_in(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    """Every text inside ``value`` (mappings and lists walked) with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from strings_in(item, (*path, index))


def _assigned_names(step: StepBase) -> list[str]:
    if isinstance(step, SetStep):
        return [str(key) for key in step.set]
    if isinstance(step, DecideStep):
        return [step.as_ or step.decide]
    if isinstance(step, ActionStep | CallStep | EnsureStep) and step.as_:
        return [step.as_]
    if isinstance(step, AwaitHumanStep | ForEachStep):
        return [step.as_]
    return []


def _step_templates(step: StepBase) -> Iterator[str]:
    fields = step.model_dump(
        by_alias=True, exclude={"location", "on_error", "then", "else", "steps", "check", "change", "verify"}
    )
    for _, text in strings_in(fields, ()):
        if expressions.is_template(text):
            yield text


def _template_problems(
    workflow: Workflow, text: str, defined: set[str], written: set[str]
) -> Iterator[tuple[str, str]]:
    """What is wrong with one template of a step or of ``outputs``, as (message, hint): names
    nothing sets, and ``input.<name>`` reads of fields an ``input:`` schema does not declare
    (``written``: the field names under ``input:``, those with a problem of their own too)."""
    for name in sorted(expressions.referenced_names(text) - defined):
        yield (
            f"name {name!r} in {text!r} is not defined anywhere in this workflow",
            suggest(name, defined) or "set it with 'set:' or 'as:' in an earlier step, or use input.",
        )
    if not workflow.input and not written:
        return  # no schema: any field may come with the case
    declared = set(workflow.input) | written
    for name in sorted(expressions.input_fields_read(text) - declared):
        yield (
            f"input field {name!r} in {text!r} is not declared under 'input:'",
            suggest(name, declared) or f"declare it under 'input:' (declared: {', '.join(sorted(declared))})",
        )


def check_workflow(workflow: Workflow, source: Source | None = None) -> list[Problem]:
    """Checks that need the whole workflow: systems, names, step ids, where actions may run."""
    problems: list[Problem] = []

    file = workflow.file or "<workflow>"

    def report(where: StepBase | PathKey, message: str, hint: str = "") -> None:
        """A problem at a step (where it was written) or at a path of the document."""
        if isinstance(where, StepBase):
            line, column = (where.location.line, where.location.column) if where.location else (1, 1)
        else:
            line, column = source.where(where) if source is not None else (1, 1)
        problems.append(Problem(file, line, column, message, hint))

    for name, spec in workflow.input.items():
        if (wrong := default_problem(spec)) is not None:
            report(
                ("input", name, "default"),
                f"input {name!r}: the default {quoted(spec.default)} does not fit the field: {wrong}",
                "make the default fit the field's type and limits, or remove it",
            )
    every = walk(workflow.steps) + walk(workflow.on_error)
    defined = set(RESERVED_NAMES)
    for step in every:
        defined.update(_assigned_names(step))
        for name in _assigned_names(step):
            if name in RESERVED_NAMES:
                report(
                    step,
                    f"{name!r} is a name the engine provides and cannot be set",
                    "choose another name",
                )
    seen_ids: dict[str, StepBase] = {}
    for step in every:
        if step.id:
            if step.id in seen_ids:
                report(step, f"step id {step.id!r} is used twice", "give each step its own id")
            seen_ids[step.id] = step
    templates: list[tuple[StepBase | PathKey, str]] = [
        (step, text) for step in every for text in _step_templates(step)
    ]
    templates += [
        (path, text)
        for path, text in strings_in(workflow.outputs, ("outputs",))
        if expressions.is_template(text)
    ]
    # A field written under input: that did not load has its own problem: its uses are no
    # second one.
    positions = source.positions if source is not None else {}
    written = {str(path[1]) for path in positions if len(path) == 2 and path[0] == "input"}
    for where, text in templates:
        for message, hint in _template_problems(workflow, text, defined, written):
            report(where, message, hint)

    actions = load_actions()

    def visit(steps: tuple[StepBase, ...], system: str | None) -> None:
        for step in steps:
            inner_system = system
            if isinstance(step, InStep):
                if step.in_ not in workflow.systems:
                    known = set(workflow.systems)
                    hint = suggest(step.in_, known) or (
                        f"declare it under 'systems:' (declared: {', '.join(sorted(known)) or 'none'})"
                    )
                    report(step, f"system {step.in_!r} is not declared", hint)
                if system is not None:
                    report(
                        step,
                        f"'in: {step.in_}' is inside 'in: {system}'",
                        "a robot works in one system at a time",
                    )
                inner_system = step.in_
            if isinstance(step, AwaitHumanStep) and system is not None:
                report(
                    step,
                    f"await_human inside 'in: {system}'",
                    "a robot does not hold a session while a person decides: end the 'in' block first",
                )
            if isinstance(step, ActionStep):
                definition = actions.get(step.action)
                if definition is not None and definition.needs is not None:
                    spec = workflow.systems.get(system) if system else None
                    if system is None and workflow.runs_in is not None:
                        if workflow.runs_in != definition.needs:
                            report(
                                step,
                                f"{step.action} is a {definition.needs} action, but this workflow "
                                f"runs in a {workflow.runs_in} system",
                                f"use a {workflow.runs_in} action",
                            )
                    elif system is None:
                        report(
                            step,
                            f"{step.action} needs a {definition.needs} system",
                            f"put it inside an 'in: <system>' block of a {definition.needs} system",
                        )
                    elif spec is not None and spec.kind != definition.needs:
                        report(
                            step,
                            f"{step.action} is a {definition.needs} action, "
                            f"but {system!r} is a {spec.kind} system",
                            f"use a {spec.kind} action or another system",
                        )
            for _, block in child_blocks(step):
                visit(block, inner_system)

    visit(workflow.steps, None)
    visit(workflow.on_error, None)

    def check_reopen(steps: tuple[StepBase, ...], before: frozenset[str]) -> None:
        """``reopen`` names an await_human step before it, in its list or an enclosing one."""
        earlier = set(before)
        for step in steps:
            if isinstance(step, AwaitHumanStep) and step.await_human.reopen:
                target = step.await_human.reopen
                if target not in earlier:
                    kind = seen_ids[target].kind if target in seen_ids else None
                    report(
                        step,
                        f"reopen {target!r}: "
                        + (
                            f"step {target!r} is a {kind} step, not an await_human step"
                            if kind not in (None, "await_human")
                            else f"no await_human step {target!r} comes before this one in its "
                            "list of steps or an enclosing one"
                        ),
                        "name the id of the earlier await_human step whose task the person sees again",
                    )
            for _, block in child_blocks(step):
                check_reopen(block, frozenset(earlier))
            if isinstance(step, AwaitHumanStep) and step.id:
                earlier.add(step.id)

    check_reopen(workflow.steps, frozenset())
    check_reopen(workflow.on_error, frozenset())
    return problems
