"""The ops case page in real Chromium reads as a story: step texts with the case's values
(personal ones masked), each step named once, each screenshot once with a caption, and
cancelling asks first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator
from robots.engine.records import RunState, StepRecord

pytestmark = pytest.mark.e2e

PAYLOAD = {"customer_id": "C000001", "street": "Musterstraße 5", "postal_code": "10115", "city": "Berlin"}


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    store.load_organisation()
    return store


def sign_in(browser: Any, base: str, path: str) -> Any:
    page = browser.new_context(base_url=base).new_page()
    page.goto(path)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-demo-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-callouts-ready='yes']")
    return page


def test_a_case_page_tells_the_steps_with_their_values(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator, tmp_path: Path
) -> None:
    case, _ = store.create_case("address_change", "webform:case-page", PAYLOAD)
    claim = store.claim_next_case("vm#1")
    assert claim is not None
    form = tmp_path / "form.png"
    form.write_bytes(b"\x89PNG the form")
    again = tmp_path / "again.png"
    again.write_bytes(b"\x89PNG the form")  # the same picture, taken again
    now = datetime.now(UTC)
    steps = [
        StepRecord(
            path="1",
            kind="web.goto",
            label="web.goto /customers/{{ input.customer_id }}",
            started_at=now,
            outcome="ok",
            artifacts=[str(form)],
        ),
        StepRecord(
            path="2",
            kind="web.fill",
            label="web.fill label=Street, value={{ input.street }}",
            started_at=now,
            outcome="ok",
            artifacts=[str(again)],
        ),
        StepRecord(
            path="3",
            kind="web.fill",
            label="web.fill label=City, value={{ input.city }}",
            started_at=now,
            outcome="ok",
        ),
    ]
    store.save_checkpoint(claim, RunState(), steps)

    page = sign_in(browser, control_room.url, f"/ops/cases/{case.id}")
    timeline = page.get_by_role("region", name="Timeline").inner_text()
    assert "{{" not in timeline
    assert "web.goto /customers/C000001" in timeline
    assert "value=M***" in timeline and "Musterstraße" not in timeline  # personal: masked
    assert "value=Berlin" in timeline
    assert "web.fill web.fill" not in timeline and timeline.count("web.fill") == 2

    figures = page.locator("figure.screenshot")
    assert figures.count() == 1
    caption = figures.first.locator("figcaption").inner_text()
    assert caption.startswith("step 1: web.goto /customers/C000001")
    assert "step 2: web.fill label=Street, value=M***" in caption

    page.get_by_label("Reason for cancelling").fill("customer moved again")
    page.get_by_role("button", name="Cancel case").click()
    page.get_by_role("heading", name=f"Cancel case {case.id}?").wait_for()
    assert store.get_case(case.id).status == "running", "nothing changes before the answer"
    assert (
        page.get_by_label("Reason (kept in the case's audit trail)").input_value() == "customer moved again"
    )
    page.get_by_role("button", name=f"Yes, cancel case {case.id}").click()
    page.wait_for_url(f"**/ops/cases/{case.id}")
    assert store.get_case(case.id).status == "cancelled"
