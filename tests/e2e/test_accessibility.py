"""axe-core (axe-playwright-python) in real Chromium: no serious or critical violation on the
admin screens, the ops search with its bulk confirmation, the error page, and the other pages
of the control room (sign-in, webform, inbox and task page, also at a phone's width,
supervisor view, case page)."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest

pytestmark = pytest.mark.e2e

PAGES = [
    "/admin/users",
    "/admin/org",
    "/admin/org?queue=appointments",
    "/admin/tokens",
    "/admin/vault",
    "/admin/schedules",
    "/admin/schedules/nightly_address_changes",
    "/admin/schedules/nightly_address_changes/edit",
    "/admin/schedules/new",
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


def test_the_other_pages_have_no_serious_violations(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    store.load_organisation()
    case, _ = store.create_case(
        "appointment_failed",
        "ivr:CALL-a11y",
        {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"},
    )
    request = HumanTaskRequest(
        queue="appointments",
        reason="Agree a delivery slot with the customer",
        data={"phone": "+49 31 4001379", "free_slots": ["2026-12-01 08-12"]},
        form=[
            {
                "name": "slot",
                "label": "Slot",
                "type": "choice",
                "required": True,
                "choices": ["2026-12-01 08-12"],
            }
        ],
        step="agent",
        kind="await_human",
    )
    task = store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")
    found = {}
    for width in (1280, 390):
        page = browser.new_context(
            base_url=control_room.url, viewport={"width": width, "height": 900}
        ).new_page()
        for path in ("/login", "/webform/address-change"):
            page.goto(path)
            found[f"{path} @{width}"] = _serious(page)
        page.goto("/login")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("admin-demo-1")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/inbox")
        searched = ("/inbox?q=C000009", "/inbox?q=no-such-customer", "/notifications")
        for path in ("/inbox", *searched, f"/tasks/{task}", "/supervisor", f"/ops/cases/{case.id}"):
            page.goto(path)
            found[f"{path} @{width}"] = _serious(page)
        page.context.close()
    assert {path: problems for path, problems in found.items() if problems} == {}
