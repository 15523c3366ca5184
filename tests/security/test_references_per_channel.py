"""References are unique per workflow and channel: one channel's token can neither see nor
squat another channel's reference."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.security.conftest import channel

DELIVERY = {"order_number": "O-100001", "postal_code": "10115"}


def _case(reference: str) -> dict[str, Any]:
    return {"workflow": "delivery_appointment", "reference": reference, "payload": DELIVERY}


def test_another_channel_cannot_see_a_reference(client: TestClient) -> None:
    ivr = channel(client, "ivr", ["delivery_appointment"])
    intruder = channel(client, "partner", ["delivery_appointment"])
    reference = f"ivr:CALL-{uuid.uuid4().hex[:10]}"
    original = ivr.post("/api/cases", _case(reference))
    assert original.status_code == 201
    probe = intruder.post("/api/cases", _case(reference))
    # Its own new case, not the IVR's id and status.
    assert probe.status_code == 201, probe.text
    assert probe.json()["id"] != original.json()["id"]
    assert intruder.get(f"/api/cases/{original.json()['id']}").status_code == 404


def test_a_reference_posted_first_by_another_channel_is_not_squatted(client: TestClient) -> None:
    ivr = channel(client, "ivr", ["delivery_appointment"])
    squatter = channel(client, "squatter", ["delivery_appointment"])
    reference = f"ivr:CALL-{uuid.uuid4().hex[:10]}"
    squatted = squatter.post("/api/cases", _case(reference))
    assert squatted.status_code == 201
    mine = ivr.post("/api/cases", _case(reference))
    assert mine.status_code == 201 and mine.json()["created"] is True
    assert mine.json()["id"] != squatted.json()["id"]
    # The IVR repeating its reference still gets its own case, once.
    again = ivr.post("/api/cases", _case(reference))
    assert again.status_code == 200 and again.json()["id"] == mine.json()["id"]


def test_a_channel_repeating_its_reference_gets_the_same_case(client: TestClient) -> None:
    ivr = channel(client, "ivr", ["delivery_appointment"])
    reference = f"REF-{uuid.uuid4().hex[:10]}"
    first = ivr.post("/api/cases", _case(reference)).json()
    second = ivr.post("/api/cases", _case(reference)).json()
    assert first["id"] == second["id"] and second["created"] is False
