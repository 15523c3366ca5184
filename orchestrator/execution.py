"""Running one claimed case with the engine: the heart of a robot worker."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from orchestrator.errors import LeaseLost
from orchestrator.models import Case, Claim
from orchestrator.runtime import CaseListener
from orchestrator.store import Orchestrator
from robots.engine import Engine
from robots.errors import DefinitionError
from robots.records import StepRecord


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
    case = claim.case
    try:
        flow = engine.project.workflow(case.workflow)
    except DefinitionError as error:
        logger.error("case {}: workflow {} does not load: {}", case.id, case.workflow, error)
        return orchestrator.fail_run(claim, f"workflow {case.workflow!r} does not load: {error}")
    listener = CaseListener(orchestrator, claim, on_step=on_step)
    try:
        record = engine.run(
            flow,
            case.payload,
            case_id=case.id,
            run_id=claim.run_id,
            state=claim.state,
            attempt=claim.attempt,
            listener=listener,
        )
        return listener.finish(record)
    except LeaseLost as lost:
        logger.warning("case {}: {}", case.id, lost)
        return None
