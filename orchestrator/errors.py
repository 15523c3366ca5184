"""Every error the orchestrator raises, in one place.

::

    OrchestratorError                 base (a TandemError)
    ├── PayloadInvalid                a case payload does not fit the workflow's input schema;
    │                                 ``problems`` lists every (field, message)
    ├── UnknownWorkflow               no workflow of that name in the project
    ├── NotFound                      a case, task, user, queue or unit id that does not exist
    ├── InvalidTransition             the case or task is not in a state that allows this
    ├── LeaseLost                     a robot's claim on a case expired or was taken over
    ├── PermissionDenied              the user's role or unit does not allow this
    └── OrganisationError             the organisation YAML file is wrong (file, field, fix)
"""

from __future__ import annotations

from robots.errors import TandemError


class OrchestratorError(TandemError):
    """Base of the orchestrator's errors."""


class PayloadInvalid(OrchestratorError):
    """A payload does not fit the workflow's input; ``problems`` holds (field, message) pairs."""

    def __init__(self, workflow: str, problems: list[tuple[str, str]]) -> None:
        self.workflow = workflow
        self.problems = problems
        lines = "\n  ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(
            f"the payload for workflow {workflow!r} is not valid; nothing was stored:\n  {lines}"
        )


class UnknownWorkflow(PayloadInvalid):
    """The case names a workflow the project does not have."""

    def __init__(self, workflow: str, hint: str) -> None:
        super().__init__(workflow, [("workflow", f"no workflow named {workflow!r} ({hint})")])


class NotFound(OrchestratorError):
    """An id that names nothing."""

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"no {what} {key!r}")


class InvalidTransition(OrchestratorError):
    """The case or task is in a state that does not allow the operation."""


class LeaseLost(OrchestratorError):
    """The robot's lease on a case expired or another robot holds it now: stop working on it."""


class PermissionDenied(OrchestratorError):
    """The user may not do this (wrong role, or the task belongs to a unit outside theirs)."""


class OrganisationError(OrchestratorError):
    """The organisation file (units, queues, users) has problems; all are listed."""
