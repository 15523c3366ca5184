"""The public webform's status link goes only to the submitter, not to whoever knows the
submission id (it is in the case's reference, which agents and logs see)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

FIELDS = {
    "customer_number": "C000001",
    "street": "Chausseestraße",
    "house_number": "5",
    "zip": "10115",
    "city": "Berlin",
    "email": "",
}


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return found.group(1)


def _browser(client: TestClient) -> tuple[TestClient, str, str]:
    """A customer's browser with the form open: (client, csrf token, submission token)."""
    browser = TestClient(client.app, raise_server_exceptions=False)
    page = browser.get("/webform/address-change").text
    return browser, _hidden(page, "csrf_token"), _hidden(page, "submission_id")


def _submit(browser: TestClient, csrf: str, submission: str) -> Any:
    return browser.post(
        "/webform/address-change",
        data={**FIELDS, "csrf_token": csrf, "submission_id": submission},
        follow_redirects=False,
    )


def test_only_the_submitter_is_sent_the_status_link(client: TestClient) -> None:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    customer, csrf, submission = _browser(client)
    answer = _submit(customer, csrf, submission)
    assert answer.status_code == 303
    link = answer.headers["location"]
    assert customer.get(link).status_code == 200
    # A double click: the same case and the same link.
    assert _submit(customer, csrf, submission).headers["location"] == link

    case = next(c for c in store.list_cases(limit=10_000) if link.split("/")[3] == c.id)
    submission_id = case.reference.removeprefix("webform:")
    assert submission_id and submission_id in submission and submission_id != submission

    attacker, attacker_csrf, _ = _browser(client)
    for guess in (submission_id, f"{submission_id}.{'0' * 40}", f"{submission_id}.x"):
        refused = _submit(attacker, attacker_csrf, guess)
        assert refused.status_code == 422, refused.text
        assert link not in refused.text
        assert "location" not in refused.headers
    assert len([c for c in store.list_cases(limit=10_000) if c.reference == case.reference]) == 1


def test_a_status_link_with_a_wrong_signature_is_not_found(client: TestClient) -> None:
    customer, csrf, submission = _browser(client)
    link = _submit(customer, csrf, submission).headers["location"]
    case_id = link.split("/")[3]
    assert client.get(f"/webform/status/{case_id}/{'0' * 40}").status_code == 404
    assert client.get(f"/webform/status/{case_id}/").status_code == 404
