"""Finding cases on the ops dashboard (reference, payload fields, dates, state, workflow,
channel, paging past 50) and bulk retry / cancel with a confirmation step."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.queue.search import CaseQuery
from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT

SECRET = "case-search-secret-key-0123456789abcdef"
NOW = [datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]


def address(n: int, city: str = "Berlin") -> dict[str, str]:
    return {"customer_id": f"C{n:06d}", "street": "Chausseestraße 5", "postal_code": "10115", "city": city}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(
        f"sqlite:///{tmp_path_factory.mktemp('search') / 's.db'}", project=Project(ROOT), clock=lambda: NOW[0]
    )
    orchestrator.load_organisation()
    # 60 webform address changes on 20 November, one on 22 November by the IVR (in München),
    # and two appointments for Munich's queues.
    for n in range(1, 61):
        NOW[0] += timedelta(seconds=1)
        orchestrator.create_case("address_change", f"webform:form-{n:03d}", address(n), channel="webform")
    NOW[0] = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    orchestrator.create_case("address_change", "ivr:CALL-2026-77", address(777, "München"), channel="ivr")
    for order in ("O-100001", "O-100002"):
        orchestrator.create_case(
            "delivery_appointment",
            f"ivr:{order}",
            {"order_number": order, "postal_code": "80331", "name": "Lea Weber"},
            channel="ivr",
        )
    NOW[0] = datetime.now(UTC)
    yield orchestrator
    orchestrator.close()


@pytest.fixture(scope="module")
def clients(store: Orchestrator) -> dict[str, TestClient]:
    app = create_app(ServerSettings(secret_key=SECRET), store=store)
    passwords = {"olaf.ops": "ops-demo-1", "max.agent": "agent-demo-2", "admin": "admin-demo-1"}
    signed_in = {}
    for name, password in passwords.items():
        client = TestClient(app)
        assert client.post("/login", data={"username": name, "password": password}).status_code == 200
        signed_in[name] = client
    return signed_in


def refs(store: Orchestrator, **filters: object) -> list[str]:
    cases, total = store.search_cases(CaseQuery(**filters), limit=500)  # type: ignore[arg-type]
    assert total == len(cases)
    return sorted(c.reference for c in cases)


def test_payload_fields_by_name_and_any_field(store: Orchestrator) -> None:
    assert refs(store, field="customer_id", value="C000007") == ["webform:form-007"]
    assert refs(store, value="C000007") == ["webform:form-007"]  # any field; "C0000070" does not match
    assert refs(store, field="order_number", value="O-100002") == ["ivr:O-100002"]
    assert refs(store, value="o-100002") == ["ivr:O-100002"]  # any field, any case
    assert refs(store, value="München") == ["ivr:CALL-2026-77"]  # stored as an ASCII escape
    assert refs(store, field="city", value="München") == ["ivr:CALL-2026-77"]
    assert refs(store, field="customer_id", value="C00000") == []  # whole values only
    assert refs(store, value="50%") == []


def test_reference_dates_state_workflow_and_channel(store: Orchestrator) -> None:
    assert refs(store, reference="CALL-2026") == ["ivr:CALL-2026-77"]
    assert len(refs(store, created_from=datetime(2026, 11, 21, tzinfo=UTC))) == 3
    assert len(refs(store, created_to=datetime(2026, 11, 21, tzinfo=UTC))) == 60
    assert refs(store, workflow="delivery_appointment", channel="ivr") == ["ivr:O-100001", "ivr:O-100002"]
    assert len(refs(store, channel="webform", state="queued")) == 60
    assert refs(store, state="done") == []
    assert store.case_channels() == ["ivr", "webform"]


def test_the_dashboard_pages_past_50_with_the_search_kept(clients: dict[str, TestClient]) -> None:
    ops = clients["olaf.ops"]
    first = ops.get("/ops?channel=webform").text
    assert "60 cases, 1\u201350 shown" in first
    older = re.search(r'<a href="([^"]+)">Older</a>', first)
    assert older and "channel=webform" in older.group(1) and "page=2" in older.group(1)
    second = ops.get(older.group(1).replace("&amp;", "&")).text
    assert "51\u201360 shown" in second and "page 2 of 2" in second
    assert second.count('name="case_ids"') == 10
    assert "form-001" in second and "form-060" not in second  # newest first


def test_the_dashboard_finds_by_payload_value_and_dates(clients: dict[str, TestClient]) -> None:
    ops = clients["olaf.ops"]
    page = ops.get("/ops?field=order_number&value=O-100001").text
    assert "1 case" in page and "ivr:O-100001" in page and "ivr:O-100002" not in page
    page = ops.get("/ops?from=2026-11-22&to=2026-11-22").text
    assert "3 cases" in page
    assert "is not a date" in ops.get("/ops?from=yesterday").text


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ops").text)
    assert found
    return found.group(1)


def test_bulk_cancel_asks_first_then_cancels(clients: dict[str, TestClient], store: Orchestrator) -> None:
    ops = clients["olaf.ops"]
    targets = [c.id for c in store.search_cases(CaseQuery(reference="form-05"), limit=50)[0]]
    assert len(targets) == 10
    asked = ops.post(
        "/ops/cases/bulk",
        data={"csrf_token": csrf(ops), "action": "cancel", "case_ids": targets, "reference": "form-05"},
    )
    assert asked.status_code == 200
    assert "Cancel 10 cases?" in asked.text and "Yes, cancel 10 cases" in asked.text
    assert all(store.get_case(i).status == "queued" for i in targets)  # nothing changed yet

    token = re.search(r'name="csrf_token" value="([^"]+)"', asked.text)
    assert token
    confirmed = ops.post(
        "/ops/cases/bulk/confirm",
        data={"csrf_token": token.group(1), "action": "cancel", "case_ids": targets, "reference": "form-05"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303 and "reference=form-05" in confirmed.headers["location"]
    assert all(store.get_case(i).status == "cancelled" for i in targets)
    assert "10 case(s) cancelled." in ops.get(confirmed.headers["location"]).text
    timeline = store.case_timeline(targets[0])
    assert timeline.transitions[-1].actor == "olaf.ops"

    # Retry every case that matches the search (the cancelled ones); a done case would be skipped.
    asked = ops.post(
        "/ops/cases/bulk",
        data={"csrf_token": csrf(ops), "action": "retry", "scope": "matching", "state": "cancelled"},
    )
    assert "Retry 10 cases?" in asked.text
    ops.post(
        "/ops/cases/bulk/confirm",
        data={"csrf_token": csrf(ops), "action": "retry", "case_ids": [*targets, targets[0]]},
    )
    assert all(store.get_case(i).status == "queued" for i in targets)
    log = clients["admin"].get("/admin/audit?action=cases").text
    assert "cases.cancel" in log and "cases.retry" in log


def test_bulk_actions_are_refused_to_agents_and_without_csrf(
    clients: dict[str, TestClient], store: Orchestrator
) -> None:
    case = store.search_cases(CaseQuery(reference="form-001"))[0][0]
    agent = clients["max.agent"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', agent.get("/inbox").text)
    assert token
    for path in ("/ops/cases/bulk", "/ops/cases/bulk/confirm"):
        answer = agent.post(
            path, data={"csrf_token": token.group(1), "action": "cancel", "case_ids": [case.id]}
        )
        assert answer.status_code == 403
    answer = clients["olaf.ops"].post(
        "/ops/cases/bulk/confirm", data={"action": "cancel", "case_ids": [case.id]}
    )
    assert answer.status_code == 403
    assert store.get_case(case.id).status == "queued"


def test_a_branch_ops_user_cannot_touch_another_branchs_cases(store: Orchestrator) -> None:
    store.create_user("mia.ops", "munich-ops-1", role="ops", unit="munich")
    berlin_case = store.search_cases(CaseQuery(reference="form-002"))[0][0]
    munich_case = store.search_cases(CaseQuery(reference="O-100001"))[0][0]
    done, skipped = store.bulk_case_action("cancel", [berlin_case.id, munich_case.id], actor="mia.ops")
    assert [c.id for c in done] == [munich_case.id]
    assert skipped == [(berlin_case.id, "not found among your cases")]
    assert store.get_case(berlin_case.id).status == "queued"
    assert refs(store, reference="form-00") != []
    mine, total = store.search_cases(CaseQuery(), visible_to="mia.ops")
    assert total == 2 and {c.workflow for c in mine} == {"delivery_appointment"}
    with pytest.raises(ValueError, match="retried or cancelled"):
        store.bulk_case_action("delete", [munich_case.id], actor="mia.ops")
