"""Sizes are bounded: request bodies (413) and error answers (the first problems, then a count)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from orchestrator.control_room.limits import DEFAULT_MAX_BODY_BYTES, MAX_PROBLEMS
from tests.security.conftest import Channel, channel, make_client

DELIVERY = {"order_number": "O-100001", "postal_code": "10115"}


def _references(client: TestClient) -> set[str]:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    return {case.reference for case in store.list_cases(limit=10_000)}


def test_a_body_over_the_limit_is_a_413_and_nothing_is_stored(client: TestClient, ivr: Channel) -> None:
    reference = f"BIG-{uuid.uuid4().hex[:8]}"
    body = {
        "workflow": "delivery_appointment",
        "reference": reference,
        "payload": {**DELIVERY, "note": "x" * 2_000_000},
    }
    answer = ivr.post("/api/cases", body)
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]
    assert reference not in _references(client)


def test_a_streamed_body_without_a_length_is_cut_off_too(ivr: Channel) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"workflow": "delivery_appointment", "reference": "STREAM-1", "payload": {"note": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'"}}'

    answer = ivr.client.post(
        "/api/cases", content=chunks(), headers={**ivr.headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413


def test_the_public_webform_has_the_same_limit(client: TestClient) -> None:
    answer = client.post("/webform/address-change", data={"street": "x" * (DEFAULT_MAX_BODY_BYTES + 10)})
    assert answer.status_code == 413
    assert "text/html" in answer.headers["content-type"]


def test_the_limit_is_configurable(database_url: str) -> None:
    with make_client(database_url, max_body_bytes=2048) as small:
        ivr = channel(small, "ivr", ["delivery_appointment"])
        answer = ivr.post(
            "/api/cases", {"workflow": "delivery_appointment", "reference": "R", "payload": {"n": "x" * 3000}}
        )
        assert answer.status_code == 413


def _assert_bounded(answer: Any) -> None:
    assert answer.status_code == 422, answer.text[:500]
    body = answer.json()
    assert len(body["problems"]) == MAX_PROBLEMS + 1
    assert "more problem(s) not listed" in body["problems"][-1]["message"]
    assert len(answer.content) < 20_000


def test_many_unknown_payload_keys_give_a_short_answer(ivr: Channel) -> None:
    payload = {**DELIVERY, **{f"unknown_{n}": 1 for n in range(30_000)}}
    body = {
        "workflow": "delivery_appointment",
        "reference": f"KEYS-{uuid.uuid4().hex[:8]}",
        "payload": payload,
    }
    assert len(json.dumps(body)) < DEFAULT_MAX_BODY_BYTES
    _assert_bounded(ivr.post("/api/cases", body))


def test_many_unknown_top_level_keys_give_a_short_answer(ivr: Channel) -> None:
    body: dict[str, Any] = {"workflow": "delivery_appointment", "reference": "TOP", "payload": DELIVERY}
    body.update({f"k{n}": 1 for n in range(30_000)})
    _assert_bounded(ivr.post("/api/cases", body))
