"""The control room's pages under hostile input from a second outside probe: file names longer
than the file system allows, page numbers and dates past what a database or ``datetime``
holds, non-ASCII text where a signature or CSRF token is compared, and the headers that keep
other sites from framing the pages. Each answered 500 before."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.callouts import parse_cursor
from orchestrator.control_room.pages.rendering import FLASH_COOKIE
from orchestrator.control_room.pages.sessions import SESSION_COOKIE
from orchestrator.control_room.pages.trace_viewer import viewer_dir
from orchestrator.control_room.webform import CSRF_COOKIE
from orchestrator.models import ChangeMarks
from robots.errors import HumanTaskRequest

PASSWORDS = {"olaf.ops": "ops-demo-1", "admin": "admin-demo-1", "anna.agent": "agent-demo-1"}
LONG_NAME = "x" * 5000
ADDRESS = {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"}


def _signed_in(client: TestClient, username: str) -> TestClient:
    person = TestClient(client.app, raise_server_exceptions=False)
    answer = person.post(
        "/login", data={"username": username, "password": PASSWORDS[username]}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return person


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form"
    return found.group(1)


@pytest.mark.parametrize("path", [f"/static/{LONG_NAME}", f"/docs-assets/{LONG_NAME}"])
def test_a_file_name_longer_than_the_file_system_allows_is_not_found(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_trace_viewer_answers_a_long_file_name_with_not_found(client: TestClient) -> None:
    if viewer_dir() is None:
        pytest.skip("the installed Playwright has no trace viewer files")
    olaf = _signed_in(client, "olaf.ops")
    assert olaf.get(f"/ops/trace-viewer/{LONG_NAME}").status_code == 404


@pytest.mark.parametrize("page", [10**18, 10**30])
def test_a_page_number_past_any_list_shows_an_empty_page(client: TestClient, page: int) -> None:
    admin = _signed_in(client, "admin")
    assert admin.get("/ops", params={"page": page}).status_code == 200
    assert admin.get("/admin/audit", params={"page": page}).status_code == 200


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_case_search_takes_the_first_and_last_day_there_is(client: TestClient, day: str) -> None:
    olaf = _signed_in(client, "olaf.ops")
    assert olaf.get("/ops", params={"from": day, "to": day}).status_code == 200


@pytest.mark.parametrize("value", ["é", "\u202e", "ä.b"])
def test_a_non_ascii_csrf_token_is_refused_not_a_crash(client: TestClient, value: str) -> None:
    anna = _signed_in(client, "anna.agent")
    form = anna.post("/preferences", data={"csrf_token": value, "language": "de"}, follow_redirects=False)
    assert form.status_code == 403
    header = anna.post("/api/tasks/t-none/claim", headers={"X-CSRF-Token": value.encode()}, json={})
    assert header.status_code in (403, 404)


@pytest.mark.parametrize(
    "cookie",
    [f"{SESSION_COOKIE}=a.b.c.\xe9", f"{FLASH_COOKIE}=a.\xe9", f"{SESSION_COOKIE}=\xff.\xfe.1.\xe9"],
)
def test_a_non_ascii_cookie_is_ignored(client: TestClient, cookie: str) -> None:
    # Sent as the raw bytes a client may put there (latin-1, as the server reads headers).
    answer = client.get("/inbox", headers={"Cookie": cookie.encode("latin-1")}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_the_webform_refuses_non_ascii_tokens_and_signatures(client: TestClient) -> None:
    customer = TestClient(client.app, raise_server_exceptions=False)
    page = customer.get("/webform/address-change")
    assert page.status_code == 200
    stale = customer.post("/webform/address-change", data={"csrf_token": "é.é", "customer_id": "C000001"})
    assert stale.status_code == 403
    fields = {"csrf_token": _csrf(page.text), "submission_id": "x.é", "customer_id": "C000001"}
    assert customer.post("/webform/address-change", data=fields).status_code < 500
    foreign_cookie = {"Cookie": f"{CSRF_COOKIE}=\xe9".encode("latin-1")}
    customer.cookies.clear()
    assert customer.post("/webform/address-change", data=fields, headers=foreign_cookie).status_code == 403
    for signature in ("%E2%80%AE", "%C3%A9" * 20, "%ED%A0%80"):
        assert customer.get(f"/webform/status/c-1/{signature}").status_code in (404, 422)


def test_oidc_callback_with_a_non_ascii_state_is_not_a_crash(client: TestClient) -> None:
    answer = client.get("/login/oidc/callback", params={"state": "é", "code": "x"}, follow_redirects=False)
    assert answer.status_code < 500


@pytest.mark.parametrize("path", ["/login", "/webform/address-change", "/api/health", "/inbox"])
def test_every_answer_forbids_framing_by_other_sites(client: TestClient, path: str) -> None:
    answer: Any = client.get(path, follow_redirects=False)
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"


def _claimed_task(client: TestClient, agent: TestClient) -> tuple[str, str]:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    case, _ = store.create_case("address_change", f"until-{uuid.uuid4().hex[:10]}", dict(ADDRESS))
    request = HumanTaskRequest(queue="address_review", reason="Check the address", kind="escalation")
    task_id = store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:check")
    token = _csrf(agent.get(f"/tasks/{task_id}").text)
    assert agent.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": token}).status_code == 200
    return task_id, token


@pytest.mark.parametrize("until", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00"])
def test_postponing_past_the_last_date_is_refused(client: TestClient, until: str) -> None:
    # Its due time (until + the queue's SLA) does not exist: this was a 500 (OverflowError).
    anna = _signed_in(client, "anna.agent")
    task_id, token = _claimed_task(client, anna)
    answer = anna.post(
        f"/api/tasks/{task_id}/outcome",
        headers={"X-CSRF-Token": token},
        json={"outcome": "postponed", "until": until},
    )
    assert answer.status_code == 422, answer.text
    page = anna.post(
        f"/tasks/{task_id}/outcome",
        data={"csrf_token": token, "outcome": "postponed", "until": until.removesuffix("Z")[:16]},
    )
    assert page.status_code == 422, page.text
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    assert store.get_task(task_id).status == "claimed"


@pytest.mark.parametrize("minutes", [10**12, 10**30])
def test_a_queue_sla_beyond_a_year_is_refused(client: TestClient, minutes: int) -> None:
    # Over a PostgreSQL integer (10**12) or an SQLite one (10**30) this was a 500; in between
    # it was stored and made every task of the queue overflow its due time.
    admin = _signed_in(client, "admin")
    name = f"q{uuid.uuid4().hex[:8]}"
    token = _csrf(admin.get("/admin/org").text)
    form = {"csrf_token": token, "name": name, "unit": "berlin", "sla_minutes": str(minutes)}
    answer = admin.post("/admin/queues", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text  # back to the page, which says why
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    assert name not in {queue.name for queue in store.list_queues()}


def test_a_message_about_a_huge_input_fits_in_a_cookie(client: TestClient) -> None:
    # The error repeated the 100,000-character name into the flash cookie: a 130 KB header
    # that browsers drop and HTTP clients refuse.
    admin = _signed_in(client, "admin")
    token = _csrf(admin.get("/admin/org").text)
    form = {"csrf_token": token, "name": "x" * 100_000, "unit": "berlin", "sla_minutes": "5"}
    answer = admin.post("/admin/queues", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert len(answer.headers["set-cookie"]) < 4000
    assert "x" * 100 in admin.get(answer.headers["location"]).text


def test_a_multipart_form_cannot_carry_a_nul_byte_past_the_guard(client: TestClient) -> None:
    # The guard checked URL-encoded forms only; the same fields sent as multipart/form-data
    # reached the store: a NUL byte in the user name was a 500 on PostgreSQL, anonymously.
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    fields = {"username": "admin\x00", "password": "x"}
    answer = anonymous.post("/login", files={name: (None, value) for name, value in fields.items()})
    assert answer.status_code == 422, answer.text
    customer = TestClient(client.app, raise_server_exceptions=False)
    page = customer.get("/webform/address-change")
    form = {
        "csrf_token": _csrf(page.text),
        "customer_number": "C000001",
        "street": "Chaussee\x00straße",
        "house_number": "5",
        "zip": "10115",
        "city": "Berlin",
    }
    submitted = customer.post("/webform/address-change", files={k: (None, v) for k, v in form.items()})
    assert submitted.status_code == 422, submitted.text


@pytest.mark.parametrize("ids", ["²", "¹²³", "9" * 30])
def test_marking_notifications_read_takes_only_real_ids(client: TestClient, ids: str) -> None:
    # '²'.isdigit() is true and int('²') fails: this was a 500.
    anna = _signed_in(client, "anna.agent")
    token = _csrf(anna.get("/inbox").text)
    answer = anna.post("/notifications/read", data={"csrf_token": token, "ids": ids}, follow_redirects=False)
    assert answer.status_code == 303


@pytest.mark.parametrize("value", ["²", "¹²³", "٣", "9" * 30])
def test_a_callout_cursor_or_page_mark_of_other_digits_is_ignored(value: str) -> None:
    # The callout stream read ?after= and Last-Event-ID like this (a 500 for '²').
    assert parse_cursor(value) is None
    assert parse_cursor(value, "7") == 7
    if not value.isascii():
        assert ChangeMarks.parse(".".join([value] * len(ChangeMarks.TOPICS))) is None


def test_a_time_zone_name_longer_than_a_file_name_is_unknown(client: TestClient) -> None:
    # ZoneInfo looks the name up as a file: 'File name too long' was a 500, in the user's
    # preferences and in a schedule saved on the admin screen.
    admin = _signed_in(client, "admin")
    token = _csrf(admin.get("/inbox").text)
    form = {"csrf_token": token, "language": "de", "time_zone": "x" * 5000}
    assert admin.post("/preferences", data=form, follow_redirects=False).status_code == 422
    schedule = f"name: probe_zone\nworkflow: address_change\ncron: '0 2 * * *'\ntimezone: {'x' * 5000}\n"
    saved = admin.post("/admin/schedules/save", data={"csrf_token": token, "text": schedule, "editing": ""})
    assert saved.status_code == 422, saved.text[:300]
    assert "unknown time zone" in saved.text
