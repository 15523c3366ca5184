"""The channel API: auth everywhere but health and the webform, token scopes, 201/200/422, limits."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from orchestrator.control_room.api_access import RateLimiter, TokenCache
from orchestrator.control_room.app import ServerSettings, create_app
from tests.conftest import ROOT

DELIVERY = {"order_number": "O-100001", "postal_code": "10115"}
ADDRESS = {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"}


class Channel:
    """A client that sends one channel's token."""

    def __init__(self, client: TestClient, secret: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {secret}"}

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers)

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module (opening one migrates and indexes the project): each test uses
    its own references and tokens."""
    settings = ServerSettings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('api') / 'tandem.db'}",
        project_root=ROOT,
        channel_rate_limits={"slow": "3/minute"},
        token_cache_seconds=0,  # revocation is checked at once (the cache is tested on its own)
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _channel(client: TestClient, name: str, workflows: list[str]) -> Channel:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    _, secret = store.create_token(name, workflows)
    return Channel(client, secret)


@pytest.fixture
def ivr(client: TestClient) -> Channel:
    return _channel(client, "ivr", ["delivery_appointment", "appointment_failed"])


@pytest.fixture
def webform(client: TestClient) -> Channel:
    return _channel(client, "webform", ["address_change"])


PUBLIC = {"/api/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"}


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.13x)
            yield from _api_routes(route.original_router.routes)


def test_every_api_route_but_health_needs_a_token(client: TestClient) -> None:
    routes = list(_api_routes(client.app.routes))  # type: ignore[attr-defined]
    checked = 0
    for route in routes:
        path = route.path.replace("{case_id}", "c-0000")
        if (
            path in PUBLIC
            or path.startswith("/webform")
            or not (path.startswith("/api") or path == "/metrics")
        ):
            continue
        for method in route.methods:
            response = client.request(method, path, json={}, follow_redirects=False)
            if route.endpoint.__module__ != "orchestrator.control_room.api":
                # The agents' JSON API (sessions, orchestrator.control_room.pages): it may check the body
                # first (422), but must never serve anything without a login.
                assert 400 <= response.status_code < 500, f"{method} {path} served without a login"
                continue
            assert response.status_code == 401, (
                f"{method} {path} answered {response.status_code} without a token"
            )
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert "Authorization: Bearer" in response.json()["error"]
            checked += 1
    assert checked >= 5  # the cases, the channels, the case status and metrics
    assert client.get("/api/health").json() == {"status": "ok", "database": "ok"}
    assert client.get("/webform/address-change").status_code == 200


def test_a_wrong_or_revoked_token_is_refused(client: TestClient) -> None:
    wrong = Channel(client, "tdm_not-a-token")
    assert wrong.post("/api/cases", {"workflow": "delivery_appointment", "reference": "r"}).status_code == 401
    ivr = _channel(client, "revoked", ["delivery_appointment"])
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    token = next(t for t in store.list_tokens() if t.channel == "revoked")
    assert ivr.post("/api/cases", _case("r1")).status_code == 201
    store.revoke_token(token.id)
    refused = ivr.post("/api/cases", _case("r2"))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]


def _case(reference: str, workflow: str = "delivery_appointment", payload: Any = None) -> dict[str, Any]:
    return {"workflow": workflow, "reference": reference, "payload": DELIVERY if payload is None else payload}


def test_a_new_reference_is_201_and_a_repeated_one_200_with_the_same_case(ivr: Channel) -> None:
    first = ivr.post(
        "/api/cases", {**_case("CALL-1"), "priority": 7, "deadline": "2026-12-01T10:00:00+01:00"}
    )
    assert first.status_code == 201
    body = first.json()
    assert body["created"] is True and body["status"] == "queued"
    assert first.headers["Location"] == body["status_url"] == f"/api/cases/{body['id']}"
    again = ivr.post("/api/cases", _case("CALL-1"))
    assert again.status_code == 200
    assert again.json()["id"] == body["id"] and again.json()["created"] is False
    shown = ivr.get(body["status_url"]).json()
    assert shown["status"] == "queued" and shown["priority"] == 7
    assert shown["deadline"].startswith("2026-12-01T09:00:00")
    assert [entry["what"] for entry in shown["timeline"]] == ["queued"]


def test_concurrent_posts_of_one_reference_make_one_case(ivr: Channel) -> None:
    answers: list[Any] = []

    def post() -> None:
        answers.append(ivr.post("/api/cases", _case("CALL-RACE")))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1


def test_one_token_cannot_start_another_channels_workflows(ivr: Channel, webform: Channel) -> None:
    refused = ivr.post("/api/cases", _case("W-1", "address_change", ADDRESS))
    assert refused.status_code == 403
    assert "may not start workflow 'address_change'" in refused.json()["error"]
    assert webform.post("/api/cases", _case("IVR-1")).status_code == 403
    call = {"event": "delivery appointment", "call_id": "C1", "caller_number": "+49301234", **DELIVERY}
    assert webform.post("/api/channels/ivr", call).status_code == 403
    assert webform.post("/api/cases", _case("W-1", "address_change", ADDRESS)).status_code == 201


def test_a_channel_reads_only_its_own_cases(ivr: Channel, webform: Channel) -> None:
    created = webform.post("/api/cases", _case("W-2", "address_change", ADDRESS)).json()
    assert webform.get(created["status_url"]).status_code == 200
    hidden = ivr.get(created["status_url"])
    assert hidden.status_code == 404  # the same answer as for an id that does not exist
    assert ivr.get("/api/cases/c-does-not-exist").status_code == 404


def test_a_bad_payload_is_422_with_every_problem_and_nothing_stored(client: TestClient, ivr: Channel) -> None:
    response = ivr.post("/api/cases", _case("BAD-1", payload={"order_number": "123", "colour": "red"}))
    assert response.status_code == 422
    problems = {p["field"]: p["message"] for p in response.json()["problems"]}
    assert "order_number" in problems and "postal_code" in problems and "colour" in problems
    assert "nothing was stored" in response.json()["error"]
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    assert store.find_case("delivery_appointment", "BAD-1") is None


def test_a_malformed_request_lists_every_problem(ivr: Channel) -> None:
    body = {
        "workflow": "no such/flow",
        "reference": "",
        "payload": [1],
        "priority": 500,
        "deadline": "tomorrow",
    }
    response = ivr.post("/api/cases", body)
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["problems"]}
    assert fields == {"workflow", "reference", "payload", "priority", "deadline"}
    assert ivr.client.post("/api/cases", content=b"{not json", headers=ivr.headers).status_code == 422


def test_an_unknown_workflow_is_422_naming_the_known_ones(client: TestClient) -> None:
    everything = _channel(client, "ops", ["*"])
    response = everything.post("/api/cases", _case("X-1", "adress_change", ADDRESS))
    assert response.status_code == 422
    assert "address_change" in response.json()["problems"][0]["message"]


def test_the_ivr_starts_a_delivery_appointment_from_its_own_payload(client: TestClient, ivr: Channel) -> None:
    call = {
        "event": "Delivery Appointment",
        "call_id": "CALL-2026-000123",
        "caller_number": "+49 31 4001379",
        "order_number": "O-100001",
        "postal_code": "10115",
        "urgent": True,
    }
    response = ivr.post("/api/channels/ivr", call)
    assert response.status_code == 201, response.text
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case = store.get_case(response.json()["id"])
    assert (case.workflow, case.reference, case.channel) == (
        "delivery_appointment",
        "ivr:CALL-2026-000123",
        "ivr",
    )
    assert case.payload == {"order_number": "O-100001", "postal_code": "10115"}
    assert case.priority == 50
    assert ivr.post("/api/channels/ivr", call).status_code == 200  # the IVR retried: same case


def test_the_ivr_gets_a_signed_status_page_for_its_caller_in_the_words_of_the_workflow(
    client: TestClient, ivr: Channel
) -> None:
    call = {
        "event": "delivery appointment",
        "call_id": "CALL-2026-000777",
        "caller_number": "+49 31 4001379",
        "order_number": "O-100001",
        "postal_code": "10115",
    }
    accepted = ivr.post("/api/channels/ivr", call).json()
    link = accepted["customer_status_url"]
    assert link.startswith(f"/webform/status/{accepted['id']}/")
    assert ivr.post("/api/channels/ivr", call).json()["customer_status_url"] == link  # retried: same link
    page = client.get(link)  # the caller's phone: no token, no login
    assert page.status_code == 200
    assert "Your delivery appointment" in page.text and "Your new address" not in page.text
    assert "Received" in page.text
    forged = client.get(link[:-4] + "0000")
    assert forged.status_code == 404
    other = ivr.post("/api/cases", _case("CALL-2026-000778")).json()
    assert (
        client.get(link.rsplit("/", 2)[0] + "/" + other["id"] + "/" + link.rsplit("/", 1)[1]).status_code
        == 404
    )


def test_the_status_page_speaks_the_customers_language_in_the_workflows_words(
    client: TestClient, ivr: Channel
) -> None:
    accepted = ivr.post("/api/cases", _case("CALL-2026-000779")).json()
    link = accepted["customer_status_url"]
    german = client.get(link, headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert "Ihr Liefertermin" in german and "Eingegangen" in german  # the workflow's, the catalogue's
    assert "Ihr Liefertermin wird in wenigen Minuten gebucht" in german
    english = client.get(link, headers={"Accept-Language": "en"}).text
    assert "Your delivery appointment" in english and "is booked in a few minutes" in english
    # A workflow that says nothing to customers gets the general words, translated.
    assist = _channel(client, "desk", ["customer_assist"])
    other = assist.post(
        "/api/cases",
        {"workflow": "customer_assist", "reference": "desk-1", "payload": {"customer_id": "C000001"}},
    )
    general = client.get(other.json()["customer_status_url"], headers={"Accept-Language": "de"}).text
    assert "Ihr Anliegen ist bei uns eingegangen; es wird in Kürze bearbeitet." in general
    assert "Liefertermin" not in general


def test_the_ivr_starts_appointment_failed_and_names_its_own_fields_in_problems(
    client: TestClient, ivr: Channel
) -> None:
    call = {
        "event": "appointment failed",
        "call_id": "CALL-7",
        "caller_number": "0301234567",
        "order_number": "O-100002",
    }
    missing = ivr.post("/api/channels/ivr", call)
    assert missing.status_code == 422
    assert {p["field"] for p in missing.json()["problems"]} == {"customer_number", "postal_code"}
    complete = ivr.post("/api/channels/ivr", {**call, "customer_number": "C000002", "postal_code": "20095"})
    assert complete.status_code == 201
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case = store.get_case(complete.json()["id"])
    assert case.workflow == "appointment_failed"
    assert case.payload == {"customer_id": "C000002", "order_number": "O-100002", "postal_code": "20095"}


def test_an_ivr_payload_with_an_unknown_event_or_bad_number_is_422(ivr: Channel) -> None:
    call = {"event": "cancel order", "call_id": "CALL-8", "caller_number": "call me", "order_number": "O-1"}
    response = ivr.post("/api/channels/ivr", call)
    assert response.status_code == 422
    assert {p["field"] for p in response.json()["problems"]} == {"event", "caller_number"}


def test_a_webform_backend_posts_its_own_shape(client: TestClient, webform: Channel) -> None:
    submission = {
        "form": "address-change",
        "submission_id": "sub-00000001",
        "fields": {
            "customer_number": "c000003",
            "street": "Marienplatz",
            "house_number": "3",
            "zip": "80331",
            "city": "München",
            "email": "lea.weber@example.com",
        },
    }
    response = webform.post("/api/channels/webform", submission)
    assert response.status_code == 201, response.text
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case = store.get_case(response.json()["id"])
    assert case.payload == {
        "customer_id": "C000003",
        "street": "Marienplatz 3",
        "postal_code": "80331",
        "city": "München",
        "email": "lea.weber@example.com",
    }
    bad = webform.post(
        "/api/channels/webform",
        {
            **submission,
            "submission_id": "sub-2-long",
            "fields": {**submission["fields"], "customer_number": "12"},
        },
    )
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["fields.customer_number"]


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(client: TestClient) -> None:
    slow = _channel(client, "slow", ["delivery_appointment"])
    answers = [slow.post("/api/cases", _case(f"S-{i}")).status_code for i in range(4)]
    assert answers == [201, 201, 201, 429]
    limited = slow.post("/api/cases", _case("S-9"))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "rate limit" in limited.json()["error"]


def test_metrics_need_a_token_and_count_cases(client: TestClient) -> None:
    metered = _channel(client, "metered", ["delivery_appointment"])
    metered.post("/api/cases", _case("M-1"))
    metered.post("/api/cases", _case("M-1"))
    assert client.get("/metrics").status_code == 401
    text = metered.get("/metrics").text
    labels = 'channel="metered",outcome="{}",workflow="delivery_appointment"'
    assert f"tandem_api_cases_total{{{labels.format('created')}}} 1.0" in text
    assert f"tandem_api_cases_total{{{labels.format('existing')}}} 1.0" in text
    assert re.search(
        r'tandem_http_requests_total\{method="POST",route="/api/cases",status="201"\} [1-9]', text
    )


def test_settings_refuse_a_rate_limit_that_does_not_parse() -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. '50/second'"):
        ServerSettings(rate_limit="fast")


def test_the_token_cache_asks_the_store_again_once_its_entry_expired(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    token, secret = store.create_token("cached", ["delivery_appointment"])
    cache = TokenCache(seconds=30)
    clock = [1000.0]
    monkeypatch.setattr("orchestrator.control_room.api_access.time.monotonic", lambda: clock[0])
    assert cache.verify(secret, store) == token
    store.revoke_token(token.id)
    assert cache.verify(secret, store) == token  # trusted for 30 s
    clock[0] += 31
    assert cache.verify(secret, store) is None
    assert cache.verify("tdm_wrong", store) is None


def test_rate_limits_are_shared_between_servers_through_redis() -> None:
    try:
        first = RateLimiter("redis://127.0.0.1:6379")
        second = RateLimiter("redis://127.0.0.1:6379")
        key = f"test:{uuid.uuid4().hex}"
        assert first.hit("2/minute", key) is None
    except Exception as error:  # no Redis server here
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable ({error})")
    assert second.hit("2/minute", key) is None
    assert first.hit("2/minute", key) is not None  # the second server's request counted


def test_an_unusable_rate_limit_storage_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"use 'memory://' or 'redis://host:6379'"):
        RateLimiter("carrier-pigeon://loft")


def test_a_channel_reads_the_payload_schema_of_each_workflow_it_may_start(
    client: TestClient, ivr: Channel
) -> None:
    listed = ivr.get("/api/workflows")
    assert listed.status_code == 200
    assert [w["name"] for w in listed.json()] == ["appointment_failed", "delivery_appointment"]
    one = ivr.get("/api/workflows/delivery_appointment").json()
    schema = one["payload_schema"]
    assert set(schema["required"]) == {"order_number", "postal_code"}
    assert schema["properties"]["order_number"]["pattern"] == "^(?:O-[0-9]{6})$"
    assert ivr.get("/api/workflows/address_change").status_code == 404  # not this token's
    assert ivr.get("/api/workflows/nope").status_code == 404
    assert client.get("/api/workflows").status_code == 401


def test_with_a_public_url_the_channel_gets_the_same_whole_link_the_customers_mails_carry(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(
        database_url=f"sqlite:///{tmp_path / 'linked.db'}",
        project_root=ROOT,
        secret_key="the-servers-key-0123456789",
        public_url="https://service.example.com/",
    )
    with TestClient(create_app(settings)) as linked:
        ivr = _channel(linked, "ivr", ["delivery_appointment"])
        accepted = ivr.post("/api/cases", _case("CALL-2026-000900")).json()
        link = accepted["customer_status_url"]
        assert link.startswith(f"https://service.example.com/webform/status/{accepted['id']}/")
        store: Any = linked.app.state.store  # type: ignore[attr-defined]
        assert store.customer_status_url(accepted["id"]) == link  # what case.status_url is in its mails
        assert linked.get(link.removeprefix("https://service.example.com")).status_code == 200
