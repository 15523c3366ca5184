"""What a role may do is enforced by the store, whatever page or API asks: agents cannot cancel."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.errors import PermissionDenied
from robots.errors import HumanTaskRequest

ADDRESS = {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"}
PASSWORDS = {"anna.agent": "agent-demo-1", "sven.supervisor": "supervisor-demo-1"}


def _signed_in(client: TestClient, username: str) -> TestClient:
    person = TestClient(client.app, raise_server_exceptions=False)
    answer = person.post(
        "/login", data={"username": username, "password": PASSWORDS[username]}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return person


def _task(client: TestClient) -> tuple[str, str]:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case, _ = store.create_case("address_change", f"roles-{uuid.uuid4().hex[:10]}", dict(ADDRESS))
    request = HumanTaskRequest(queue="address_review", reason="Check the address", kind="escalation")
    task_id = store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:check")
    return case.id, task_id


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form"
    return found.group(1)


def test_an_agent_cannot_cancel_a_task_from_the_page(client: TestClient) -> None:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case_id, task_id = _task(client)
    anna = _signed_in(client, "anna.agent")
    page = anna.get(f"/tasks/{task_id}")
    assert page.status_code == 200, page.text
    answer = anna.post(f"/tasks/{task_id}/cancel", data={"csrf_token": _csrf(page.text), "reason": "bye"})
    assert answer.status_code == 403, answer.text
    assert store.get_task(task_id).status == "open"
    assert store.get_case(case_id).status == "queued"


def test_a_supervisor_can_cancel_the_same_task(client: TestClient) -> None:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    _, task_id = _task(client)
    sven = _signed_in(client, "sven.supervisor")
    page = sven.get(f"/tasks/{task_id}")
    sven.post(f"/tasks/{task_id}/cancel", data={"csrf_token": _csrf(page.text), "reason": "duplicate"})
    assert store.get_task(task_id).status == "cancelled"


def test_the_store_refuses_an_agent_cancelling(client: TestClient) -> None:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case_id, task_id = _task(client)
    with pytest.raises(PermissionDenied):
        store.cancel_task(task_id, "anna.agent", "no")
    with pytest.raises(PermissionDenied):
        store.cancel_case(case_id, actor="anna.agent", reason="no")
    assert store.get_case(case_id).status == "queued"
    assert store.get_task(task_id).status == "open"
    store.cancel_case(case_id, actor="olaf.ops", reason="duplicate")
    assert store.get_case(case_id).status == "cancelled"
