"""Login CSRF: another site's page cannot post its own credentials to the sign-in form and
sign a visitor's browser in as that user. Browsers say where a post comes from (Fetch
Metadata's Sec-Fetch-Site, Origin); the sign-in refuses what another site sent."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.pages.sessions import SESSION_COOKIE
from orchestrator.control_room.throttle import LoginThrottle


def _login(client: TestClient, **headers: str) -> Any:
    client.cookies.clear()
    return client.post(
        "/login",
        data={"username": "max.agent", "password": "agent-demo-2"},
        headers=headers,
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver.evil.example"},
    ],
)
def test_a_sign_in_posted_by_another_site_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    client.app.state.login_throttle = LoginThrottle()  # type: ignore[attr-defined]
    answer = _login(client, **headers)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert "another site" in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, a script: no browser, no cross-site page
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked
        {"Origin": "https://tandem.example", "X-Forwarded-Host": "tandem.example"},  # behind a proxy
    ],
)
def test_a_sign_in_from_this_site_goes_through(client: TestClient, headers: dict[str, str]) -> None:
    client.app.state.login_throttle = LoginThrottle()  # type: ignore[attr-defined]
    answer = _login(client, **headers)
    assert answer.status_code == 303
    assert SESSION_COOKIE in answer.headers.get("set-cookie", "")
