"""The inbox's search box on every backend: a text finds a user's tasks by reference, by any
value of the case's payload or the task's data (at any depth, case-insensitive, also beyond
ASCII), by queue; never a task of another unit, never by a key or a secret."""

from __future__ import annotations

from typing import Any

from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest
from tests.contract.conftest import new_case

MUNICH, BERLIN = "max.agent", "anna.agent"


def task(
    orch: Orchestrator,
    workflow: str,
    reference: str,
    payload: dict[str, Any],
    *,
    queue: str = "appointments",
    data: dict[str, Any] | None = None,
) -> str:
    """A task in ``queue`` for a fresh case, as a robot hands it over."""
    case = new_case(orch, workflow, reference, payload=payload)
    request = HumanTaskRequest(queue=queue, reason=f"Call back {reference}", data=data or {}, step="agent")
    return orch.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def found(orch: Orchestrator, username: str, text: str, **options: Any) -> set[str]:
    return {t.id for t in orch.list_tasks(username, search=text, **options)}


def test_payload_and_data_values_reference_and_queue_find_a_task(orch: Orchestrator) -> None:
    lea = task(
        orch,
        "address_like",
        "ivr:CALL-2030-17",
        {"customer_id": "C000001", "street": "Müllerstraße 5", "postal_code": "80331"},
        data={"customer": {"name": "Lea Weiß", "orders": ["O-100001", "O-100002"]}, "callback": 17},
    )
    other = task(
        orch,
        "address_like",
        "webform:form-2",
        {"customer_id": "C000010", "street": "Hauptstraße 1", "postal_code": "80331"},
        queue="appointment_exceptions",
    )
    assert found(orch, MUNICH, "C000001") == {lea}  # a payload value; a part of one finds more
    assert found(orch, MUNICH, "c0000") == {lea, other}
    assert found(orch, MUNICH, "O-100002") == {lea}  # in a list, inside a mapping of the task's data
    assert found(orch, MUNICH, "lea weiß") == {lea}  # every word, each anywhere
    assert found(orch, MUNICH, "LEA WEISS") == set()  # case-insensitive, but ß is not ss
    assert found(orch, MUNICH, "MÜLLERSTRASSE") == set()
    assert found(orch, MUNICH, "MÜLLERSTRAßE") == {lea}
    assert found(orch, MUNICH, "weiß hauptstraße") == set()  # two words, two different tasks
    assert found(orch, MUNICH, "CALL-2030") == {lea}  # the reference
    assert found(orch, MUNICH, "appointment_exceptions") == {other}  # the queue
    assert found(orch, MUNICH, "17") == {lea}  # a number in the data, the reference and the reason
    assert found(orch, MUNICH, lea) == {lea}  # a task's or a case's id, whole
    assert found(orch, MUNICH, orch.get_task(other).case_id or "") == {other}
    assert found(orch, MUNICH, lea[:-1]) == set()
    assert found(orch, MUNICH, "customer_id") == set()  # keys are not values
    assert found(orch, MUNICH, "50%") == set()  # LIKE's wildcards are plain characters
    assert found(orch, MUNICH, "C_00001") == set()
    assert found(orch, MUNICH, "  ") == {lea, other}  # no words: no search
    assert found(orch, MUNICH, "80331", queue="appointments") == {lea}  # with the other filters


def test_another_units_task_is_never_found(orch: Orchestrator) -> None:
    payload = {"customer_id": "C000042", "street": "Chausseestraße 5", "postal_code": "10115"}
    munich = task(orch, "address_like", "ivr:munich", payload)
    berlin = task(orch, "address_like", "ivr:berlin", payload, queue="address_review")
    assert found(orch, MUNICH, "C000042") == {munich}
    assert found(orch, BERLIN, "C000042") == {berlin}
    assert found(orch, BERLIN, "ivr:munich") == set()
    assert found(orch, BERLIN, "appointments") == set()
    assert found(orch, "sven.supervisor", "C000042") == {munich, berlin}  # Germany sees both branches


def test_secrets_are_never_searched(orch: Orchestrator) -> None:
    task(
        orch,
        "with_pin",
        "web:pin",
        {"customer_id": "C000077", "pin": "4711-0815"},
        data={"login": {"password": "correct-horse"}, "api_token": "tok-123456"},
    )
    assert found(orch, MUNICH, "C000077") != set()
    assert found(orch, MUNICH, "4711-0815") == set()  # the workflow's secret input
    assert found(orch, MUNICH, "correct-horse") == set()  # a value under a key that looks secret
    assert found(orch, MUNICH, "tok-123456") == set()


def test_the_limit_counts_found_tasks_only(orch: Orchestrator) -> None:
    for n in range(5):
        task(orch, "noop", f"batch-{n}", {})
    wanted = {task(orch, "noop", f"wanted-{n}", {}) for n in range(3)}
    assert found(orch, MUNICH, "wanted", limit=2) < wanted
    assert len(found(orch, MUNICH, "wanted", limit=2)) == 2
    assert found(orch, MUNICH, "wanted", limit=10) == wanted
