"""Bad input at the edge: a 4xx with the documented error shape, never a 500, never stored."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import write
from tests.security.conftest import Channel, channel, make_client

DELIVERY = {"order_number": "O-100001", "postal_code": "10115"}
ADDRESS = {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"}


def _ivr_call(**changes: Any) -> dict[str, Any]:
    call = {
        "event": "delivery appointment",
        "call_id": f"CALL-{uuid.uuid4().hex[:10]}",
        "caller_number": "+49 31 4001379",
        "order_number": "O-100001",
        "postal_code": "10115",
    }
    call.update(changes)
    return call


def _case(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "workflow": "delivery_appointment",
        "reference": f"REF-{uuid.uuid4().hex[:10]}",
        "payload": dict(DELIVERY),
    }
    body.update(changes)
    return body


def _assert_refused(answer: Any, field: str | None = None) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert isinstance(body["error"], str)
    assert body["problems"], body
    if field is not None:
        assert any(field in problem["field"] for problem in body["problems"]), body


def _stored_references(client: TestClient) -> list[str]:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    return [case.reference for case in store.list_cases(limit=10_000)]


@pytest.mark.parametrize(
    "received_at", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00+14:00", "1899-01-01T00:00:00Z"]
)
def test_an_ivr_call_at_the_end_of_time_is_a_422(ivr: Channel, received_at: str) -> None:
    _assert_refused(ivr.post("/api/channels/ivr", _ivr_call(received_at=received_at)), "received_at")


@pytest.mark.parametrize("deadline", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", 0, 1.5, True])
def test_a_deadline_out_of_range_or_a_number_is_a_422(ivr: Channel, deadline: Any) -> None:
    _assert_refused(ivr.post("/api/cases", _case(deadline=deadline)), "deadline")


def test_a_deadline_in_range_is_taken(ivr: Channel) -> None:
    answer = ivr.post("/api/cases", _case(deadline="2030-01-01T00:00:00+14:00"))
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("priority", ["5", True, 5.0, -1, 101])
def test_a_priority_must_be_an_integer_0_to_100(ivr: Channel, priority: Any) -> None:
    _assert_refused(ivr.post("/api/cases", _case(priority=priority)), "priority")


@pytest.mark.parametrize(
    "reference",
    [
        "   ",
        "",
        "REF\u202eevil",
        "REF\u200bX",
        "REF\ufeffX",
        "A\ud800B",
        "REF\x00",
        "REF\x1b[31m",
        "R\nEF",
        "x" * 201,
    ],
)
def test_a_reference_must_be_visible_text(client: TestClient, ivr: Channel, reference: str) -> None:
    answer = ivr.post("/api/cases", _case(reference=reference))
    assert answer.status_code == 422, answer.text
    assert reference not in _stored_references(client)


def test_a_reference_is_stripped(ivr: Channel) -> None:
    reference = f"REF-{uuid.uuid4().hex[:8]}"
    answer = ivr.post("/api/cases", _case(reference=f"  {reference} "))
    assert answer.status_code == 201, answer.text
    assert answer.json()["reference"] == reference


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases/c-%00",
        "/api/cases/c-%01x",
        "/tasks/t-%00",
        "/ops?reference=%00",
        "/ops/cases/c-%00",
        "/inbox?queue=a%00b",
        "/webform/status/c-%00/abc",
    ],
)
def test_a_nul_byte_in_an_address_is_a_422_not_a_500(client: TestClient, ivr: Channel, path: str) -> None:
    answer = client.get(path, headers=ivr.headers)
    assert answer.status_code == 422, answer.text


def test_a_nul_byte_in_the_api_problem_shape(ivr: Channel) -> None:
    answer = ivr.get("/api/cases/c-%00")
    _assert_refused(answer, "path")


@pytest.mark.parametrize("username", ["admin\x00", "adm\x07in"])
def test_a_nul_byte_in_the_login_form_is_refused(client: TestClient, username: str) -> None:
    answer = client.post("/login", data={"username": username, "password": "x"}, follow_redirects=False)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    "payload",
    [
        {**DELIVERY, "order_number": "O-10\x000001"},
        {**DELIVERY, "order_number": "O-100001\ud800"},
        {**DELIVERY, "bad\x00key": "x"},
    ],
)
def test_control_characters_in_a_json_payload_are_refused(
    client: TestClient, ivr: Channel, payload: dict[str, Any]
) -> None:
    reference = f"REF-{uuid.uuid4().hex[:10]}"
    answer = ivr.post("/api/cases", _case(reference=reference, payload=payload))
    _assert_refused(answer)
    assert reference not in _stored_references(client)


def test_control_characters_in_a_channel_webform_are_refused(
    client: TestClient, webform_api: Channel
) -> None:
    submission = f"sub-{uuid.uuid4().hex}"
    fields = {"customer_number": "C000001", "street": "Main\x00 Street", "zip": "10115", "city": "Berlin"}
    answer = webform_api.post(
        "/api/channels/webform", {"form": "address-change", "submission_id": submission, "fields": fields}
    )
    _assert_refused(answer)
    assert f"webform:{submission}" not in _stored_references(client)


def test_a_nul_byte_in_the_public_webform_is_never_stored(client: TestClient) -> None:
    page = client.get("/webform/address-change")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    submission = page.text.split('name="submission_id" value="', 1)[1].split('"', 1)[0]
    before = len(_stored_references(client))
    answer = client.post(
        "/webform/address-change",
        data={
            "csrf_token": token,
            "submission_id": submission,
            "customer_number": "C000001",
            "street": "Chausseestraße\x00",
            "house_number": "5",
            "zip": "10115",
            "city": "Berlin",
            "email": "",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 422, answer.text
    assert len(_stored_references(client)) == before


def test_the_store_refuses_control_characters_whoever_calls(client: TestClient) -> None:
    from orchestrator.errors import PayloadInvalid

    store: Any = client.app.state.store  # type: ignore[attr-defined]
    with pytest.raises(PayloadInvalid):
        store.create_case("delivery_appointment", "REF\x00", dict(DELIVERY))
    with pytest.raises(PayloadInvalid):
        store.create_case("delivery_appointment", "REF-OK-1", {**DELIVERY, "order_number": "O\x00"})


MEASURED = """
name: measured
input:
  weight: {type: number}
