"""The engine's two hooks, backed by the orchestrator: step records/checkpoints and humans.

``CaseListener`` implements ``robots.engine.run_context.RunListener`` for one claimed case: it stores
each finished step and every checkpoint (``RunState``) so a resumed case skips completed
steps. ``DurableHumans`` implements ``robots.engine.human_gateway.HumanGateway`` on the task tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robots.engine.human_gateway import Callout, HumanGateway
from robots.engine.records import RunRecord, StepRecord
from robots.engine.run_context import RunListener
from robots.errors import HumanTaskRequest

if TYPE_CHECKING:
    from orchestrator.models import Case, Claim, ClaimRequest
    from orchestrator.queue.runs import RunStore


class CaseListener(RunListener):
    """Persists a claimed case's steps and checkpoints; raises ``LeaseLost`` once the claim
    is no longer ours, which stops the run at its next step.

    Step records are written together with the next checkpoint (the engine checkpoints
    before each step with effects outside the run), and the last ones with the run's
    outcome (``finish``, which the caller uses instead of ``Orchestrator.finish_run``): one
    transaction per effect instead of one per step, which keeps the queue's share of a
    case's time small.
    """

    def __init__(self, orchestrator: RunStore, claim: Claim, *, on_step: Any = None) -> None:
        self.orchestrator = orchestrator
        self.claim = claim
        self._on_step = on_step
        self._pending: list[StepRecord] = []

    def step_started(self, record: StepRecord) -> None:
        """Tell the caller (the worker's progress, the robot row) which step runs."""
        if self._on_step is not None:
            self._on_step(record)

    def step_finished(self, record: StepRecord) -> None:
        """Keep the step's record for the next checkpoint."""
        self._pending.append(record.model_copy())

    def checkpoint(self, run: RunRecord) -> None:
        """Store the state to resume from and the new step records (fenced by the claim's token)."""
        pending, self._pending = self._pending, []
        self.orchestrator.save_checkpoint(self.claim, run.state, pending)

    def finished(self, run: RunRecord) -> None:
        """Keep the last step records for ``finish``: the outcome and the final state are
        stored in one transaction with them, not in a checkpoint of their own."""

    def finish(self, record: RunRecord) -> Case:
        """Store the run's outcome with its final state and step records; the case."""
        pending, self._pending = self._pending, []
        return self.orchestrator.finish_run(self.claim, record, steps=pending)

    def finish_and_claim_next(self, record: RunRecord, request: ClaimRequest) -> tuple[Case, Claim | None]:
        """``finish``, and the robot's next claim as ``request`` says (see
        ``Orchestrator.finish_run_and_claim_next``)."""
        pending, self._pending = self._pending, []
        return self.orchestrator.finish_run_and_claim_next(
            self.claim,
            record,
            steps=pending,
            lease_seconds=request.lease_seconds,
            workflows=request.workflows,
        )


class DurableHumans(HumanGateway):
    """Human tasks and callouts in the orchestrator's database (idempotent on the task key)."""

    def __init__(self, orchestrator: RunStore, *, actor: str = "robot") -> None:
        self.orchestrator = orchestrator
        self.actor = actor

    def create_task(self, request: HumanTaskRequest, *, case_id: str, run_id: str, key: str) -> str:
        """Create the task, or return the one with this key."""
        return self.orchestrator.create_task(
            request, case_id=case_id, run_id=run_id, key=key, actor=self.actor
        )

    def answer_for(self, task_id: str) -> dict[str, Any] | None:
        """The agent's answer, or None while the task is open."""
        return self.orchestrator.answer_for(task_id)

    def push_callout(self, callout: Callout) -> None:
        """Store the callout; the control room pushes it to agents' browsers."""
        self.orchestrator.push_callout(callout)

    def reopen_task(self, task_id: str, request: HumanTaskRequest) -> None:
        """The same task in front of the same person again, with the new reason, data and form."""
        self.orchestrator.reopen_task(task_id, request, actor=self.actor)
