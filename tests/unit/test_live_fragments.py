"""The live pages' fragment answer: a page asked for some of its regions answers with exactly
those regions as the whole page has them, under the same session and rights."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.control_room.pages.fragments import fragment, region_markup, requested_regions
from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest
from robots.language.project import Project
from tests.conftest import ROOT

SECRET = "live-fragments-secret-key-0123456789abcdef"
REGIONS = {"X-Tandem-Live-Regions": "inbox-rows inbox-count"}


def test_a_region_ends_where_its_tags_balance() -> None:
    page = (
        '<div data-live="outer"><div><p>a</p></div><pre>x</pre></div><div>after</div>'
        '<tbody data-live="rows"><tr><td>1</td></tr></tbody>'
    )
    assert region_markup(page, "outer") == '<div data-live="outer"><div><p>a</p></div><pre>x</pre></div>'
    assert region_markup(page, "rows") == '<tbody data-live="rows"><tr><td>1</td></tr></tbody>'
    assert region_markup(page, "none") is None
    assert fragment(page, frozenset({"rows", "none"})).endswith(
        '<template data-live-fragment><tbody data-live="rows"><tr><td>1</td></tr></tbody></template>'
    )


def test_only_plain_region_names_are_asked_for() -> None:
    assert requested_regions('inbox-rows "><script> tray_count  ') == {"inbox-rows", "tray_count"}
    assert requested_regions(None) == frozenset()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(
        f"sqlite:///{tmp_path_factory.mktemp('frag') / 'f.db'}", project=Project(ROOT)
    )
    orchestrator.load_organisation()
    case, _ = orchestrator.create_case(
        "appointment_failed",
        "ivr:CALL-frag",
        {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"},
    )
    request = HumanTaskRequest(queue="appointments", reason="Agree a <slot>", step="agent")
    orchestrator.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")
    yield orchestrator
    orchestrator.close()


@pytest.fixture(scope="module")
def agent(store: Orchestrator) -> TestClient:
    client = TestClient(create_app(ServerSettings(secret_key=SECRET), store=store))
    assert (
        client.post("/login", data={"username": "max.agent", "password": "agent-demo-2"}).status_code == 200
    )
    return client


def test_the_fragment_holds_the_asked_regions_as_the_whole_page_has_them(agent: TestClient) -> None:
    whole = agent.get("/inbox?state=all").text
    answer = agent.get("/inbox?state=all", headers=REGIONS)
    assert answer.status_code == 200
    assert "X-Tandem-Live-Regions" in answer.headers["vary"]
    held = re.findall(r"<template data-live-fragment>(.*?)</template>", answer.text, re.S)
    assert held == [region_markup(whole, "inbox-count"), region_markup(whole, "inbox-rows")]
    assert "Agree a &lt;slot&gt;" in held[1]
    assert "<header" not in answer.text and "callouts/stream" not in answer.text
    assert len(answer.text) < len(whole) / 2


def test_the_tray_is_read_only_for_a_tray_region(
    agent: TestClient, store: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = store.notifications_for
    monkeypatch.setattr(
        store, "notifications_for", lambda username: reads.append(username) or original(username)
    )
    agent.get("/inbox", headers=REGIONS)
    assert reads == []
    tray = agent.get("/inbox", headers={"X-Tandem-Live-Regions": "inbox-rows tray-count"})
    assert reads == ["max.agent"]
    assert '<span class="count" data-testid="unread-count" data-live="tray-count"' in tray.text


def test_a_fragment_needs_the_same_session_and_only_live_pages_give_one(agent: TestClient) -> None:
    anonymous = TestClient(agent.app)
    assert anonymous.get("/inbox", headers=REGIONS, follow_redirects=False).status_code == 303
    login = anonymous.get("/login", headers=REGIONS)
    assert "<form" in login.text  # not a live page: whole, whatever the header asks
