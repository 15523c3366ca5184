"""The case page's step screenshots and the trace viewer's files, over the ASGI app: who may
fetch them, what they link to, and that nothing outside the viewer's folder is served."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.control_room.pages.trace_viewer import viewer_dir
from orchestrator.service import Orchestrator
from robots.engine.records import RunRecord, RunState, StepRecord
from robots.language.project import Project
from tests.conftest import ROOT

SECRET = "unit-test-secret-key-0123456789abcdef"
PASSWORDS = {"max.agent": "agent-demo-2", "admin": "admin-demo-1"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(
        f"sqlite:///{tmp_path_factory.mktemp('viewer') / 'web.db'}", project=Project(ROOT)
    )
    orchestrator.load_organisation()
    yield orchestrator
    orchestrator.close()


@pytest.fixture(scope="module")
def app(store: Orchestrator) -> TestClient:
    return TestClient(create_app(ServerSettings(secret_key=SECRET), store=store))


def sign_in(app: TestClient, username: str) -> TestClient:
    client = TestClient(app.app)
    response = client.post("/login", data={"username": username, "password": PASSWORDS[username]})
    assert response.status_code == 200, response.text
    return client


def test_the_installed_playwright_ships_a_viewer_the_control_room_serves(app: TestClient) -> None:
    assert viewer_dir() is not None, "the Playwright package has no trace viewer where Tandem looks"
    admin = sign_in(app, "admin")
    page = admin.get("/ops/trace-viewer/index.html")
    assert page.status_code == 200 and "Trace Viewer" in page.text
    worker = admin.get("/ops/trace-viewer/sw.bundle.js")
    assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
    folder = viewer_dir()
    assert folder is not None and (folder / ".." / ".." / ".." / "package.json").is_file()
    assert admin.get("/ops/trace-viewer/..%2F..%2F..%2Fpackage.json").status_code == 404  # outside the viewer
    assert admin.get("/ops/trace-viewer/no-such-file.js").status_code == 404


def test_the_viewer_opens_only_this_servers_traces(app: TestClient) -> None:
    admin = sign_in(app, "admin")
    own = "/ops/trace-viewer/index.html?trace=%2Fops%2Fcases%2Fc-1%2Fartifact%2Ftrace%2F0"
    assert admin.get(own).status_code == 200
    assert admin.get(own).headers["X-Content-Type-Options"] == "nosniff"
    for foreign in ("https://attacker.example/t.zip", "//attacker.example/t.zip", "/api/cases/c-1"):
        refused = admin.get("/ops/trace-viewer/index.html", params={"trace": foreign})
        assert refused.status_code == 400 and "this server's cases only" in html.unescape(refused.text)


def test_only_people_who_may_open_case_pages_get_the_viewer(app: TestClient) -> None:
    assert sign_in(app, "max.agent").get("/ops/trace-viewer/index.html").status_code == 403
    anonymous = TestClient(app.app).get("/ops/trace-viewer/index.html", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and "/login" in anonymous.headers["location"]


def test_the_case_page_shows_step_pictures_beside_their_steps_and_links_traces_to_the_viewer(
    app: TestClient, store: Orchestrator, tmp_path: Path
) -> None:
    case, _ = store.create_case(
        "delivery_appointment", "viewer-links", {"order_number": "O-100007", "postal_code": "01067"}
    )
    claim = store.claim_next_case("unit-robot", workflows=["delivery_appointment"])
    assert claim is not None and claim.case.id == case.id
    picture, trace = tmp_path / "step-0003-1-1.jpg", tmp_path / "trace.zip"
    picture.write_bytes(b"\xff\xd8\xff a small page")
    trace.write_bytes(b"PK a trace")
    now = datetime.now(UTC)
    steps = [
        StepRecord(path="1", kind="web.goto", label="web.goto /slots", started_at=now, outcome="ok"),
        StepRecord(
            path="2",
            kind="web.click",
            label="web.click Book",
            started_at=now,
            outcome="ok",
            artifacts=[str(picture)],
        ),
        StepRecord(
            path="3", kind="in", label="nordlog", started_at=now, outcome="failed", artifacts=[str(trace)]
        ),
    ]
    store.save_checkpoint(claim, RunState(), steps)

    admin = sign_in(app, "admin")
    page = html.unescape(admin.get(f"/ops/cases/{case.id}").text)
    assert page.count('class="step-shot"') == 1
    assert (
        f'href="/ops/cases/{case.id}/artifact/step/0"><img src="/ops/cases/{case.id}/artifact/step/0"' in page
    )
    assert "The page after step 2" in page
    viewer = f"/ops/trace-viewer/index.html?trace=%2Fops%2Fcases%2F{case.id}%2Fartifact%2Ftrace%2F0"
    assert f'href="{viewer}"' in page
    german = html.unescape(admin.get(f"/ops/cases/{case.id}", headers={"Accept-Language": "de"}).text)
    assert "Die Seite nach Schritt 2" in german and "Playwright-Trace 1 im Trace-Viewer öffnen" in german
    shown = admin.get(f"/ops/cases/{case.id}/artifact/step/0")
    assert shown.headers["content-type"] == "image/jpeg" and shown.content == picture.read_bytes()
    assert admin.get(f"/ops/cases/{case.id}/artifact/step/1").status_code == 404
    assert sign_in(app, "max.agent").get(f"/ops/cases/{case.id}/artifact/step/0").status_code == 403


def test_a_german_case_page_names_the_error_kind_and_the_state_changes_in_german(
    app: TestClient, store: Orchestrator
) -> None:
    case, _ = store.create_case(
        "delivery_appointment", "german-error", {"order_number": "O-100008", "postal_code": "04109"}
    )
    claim = store.claim_next_case("unit-robot", workflows=["delivery_appointment"])
    assert claim is not None and claim.case.id == case.id
    now = datetime.now(UTC)
    store.finish_run(
        claim,
        RunRecord(
            run_id=claim.run_id,
            case_id=case.id,
            workflow="delivery_appointment",
            version="1",
            robot="unit-robot",
            status="failed_business",
            started_at=now,
            ended_at=now,
            error="no such order",
            error_kind="business",
            error_step="lookup",
        ),
    )
    admin = sign_in(app, "admin")
    english = html.unescape(admin.get(f"/ops/cases/{case.id}").text)
    assert "Business exception at lookup: no such order" in english
    assert "queued → running" in english
    german = html.unescape(admin.get(f"/ops/cases/{case.id}", headers={"Accept-Language": "de"}).text)
    assert "Fachlicher Fehler bei lookup: no such order" in german
    assert "queued → running" not in german and "neu → " in german