steps:
  - set: {x: 1}
"""


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_numbers_json_cannot_hold_are_refused(database_url: str, tmp_path: Path, number: str) -> None:
    write(tmp_path / "workflows" / "measured.yaml", MEASURED)
    (tmp_path / "business_rules").mkdir()
    with make_client(database_url, project_root=tmp_path) as measured:
        scale = channel(measured, "scale", ["measured"])
        reference = f"REF-{uuid.uuid4().hex[:10]}"
        # Written out by hand: json.dumps would not write 1e999 as it is.
        body = f'{{"workflow": "measured", "reference": "{reference}", "payload": {{"weight": {number}}}}}'
        answer = scale.post("/api/cases", content=body, headers={"Content-Type": "application/json"})
        _assert_refused(answer)
        assert reference not in _stored_references(measured)
        fine = scale.post(
            "/api/cases", {"workflow": "measured", "reference": f"{reference}-ok", "payload": {"weight": 1.5}}
        )
        assert fine.status_code == 201, fine.text


def test_text_beyond_ascii_passes_the_guard(client: TestClient, ivr: Channel) -> None:
    # Raw UTF-8 in a query and a form (bytes 0x80-0x9f inside characters such as '€' are not
    # control characters) and percent-encoded umlauts.
    assert client.get("/api/cases/c-unknown?x=%E2%82%AC", headers=ivr.headers).status_code == 404
    answer = client.post(
        "/login",
        content=b"username=J%C3%BCrgen&password=%E2%82%AC-wrong",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 401
    raw = client.post(
        "/login",
        content="username=Jürgen€&password=x".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert raw.status_code == 401
