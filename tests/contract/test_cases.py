"""Cases: creation, validation, idempotent references, listing, audit trail, cancel, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.errors import InvalidTransition, NotFound, PayloadInvalid, UnknownWorkflow
from orchestrator.service import Orchestrator
from tests.contract.conftest import Clock, new_case

GOOD = {"customer_id": "C000001", "street": "Hauptstraße 1", "postal_code": "10115"}


def test_a_new_case_is_queued_with_its_creation_in_the_audit_trail(orch: Orchestrator) -> None:
    case, created = orch.create_case("address_like", "ivr-1", GOOD, priority=5, actor="ivr", channel="ivr")
    assert created and case.status == "queued" and case.priority == 5 and case.channel == "ivr"
    assert orch.get_case(case.id).payload == GOOD
    (created_event,) = orch.case_timeline(case.id).transitions
    assert (created_event.from_status, created_event.to_status, created_event.actor) == (
        None,
        "queued",
        "ivr",
    )


def test_the_same_reference_gives_the_same_case(orch: Orchestrator) -> None:
    first, created = orch.create_case("address_like", "web-7", GOOD)
    again, created_again = orch.create_case("address_like", "web-7", {**GOOD, "street": "Other 2"})
    assert created and not created_again and again.id == first.id and again.payload == GOOD
    other, created_other = orch.create_case("noop", "web-7", {})  # unique per workflow only
    assert created_other and other.id != first.id


def test_a_bad_payload_lists_every_problem_and_stores_nothing(orch: Orchestrator) -> None:
    with pytest.raises(PayloadInvalid) as raised:
        orch.create_case("address_like", "bad-1", {"customer_id": "X1", "street": "A", "shoe_size": 44})
    fields = {field for field, _ in raised.value.problems}
    assert {"customer_id", "street", "postal_code", "shoe_size"} <= fields
    assert "shoe_size" in str(raised.value) and "nothing was stored" in str(raised.value)
    assert orch.list_cases() == [] and orch.find_case("address_like", "bad-1") is None


def test_an_unknown_workflow_is_refused_with_a_hint(orch: Orchestrator) -> None:
    with pytest.raises(UnknownWorkflow) as raised:
        orch.create_case("adress_like", "r", {})
    assert raised.value.problems[0][0] == "workflow" and "address_like" in str(raised.value)


def test_a_routine_that_runs_inside_a_session_is_no_case(orch: Orchestrator) -> None:
    with pytest.raises(PayloadInvalid) as raised:
        orch.create_case("screen_routine", "r-1", {})
    assert raised.value.problems[0][0] == "workflow"
    assert "runs inside a web system's session" in str(raised.value) and "nothing was stored" in str(
        raised.value
    )
    assert orch.list_cases() == []


def test_list_cases_filters_by_workflow_status_reference_and_channel(orch: Orchestrator) -> None:
    a = new_case(orch, "noop", "ivr-100", channel="ivr")
    b = new_case(orch, "noop", "web-200", channel="webform")
    c = new_case(orch, "address_like", "ivr-300", payload=GOOD, channel="ivr")
    orch.cancel_case(b.id, actor="ops", reason="duplicate")
    assert {x.id for x in orch.list_cases(workflow="noop")} == {a.id, b.id}
    assert [x.id for x in orch.list_cases(status="cancelled")] == [b.id]
    assert {x.id for x in orch.list_cases(reference="ivr-")} == {a.id, c.id}
    assert {x.id for x in orch.list_cases(channel="ivr", status=["queued"])} == {a.id, c.id}
    assert orch.count_cases() == {"queued": 2, "cancelled": 1}


def test_cancel_is_audited_and_a_finished_case_cannot_be_cancelled(orch: Orchestrator) -> None:
    case = new_case(orch)
    cancelled = orch.cancel_case(case.id, actor="olaf.ops", reason="customer withdrew")
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    last = orch.case_timeline(case.id).transitions[-1]
    assert (last.from_status, last.to_status, last.actor, last.reason) == (
        "queued",
        "cancelled",
        "olaf.ops",
        "customer withdrew",
    )
    with pytest.raises(InvalidTransition, match="cancelled already"):
        orch.cancel_case(case.id, actor="olaf.ops", reason="again")
    with pytest.raises(NotFound):
        orch.get_case("c-nope")


def test_a_cancelled_case_can_be_retried(orch: Orchestrator) -> None:
    case = new_case(orch)
    orch.cancel_case(case.id, actor="ops", reason="by mistake")
    retried = orch.retry_case(case.id, actor="ops")
    assert retried.status == "queued" and retried.finished_at is None
    with pytest.raises(InvalidTransition, match="only failed"):
        orch.retry_case(case.id, actor="ops")


def test_a_deadline_without_time_zone_is_refused(orch: Orchestrator, clock: Clock) -> None:
    with pytest.raises(PayloadInvalid, match="time zone"):
        orch.create_case("noop", "tz-1", {}, deadline=clock().replace(tzinfo=None))
    assert orch.list_cases() == []


def test_not_before_and_deadline_are_stored(orch: Orchestrator, clock: Clock) -> None:
    later = clock() + timedelta(hours=2)
    case = new_case(orch, not_before=later, deadline=later + timedelta(hours=1))
    stored = orch.get_case(case.id)
    assert stored.not_before == later and stored.deadline == later + timedelta(hours=1)
