"""Warnings about changes that a retry could make twice.

A retried block (an ``in`` or a group with ``retry``) runs again as a whole after a system
exception, and so does a case that starts again after a crash. A step in it that changes a
system through its screens (an action the registry marks ``side_effect`` and that runs in a
system's session) is then done twice unless something checks first. ``ensure`` is that
check (see ``EnsureStep``); ``idempotent: true`` on the block is the author's word that
running it twice changes nothing (a search form). ``run.py validate`` prints what
``unchecked_changes`` finds as warnings: they do not fail validation.
"""

from __future__ import annotations

from collections.abc import Callable

from robots.errors import Problem
from robots.language.model import Workflow
from robots.language.registry import load_actions
from robots.language.steps import ActionStep, CallStep, EnsureStep, InStep, StepBase, child_blocks

HINT = (
    "put the change in an 'ensure:' step whose 'check:' reads whether it is already done "
    "(docs/workflow-language.md#ensure), or mark the block 'idempotent: true' if running it "
    "twice changes nothing"
)


def unchecked_changes(
    workflow: Workflow, called: Callable[[str], Workflow | None] | None = None
) -> list[Problem]:
    """One warning per ``in`` block that changes a system outside an ``ensure``: a retried
    one, or one without a retry of its own, which a queued case runs again all the same.

    ``called`` resolves a ``call``'s workflow by name (None when it does not load), so a
    screen routine called inside a retried block counts as part of the block.
    """
    actions = load_actions()
    warnings: list[Problem] = []

    def changes(steps: tuple[StepBase, ...], visited: frozenset[str]) -> list[ActionStep]:
        """The actions in ``steps`` that change a system and no ``ensure`` checks."""
        found: list[ActionStep] = []
        for step in steps:
            if isinstance(step, EnsureStep) or getattr(step, "idempotent", False):
                continue
            if isinstance(step, ActionStep):
                definition = actions.get(step.action)
                if definition is not None and definition.side_effect and definition.needs is not None:
                    found.append(step)
            if isinstance(step, CallStep) and called is not None and step.call not in visited:
                target = called(step.call)
                if target is not None:
                    found += changes(target.steps, visited | {step.call})
            for _, block in child_blocks(step):
                found += changes(block, visited)
        return found

    def visit(steps: tuple[StepBase, ...], retried: StepBase | None) -> None:
        for step in steps:
            if getattr(step, "idempotent", False) or isinstance(step, EnsureStep):
                continue
            here = retried or (step if step.retry is not None else None)
            if isinstance(step, InStep):
                unchecked = changes(step.steps, frozenset({workflow.name}))
                if unchecked:
                    first = unchecked[0]
                    where = first.location
                    others = f" and {len(unchecked) - 1} more change(s)" if len(unchecked) > 1 else ""
                    verb = "change" if others else "changes"
                    if here is not None:
                        retry_at = f" (retry at line {here.location.line})" if here.location else ""
                        message = (
                            f"{first.action}{others} in the retried block 'in: {step.in_}'{retry_at} "
                            f"{verb} the system without a check: a retry, or a re-run after a crash, "
                            "may do it twice"
                        )
                    else:
                        # No retry of its own, but a queued case runs its 'in' block again as a
                        # whole after a crash or a system exception (the queue's retries).
                        message = (
                            f"{first.action}{others} in the block 'in: {step.in_}' {verb} the system "
                            "without a check: a queued case runs the block again after a crash or a "
                            "system exception, and may do it twice"
                        )
                    warnings.append(
                        Problem(
                            where.file if where else workflow.file,
                            where.line if where else 1,
                            where.column if where else 1,
                            message,
                            HINT,
                        )
                    )
                continue
            for _, block in child_blocks(step):
                visit(block, here)

    visit(workflow.steps, None)
    return warnings
