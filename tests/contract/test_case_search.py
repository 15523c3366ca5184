"""Case search on every backend: payload values by field and in any field (JSON text differs
between SQLite and PostgreSQL), references, dates, paging with the total, and bulk actions."""

from __future__ import annotations

from orchestrator.queue.search import CaseQuery
from orchestrator.service import Orchestrator
from tests.contract.conftest import Clock, new_case


def _address(n: int, street: str = "Chausseestraße 5") -> dict[str, str]:
    return {"customer_id": f"C{n:06d}", "street": street, "postal_code": "10115"}


def test_payload_values_by_field_and_in_any_field(orch: Orchestrator) -> None:
    new_case(orch, "address_like", "web:1", payload=_address(1))
    new_case(orch, "address_like", "web:10", payload=_address(10, "Müllerstraße 1"))
    new_case(orch, "noop", "other", payload={"n": 7})

    def found(reference: str = "", field: str = "", value: str = "") -> list[str]:
        query = CaseQuery(reference=reference, field=field, value=value)
        return sorted(c.reference for c in orch.search_cases(query)[0])

    assert found(field="customer_id", value="C000001") == ["web:1"]
    assert found(value="C000001") == ["web:1"]
    assert found(value="c000010") == ["web:10"]
    assert found(value="Müllerstraße 1") == ["web:10"]
    assert found(field="street", value="Müllerstraße 1") == ["web:10"]
    assert found(value="C00000") == []
    assert found(reference="web:") == ["web:1", "web:10"]


def test_pages_with_the_total_and_dates(orch: Orchestrator, clock: Clock) -> None:
    start = clock.at
    for n in range(7):
        clock.advance(hours=1)
        new_case(orch, "noop", f"batch-{n}")
    page, total = orch.search_cases(CaseQuery(reference="batch-"), limit=3, offset=3)
    assert total == 7
    assert [c.reference for c in page] == ["batch-3", "batch-2", "batch-1"]
    later = orch.search_cases(CaseQuery(created_from=start.replace(hour=start.hour + 5)))[1]
    assert later == 3


def test_bulk_cancel_skips_what_it_may_not_change(orch: Orchestrator) -> None:
    first, second = new_case(orch, "noop", "a"), new_case(orch, "noop", "b")
    orch.cancel_case(second.id, actor="test", reason="before")
    done, skipped = orch.bulk_case_action("cancel", [first.id, second.id, "c-none"], actor="olaf.ops")
    assert [c.id for c in done] == [first.id]
    assert [case_id for case_id, _ in skipped] == [second.id, "c-none"]
    assert orch.get_case(first.id).status == "cancelled"
