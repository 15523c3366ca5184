"""The admin screens in real Chromium: an admin creates a user who can then sign in, issues a
channel token (shown once) and revokes it, and finds both in the audit log; an agent is refused."""

from __future__ import annotations

from typing import Any

import pytest

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator

pytestmark = pytest.mark.e2e


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    """The e2e store with the demo organisation."""
    store.load_organisation()
    return store


def sign_in(browser: Any, base: str, username: str, password: str, target: str = "/inbox") -> Any:
    page = browser.new_context(base_url=base).new_page()
    page.goto(target)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_an_admin_creates_a_user_who_can_sign_in(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = sign_in(browser, control_room.url, "admin", "admin-demo-1")
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url("**/admin/users")
    page.get_by_label("User name").fill("lena.agent")
    page.get_by_label("Name", exact=True).fill("Lena Lang")
    page.get_by_label("Role", exact=True).select_option("agent")
    page.get_by_label("Unit", exact=True).select_option("berlin")
    page.get_by_label("Password (8+ characters)").fill("lena-pass-1")
    page.get_by_role("button", name="Create user").click()
    assert page.get_by_role("status").filter(has_text="User lena.agent created").is_visible()
    assert page.locator("tr[data-user='lena.agent']").is_visible()

    lena = sign_in(browser, control_room.url, "lena.agent", "lena-pass-1")
    assert lena.url.endswith("/inbox")
    assert "Lena Lang" in lena.locator("header").inner_text()

    row = page.locator("tr[data-user='lena.agent']")
    row.get_by_role("button", name="Deactivate").click()
    lena.goto("/inbox")
    assert "/login" in lena.url  # her session ended with the deactivation

    page.get_by_role("link", name="Audit log").click()
    log = page.locator("table").inner_text()
    assert "user.create" in log and "user.deactivate" in log and "lena-pass-1" not in log


def test_a_token_is_shown_once_and_can_be_revoked(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = sign_in(browser, control_room.url, "admin", "admin-demo-1", "/admin/tokens")
    page.get_by_label("Channel (ivr, webform, messenger...)").fill("messenger")
    page.get_by_label("address_change", exact=True).check()
    page.get_by_role("button", name="Issue token").click()
    secret = page.locator("code.secret").inner_text()
    assert secret.startswith("tdm_") and store.verify_token(secret) is not None
    page.goto("/admin/tokens")
    assert page.locator("code.secret").count() == 0 and secret not in page.content()
    page.locator("tr", has_text="messenger").get_by_role("button", name="Revoke").click()
    assert page.locator("tr", has_text="messenger").get_by_text("revoked").is_visible()
    assert store.verify_token(secret) is None


def test_an_agent_is_refused_the_admin_screens(control_room: ControlRoomServer, browser: Any) -> None:
    page = sign_in(browser, control_room.url, "max.agent", "agent-demo-2")
    assert page.get_by_role("link", name="Admin").count() == 0
    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Not for your role").is_visible()
