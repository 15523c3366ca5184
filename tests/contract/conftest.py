"""One contract suite over every storage backend: SQLite (a tmp file) and PostgreSQL.

PostgreSQL is the server named by ``TANDEM_TEST_POSTGRES_URL`` (default: the local one);
the suite works in a schema of its own, created for the session and dropped afterwards,
and empties its tables before each test. Without a reachable server those tests are
skipped with a message that says so.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.humans.people import DEFAULT_ORG_FILE, read_organisation
from orchestrator.models import Case
from orchestrator.service import Orchestrator
from orchestrator.storage.tables import QueueRow, UserRow
from orchestrator.worker.execution import run_claim
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import POSTGRES_URL as POSTGRES_URL  # for the suites that name the server
from tests.conftest import postgres_schema, write

WORKFLOWS = {
    "screen_routine.yaml": """
        name: screen_routine
        runs_in: web
        steps:
          - web.goto: /home
        """,
    "noop.yaml": """
        name: noop
        input:
          n: {type: integer, required: false}
        steps:
          - set: {x: 1}
        """,
    "address_like.yaml": """
        name: address_like
        input:
          customer_id: {type: string, pattern: "C[0-9]{6}"}
          street: {type: string, min_length: 3}
          postal_code: {type: string, pattern: "[0-9]{5}"}
        steps:
          - set: {x: 1}
        """,
    "ask.yaml": """
        name: ask
        queue: exceptions
        input:
          customer: {type: string, personal: true}
        steps:
          - id: gather
            set: {found: "data for {{ input.customer }}"}
          - callout: {title: "Call {{ input.customer }}", queue: appointments, data: {found: "{{ found }}"}}
          - id: agent
            await_human:
              queue: appointments
              reason: "Agree a slot with {{ input.customer }}"
              data: {found: "{{ found }}"}
              form:
                - {name: slot, type: choice, choices: [monday, tuesday]}
                - {name: note, type: text, required: false}
            as: answer
          - output: {slot: "{{ answer.slot }}", found: "{{ found }}"}
        """,
    "flaky.yaml": """
        name: flaky
        max_attempts: 3
        queue: exceptions
        input: {}
        steps:
          - id: first
            set: {x: 1}
          - id: broken
            fail: {message: "the app is down", kind: system}
        """,
    "implausible.yaml": """
        name: implausible
        queue: exceptions
        input: {}
        steps:
          - id: check
            escalate:
              queue: address_review
              reason: "postal code does not fit the city"
          - output: {went_on: true}
        """,
    "checked_address.yaml": """
        name: checked_address
        queue: address_exceptions
        input:
          postal_code: {type: string, pattern: "[0-9]{5}"}
          city: {type: string, min_length: 2}
          email: {type: string, required: false}
        steps:
          - id: check
            escalate:
              when: "{{ input.postal_code != '10115' }}"
              queue: address_review
              reason: "postal code {{ input.postal_code }} is not in {{ input.city }}"
          - output: {changed_to: "{{ input.postal_code }} {{ input.city }}"}
        """,
    "no_slot.yaml": """
        name: no_slot
        queue: exceptions
        input: {}
        steps:
          - id: agent
            await_human:
              queue: appointments
              reason: "No free slot at all"
              outcomes:
                postponed: {robot: true}
                rejected: {text: "No supplier can deliver: {reason}", mail: false}
          - output: {impossible: true}
        """,
    "with_pin.yaml": """
        name: with_pin
        queue: exceptions
        input:
          customer_id: {type: string}
          pin: {type: string, secret: true}
        steps:
          - set: {x: 1}
        """,
    "rebook.yaml": """
        name: rebook
        queue: exceptions
        input: {}
        steps:
          - id: agent
            await_human:
              queue: appointments
              reason: "Agree a slot"
              form: [{name: slot, type: string}]
            as: agreed
          - set: {booked: "{{ agreed.slot.startswith('free') }}"}
          - id: taken
            for_each: "{{ range(3) }}"
            steps:
              - id: again
                when: "{{ not booked }}"
                steps:
                  - id: ask_again
                    await_human:
                      reopen: agent
                      queue: appointments
                      reason: "{{ agreed.slot }} was taken: agree another"
                      form: [{name: slot, type: string}]
                    as: agreed
                  - set: {booked: "{{ agreed.slot.startswith('free') }}"}
          - output: {slot: "{{ agreed.slot }}"}
        """,
    "bad_data.yaml": """
        name: bad_data
        queue: address_exceptions
        input: {}
        steps:
          - fail: {message: "customer unknown", kind: business}
        """,
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture(scope="session")
def contract_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("contract-project")
    for name, text in WORKFLOWS.items():
        write(root / "workflows" / name, text)
    (root / "business_rules").mkdir()
    return Project(root)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh schema on the test server for this session (dropped at the end)."""
    with postgres_schema("tandem_contract") as schema:
        yield schema.url


