"""The demo's batch data (``schedules/data``) is data a robot can work: every row becomes a
case, belongs to a customer of the demo CRM, and passes the plausibility rule unless it is
one of the rows meant to escalate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from demo.data import CUSTOMERS
from orchestrator.schedules.service import ScheduleService
from orchestrator.schedules.sources import read_rows
from orchestrator.service import Orchestrator
from robots.language.project import Project
from robots.language.rules import RuleBook
from tests.conftest import ROOT

#: Customer numbers of the address rows that are implausible on purpose (they go to address_review).
MEANT_TO_ESCALATE = {"C000009"}
FIRE = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScheduleService]:
    store = Orchestrator(f"sqlite:///{tmp_path_factory.mktemp('batch') / 'b.db'}", project=Project(ROOT))
    yield ScheduleService(store, engine=store.engine, root=ROOT)
    store.close()


def test_the_address_rows_are_plausible_but_the_one_meant_to_escalate(service: ScheduleService) -> None:
    book = RuleBook(ROOT / "business_rules")
    rows = read_rows(service.schedule("nightly_address_changes"), FIRE, root=ROOT)
    verdicts = {
        row.payload["customer_id"]: book.decide(
            "address_plausibility", {"postal_code": row.payload["postal_code"], "city": row.payload["city"]}
        )
        for row in rows
    }
    implausible = {number for number, verdict in verdicts.items() if not verdict["plausible"]}
    assert implausible == MEANT_TO_ESCALATE, verdicts
    assert len(verdicts) >= 4


@pytest.mark.parametrize("name", ["nightly_address_changes", "delivery_appointments"])
def test_every_row_becomes_a_case_of_a_known_customer(service: ScheduleService, name: str) -> None:
    summary = service.run_now(name)
    assert summary.status == "done", summary
    assert summary.rejected == 0 and summary.created == summary.total >= 4, summary
    customers = {c["id"] for c in CUSTOMERS}
    orders = {c["order_number"] for c in CUSTOMERS}
    for row in read_rows(service.schedule(name), FIRE, root=ROOT):
        assert row.payload.get("customer_id", "C000001") in customers
        assert row.payload.get("order_number", "O-100001") in orders
