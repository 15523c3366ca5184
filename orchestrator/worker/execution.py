"""Running one claimed case with the engine: the heart of a robot worker."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from orchestrator.errors import LeaseLost
from orchestrator.models import Case, Claim, ClaimRequest
from orchestrator.queue.runtime import CaseListener
from orchestrator.service import Orchestrator
from robots.engine.records import StepRecord
from robots.engine.runner import Engine
from robots.errors import DefinitionError


def run_claim(
    orchestrator: Orchestrator,
    engine: Engine,
    claim: Claim,
    *,
    on_step: Callable[[StepRecord], None] | None = None,
) -> Case | None:
    """Run a claimed case to its next stop and store the outcome; the case, or None when the
    claim was lost meanwhile (lease expired, case cancelled: another robot or nobody goes on).

    The run resumes from the claim's checkpoint; steps and checkpoints are stored as they
    happen. ``engine`` should be built with ``escalate_system_failures=False`` and
    ``humans=orchestrator.humans()`` so system failures are retried by the orchestrator.
    """
    return run_claim_and_claim_next(orchestrator, engine, claim, on_step=on_step)[0]


def run_claim_and_claim_next(
    orchestrator: Orchestrator,
    engine: Engine,
    claim: Claim,
    *,
    on_step: Callable[[StepRecord], None] | None = None,
    next_claim: Callable[[], ClaimRequest | None] = lambda: None,
) -> tuple[Case | None, Claim | None]:
    """``run_claim``, and the robot's next claim: the case (or None) and the next claim.

    ``next_claim`` is asked once the run is over (a robot told to stop answers None): what
    it returns is claimed together with storing the outcome
    (``Orchestrator.finish_run_and_claim_next``), so a robot working through a queue does
    not pay for a transaction of its own per claim. No next claim when the claim was lost or
    the workflow did not load: the robot claims the usual way then.
    """
    case = claim.case
    try:
        flow = engine.project.workflow(case.workflow)
    except DefinitionError as error:
        logger.error("case {}: workflow {} does not load: {}", case.id, case.workflow, error)
        return orchestrator.fail_run(claim, f"workflow {case.workflow!r} does not load: {error}"), None
    listener = CaseListener(orchestrator, claim, on_step=on_step)
    if case.failures:
        # It failed before: should it fail again, its trace shows the page at each step.
        engine.systems.trace_in_detail(case.id)
    try:
        record = engine.run(
            flow,
            case.payload,
            case_id=case.id,
            run_id=claim.run_id,
            state=claim.state,
            attempt=claim.attempt,
            listener=listener,
            case_values={"status_url": orchestrator.customer_status_url(case.id)},
        )
        request = next_claim()
        if request is None:
            return listener.finish(record), None
        return listener.finish_and_claim_next(record, request)
    except LeaseLost as lost:
        logger.warning("case {}: {}", case.id, lost)
        return None, None
