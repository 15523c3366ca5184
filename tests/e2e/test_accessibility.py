"""axe-core (axe-playwright-python) over the admin screens, the ops search with its bulk
confirmation and the error page in real Chromium: no serious or critical violation."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from demo.run import ControlRoomServer
from orchestrator.service import Orchestrator

pytestmark = pytest.mark.e2e

PAGES = [
    "/admin/users",
    "/admin/org",
    "/admin/org?queue=appointments",
    "/admin/tokens",
    "/admin/vault",
    "/admin/schedules",
    "/admin/schedules/nightly_address_changes",
    "/admin/audit",
    "/ops",
    "/ops?field=customer_id&value=C000001",
    "/no-such-page",
]


def _serious(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def admin_page(control_room: ControlRoomServer, browser: Any, store: Orchestrator) -> Any:
    store.load_organisation()
    store.create_case(
        "address_change",
        "webform:a11y",
        {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"},
        channel="webform",
    )
    page = browser.new_context(base_url=control_room.url).new_page()
    page.goto("/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-demo-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/inbox")
    return page


def test_admin_and_ops_pages_have_no_serious_violations(admin_page: Any) -> None:
    page = admin_page
    page.goto("/admin/schedules")
    page.locator("tr[data-schedule='nightly_address_changes']").get_by_role("button", name="Run now").click()
    page.wait_for_url("**/admin/schedules/nightly_address_changes")
    found = {}
    for path in PAGES:
        page.goto(path)
        found[path] = _serious(page)
    # The two pages that only a form's answer shows: a token shown once, a bulk confirmation.
    page.goto("/admin/tokens")
    page.get_by_label("Channel (ivr, webform, messenger...)").fill("messenger")
    page.get_by_label("all workflows").check()
    page.get_by_role("button", name="Issue token").click()
    found["token issued"] = _serious(page)
    page.goto("/ops")
    page.get_by_label("Select case", exact=False).first.check()
    page.get_by_role("button", name="Retry…").click()
    page.get_by_role("heading", name="Retry 1 case?").wait_for()
    found["bulk confirmation"] = _serious(page)
    assert {path: problems for path, problems in found.items() if problems} == {}
