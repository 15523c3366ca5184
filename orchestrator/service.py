"""``Orchestrator``: the one service object the API, inbox, scheduler and workers use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orchestrator.humans.administration import AdminStore
from orchestrator.humans.customer_links import CustomerLinks
from orchestrator.humans.escalation import EscalationStore
from orchestrator.models import Claim
from orchestrator.queue.runs import DEFAULT_LEASE_SECONDS, RunStore
from orchestrator.queue.runtime import CaseListener, DurableHumans
from orchestrator.queue.search import CaseSearchStore
from robots.language.project import Project


class Orchestrator(RunStore, CaseSearchStore, EscalationStore, AdminStore):
    """Durable cases, claims and runs (``RunStore``), audit trail, human tasks, organisation and
    robots; case search and bulk actions (``CaseSearchStore``); escalation of tasks
    (``EscalationStore``); the admin screens' changes with their audit log (``AdminStore``).

    ``url``: a SQLAlchemy URL (default ``TANDEM_DATABASE_URL`` or ``sqlite:///tandem.db``);
    the schema is migrated on open. ``project``: where workflows are found (payloads are
    validated against their input). ``retry_base_seconds`` / ``retry_max_seconds``: the
    exponential backoff of system failures. ``lease_seconds``: the default lease length.
    ``clock``: where "now" comes from (tests pass a controllable one). ``customer_links``:
    how the customer's status link is made for their mails (``case.status_url``; the server's
    public URL and secret key); None: mails carry no link.
    Safe to share between threads; each process opens its own.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        project: Project | None = None,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 3600.0,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        migrate: bool = True,
        pool_size: int = 5,
        clock: Callable[[], datetime] | None = None,
        customer_links: CustomerLinks | None = None,
    ) -> None:
        if retry_base_seconds < 0 or retry_max_seconds < retry_base_seconds:
            raise ValueError(
                f"retry_base_seconds={retry_base_seconds}, retry_max_seconds={retry_max_seconds}: "
                "use 0 <= base <= max"
            )
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds={lease_seconds}: a lease must last a positive number of seconds")
        super().__init__(url, project=project, migrate=migrate, pool_size=pool_size, clock=clock)
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.lease_seconds = lease_seconds
        self.customer_links = customer_links

    def listener(self, claim: Claim) -> CaseListener:
        """A ``RunListener`` that stores the claimed case's steps and checkpoints; end the run
        with its ``finish(record)``, which stores the outcome with the last step records."""
        return CaseListener(self, claim)

    def humans(self, actor: str = "robot") -> DurableHumans:
        """A ``HumanGateway`` on this database, for ``robots.engine.runner.Engine(humans=...)``."""
        return DurableHumans(self, actor=actor)

    def __repr__(self) -> str:
        return f"Orchestrator({self.engine.url.render_as_string(hide_password=True)!r})"