@pytest.fixture(scope="session")
def _postgres_store(postgres_url: str, contract_project: Project) -> Iterator[Orchestrator]:
    store = Orchestrator(postgres_url, project=contract_project, pool_size=10)
    yield store
    store.close()


KEPT = {"alembic_version", "org_units", "queues", "users"}


def _empty(store: Orchestrator) -> None:
    """Empty every table but the organisation's (re-loading it would hash passwords again)."""
    with store.engine.begin() as connection:
        names = [t for t in sa.inspect(connection).get_table_names() if t not in KEPT]
        connection.execute(
            sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
        )
        # What a test added to the organisation goes; the demo organisation stays as loaded.
        org = read_organisation(DEFAULT_ORG_FILE)
        users = [user.username for user in org["users"]]
        queues = [queue.name for queue in org["queues"]]
        connection.execute(sa.delete(UserRow).where(UserRow.username.not_in(users)))
        connection.execute(sa.update(UserRow).values(active=True))
        connection.execute(sa.delete(QueueRow).where(QueueRow.name.not_in(queues)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test."""
    return str(request.param)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory, contract_project: Project) -> Path:
    """A migrated SQLite database with the demo organisation, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    store = Orchestrator(f"sqlite:///{path}", project=contract_project)
    store.load_organisation()
    store.close()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of the backend under test."""
    if backend == "sqlite":
        target = tmp_path / "tandem.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
    store: Orchestrator = request.getfixturevalue("_postgres_store")
    _empty(store)
    return store.url


@pytest.fixture
def orch(
    backend: str, store_url: str, request: pytest.FixtureRequest, contract_project: Project, clock: Clock
) -> Iterator[Orchestrator]:
    """An orchestrator on an empty database, with the demo organisation and a test clock."""
    if backend == "postgres":
        store: Orchestrator = request.getfixturevalue("_postgres_store")
        store.clock = clock
        store.retry_base_seconds, store.retry_max_seconds = 30.0, 3600.0
        store.load_organisation()
        yield store
        store.clock = None
        return
    store = Orchestrator(store_url, project=contract_project, clock=clock)
    store.load_organisation()
    yield store
    store.close()


@pytest.fixture
def engine(orch: Orchestrator) -> Engine:
    """An engine whose humans are the orchestrator's and which leaves retries to it."""
    return Engine(orch.project, humans=orch.humans(), escalate_system_failures=False, robot="robot-1")


def run_next(orch: Orchestrator, engine: Engine, robot: str = "robot-1") -> Case:
    """Claim the next case and run it to its next stop."""
    claim = orch.claim_next_case(robot, 60)
    assert claim is not None, "expected a claimable case"
    case = run_claim(orch, engine, claim)
    assert case is not None
    return case


def new_case(
    orch: Orchestrator, workflow: str = "noop", reference: str | None = None, **options: Any
) -> Case:
    """Create a case (a fresh reference unless one is given)."""
    payload = options.pop("payload", {})
    case, created = orch.create_case(workflow, reference or uuid.uuid4().hex[:12], payload, **options)
    assert created
    return case
