"""What a run leaves behind: a record per step (the audit trail) and its resumable state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

StepOutcome = Literal[
    "running", "ok", "skipped", "restored", "retrying", "failed", "handled", "escalated", "waiting"
]
RunStatus = Literal["running", "done", "waiting_human", "escalated", "failed_business", "failed_system"]


class StepRecord(BaseModel):
    """One step (one attempt of it) as it ran: the audit trail's unit."""

    path: str = Field(description="Where the step sits: '3', 'crm_update.2', '4[1].1'...")
    kind: str = Field(description="The action's name or the step keyword.")
    label: str = Field(description="The step's id or name, or a short description.")
    depth: int = 0
    attempt: int = 1
    started_at: datetime
    ended_at: datetime | None = None
    duration_ms: float = 0.0
    outcome: StepOutcome = "running"
    outputs: Any = None
    error: str | None = None
    error_kind: str | None = None
    system: str | None = None
    artifacts: list[str] = Field(default_factory=list)


class RunState(BaseModel):
    """What a resumed run needs: the effects of completed steps and the open human tasks."""

    completed: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tasks: dict[str, str] = Field(default_factory=dict)


class RunRecord(BaseModel):
    """One run of a workflow for one case."""

    run_id: str
    case_id: str
    workflow: str
    version: str
    robot: str
    status: RunStatus = "running"
    started_at: datetime
    ended_at: datetime | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    error_step: str | None = None
    task_id: str | None = None
    state: RunState = Field(
        default_factory=RunState,
        exclude=True,
        description="For resuming: unmasked, so it is stored, never shown (not in dumps).",
    )

    @property
    def duration_ms(self) -> float:
        """Wall time of the run so far."""
        end = self.ended_at or datetime.now(self.started_at.tzinfo)
        return (end - self.started_at).total_seconds() * 1000
