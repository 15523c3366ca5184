"""The control room's agent pages and agent JSON API, over HTTP against a real SQLite store."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.control_room.pages.sessions import SESSION_COOKIE, read_session, session_value
from orchestrator.control_room.pages.task_views import sla_state
from orchestrator.models import HumanTask
from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest
from robots.language.project import Project
from tests.conftest import ROOT

SECRET = "unit-test-secret-key-0123456789abcdef"
PASSWORDS = {
    "max.agent": "agent-demo-2",
    "anna.agent": "agent-demo-1",
    "admin": "admin-demo-1",
    "sven.supervisor": "supervisor-demo-1",
    "olaf.ops": "ops-demo-1",
}
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    """The demo organisation in a fresh database (module-wide: password hashing is slow on purpose)."""
    orchestrator = Orchestrator(
        f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}", project=Project(ROOT)
    )
    orchestrator.load_organisation()
    yield orchestrator
    orchestrator.close()


@pytest.fixture(scope="module")
def app(store: Orchestrator) -> TestClient:
    """The control room app (no server needed: the ASGI app is called directly)."""
    return TestClient(create_app(ServerSettings(secret_key=SECRET), store=store))


def sign_in(app: TestClient, username: str) -> TestClient:
    """A client with its own cookies, signed in."""
    client = TestClient(app.app)
    response = client.post("/login", data={"username": username, "password": PASSWORDS[username]})
    assert response.status_code == 200, response.text
    return client


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as the JSON API hands it out."""
    token: str = client.get("/api/tasks").json()["csrf_token"]
    return token


@pytest.fixture(scope="module")
def agents(app: TestClient) -> dict[str, TestClient]:
    """Signed-in clients: Munich's agent, Berlin's agent, the admin, Germany's supervisor and
    headquarters' ops user."""
    return {name: sign_in(app, name) for name in PASSWORDS}


def new_task(store: Orchestrator, *, queue: str = "appointments", reason: str = "Call the customer") -> str:
    """An await_human task of a fresh case, as a robot creates it."""
    case, _ = store.create_case(
        "appointment_failed",
        f"web-{datetime.now(UTC).timestamp()}",
        {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"},
    )
    request = HumanTaskRequest(
        queue=queue,
        reason=reason,
        data={"phone": MARKUP, "free_slots": ["2026-12-01 08-12", "2026-12-01 12-16"]},
        form=[
            {
                "name": "slot",
                "label": "Slot",
                "type": "choice",
                "required": True,
                "choices": ["2026-12-01 08-12", "2026-12-01 12-16"],
            },
        ],
        step="agent",
        kind="await_human",
    )
    return store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def test_pages_ask_to_sign_in_and_the_api_says_401(app: TestClient) -> None:
    anonymous = TestClient(app.app)
    page = anonymous.get("/inbox?state=all", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/inbox%3Fstate%3Dall"
    api = anonymous.get("/api/tasks")
    assert api.status_code == 401
    assert "sign in" in api.json()["error"]
    assert anonymous.get("/callouts/stream").status_code == 401


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app: TestClient) -> None:
    client = TestClient(app.app)
    response = client.post("/login", data={"username": "max.agent", "password": "wrong-password"})
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_login_never_redirects_to_another_site(app: TestClient) -> None:
    client = TestClient(app.app)
    response = client.post(
        "/login",
        data={"username": "max.agent", "password": PASSWORDS["max.agent"], "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/inbox"


def test_a_session_cookie_is_refused_when_tampered_with_or_expired() -> None:
    value = session_value(SECRET, "max.agent", now=1_000_000)
    assert read_session(SECRET, value, now=1_000_010) is not None
    assert read_session("another-secret-key-0123456789abcd", value, now=1_000_010) is None
    forged = value.replace(value.split(".")[0], "YWRtaW4")  # "admin", with max.agent's signature
    assert read_session(SECRET, forged, now=1_000_010) is None
    assert read_session(SECRET, value, now=1_000_000 + 13 * 3600) is None


def test_the_task_page_shows_gathered_markup_as_text(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store, reason=f"Customer says {MARKUP}")
    page = agents["max.agent"].get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert MARKUP not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_another_units_agent_cannot_list_open_or_act_on_a_task(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    anna = agents["anna.agent"]  # Berlin; the task is in Munich's queue
    assert task_id not in anna.get("/inbox?state=all").text
    assert task_id not in [t["id"] for t in anna.get("/api/tasks?state=all").json()["tasks"]]
    assert anna.get(f"/tasks/{task_id}").status_code == 403
    assert anna.get(f"/api/tasks/{task_id}").status_code == 403
    claim = anna.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": csrf_of(anna)})
    assert claim.status_code == 403
    assert store.get_task(task_id).status == "open"
    assert task_id in agents["max.agent"].get("/inbox").text


def test_a_form_post_without_the_sessions_csrf_token_changes_nothing(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    client = agents["max.agent"]
    assert client.post(f"/tasks/{task_id}/claim", data={}).status_code == 403
    assert client.post(f"/api/tasks/{task_id}/claim").status_code == 403
    assert store.get_task(task_id).status == "open"
    assert client.post(f"/tasks/{task_id}/claim", data={"csrf_token": csrf_of(client)}).status_code == 200
    assert store.get_task(task_id).assignee == "max.agent"


def test_a_wrong_answer_is_shown_with_every_problem_and_the_task_stays_open(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    client = agents["max.agent"]
    csrf = csrf_of(client)
    page = client.post(f"/tasks/{task_id}/complete", data={"csrf_token": csrf, "slot": "tomorrow"})
    assert page.status_code == 422
    assert "slot: choose one of" in page.text  # in words, not the checker's message
    api = client.post(f"/api/tasks/{task_id}/complete", json={"answer": {}}, headers={"X-CSRF-Token": csrf})
    assert api.status_code == 422
    assert api.json()["problems"] == [{"field": "slot", "message": "required"}]
    assert store.get_task(task_id).status == "open"
    done = client.post(
        f"/api/tasks/{task_id}/complete",
        json={"answer": {"slot": "2026-12-01 12-16"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert done.json()["answer"] == {"slot": "2026-12-01 12-16"}


def test_agents_cannot_open_the_supervisor_view_or_the_ops_dashboard(agents: dict[str, TestClient]) -> None:
    assert agents["max.agent"].get("/supervisor").status_code == 403
    assert agents["max.agent"].get("/ops").status_code == 403
    assert agents["max.agent"].get("/ops/kpis.json").status_code == 403
    assert agents["admin"].get("/supervisor").status_code == 200
    ops = agents["admin"].get("/ops")
    assert ops.status_code == 200
    assert "appointment_failed" in ops.text


def test_a_supervisor_reassigns_a_task_from_the_supervisor_view(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    admin = agents["admin"]
    page = admin.get("/supervisor")
    assert task_id in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    response = admin.post(
        f"/tasks/{task_id}/reassign",
        data={"csrf_token": csrf.group(1), "to": "max.agent", "back": "/supervisor"},
    )
    assert response.status_code == 200
    assert f"Task {task_id} reassigned to max.agent" in response.text
    assert store.get_task(task_id).assignee == "max.agent"


def test_unknown_filters_fall_back_and_a_bad_api_state_is_a_422(agents: dict[str, TestClient]) -> None:
    client = agents["max.agent"]
    assert client.get("/inbox?state=bogus&sort=%3Cscript%3E&queue=nope&sla=x").status_code == 200
    response = client.get("/api/tasks?state=bogus")
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "state"
    assert agents["admin"].get("/ops/kpis.json?period=decade").status_code == 422


def _task(due_in: timedelta, *, sla: timedelta = timedelta(hours=4), status: str = "open") -> HumanTask:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    due = now + due_in
    return HumanTask(
        id="t",
        key="k",
        case_id=None,
        run_id=None,
        kind="escalation",
        origin="manual",
        queue="q",
        reason="r",
        data={},
        form=[],
        step="",
        priority=0,
        status=status,
        assignee=None,
        answer=None,  # type: ignore[arg-type]
        created_at=due - sla,
        due_at=due,
        claimed_at=None,
        closed_at=None,
        closed_by=None,
        escalation_level=0,
        breached_at=None,
    )


@pytest.mark.parametrize(
    ("due_in", "sla", "state"),
    [
        (timedelta(hours=2), timedelta(hours=4), "ok"),
        (timedelta(minutes=59), timedelta(hours=4), "due_soon"),  # less than a quarter left
        (timedelta(minutes=14), timedelta(minutes=30), "due_soon"),  # at least 15 minutes' warning
        (timedelta(minutes=20), timedelta(minutes=30), "ok"),
        (timedelta(minutes=-1), timedelta(hours=4), "breached"),
    ],
)
def test_sla_state(due_in: timedelta, sla: timedelta, state: str) -> None:
    assert sla_state(_task(due_in, sla=sla), now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) == state


def test_static_files_are_served_and_nothing_outside_their_folder(app: TestClient, tmp_path: Path) -> None:
    assert app.get("/static/callouts.js").status_code == 200
    assert app.get("/static/..%2Fweb.py").status_code == 404


def test_ops_sees_a_failed_steps_screenshot_and_trace(
    store: Orchestrator, agents: dict[str, TestClient], tmp_path: Path
) -> None:
    from robots.engine.records import StepRecord

    store.create_case(
        "delivery_appointment", "ops-artifacts", {"order_number": "O-100007", "postal_code": "01067"}
    )
    claim = store.claim_next_case("unit-robot", workflows=["delivery_appointment"])
    assert claim is not None
    screenshot, trace = tmp_path / "failure.png", tmp_path / "trace.zip"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n fake but served as is")
    trace.write_bytes(b"PK fake trace")
    store.record_step(
        claim,
        StepRecord(
            path="2.then.nordlog",
            kind="in",
            label="nordlog",
            started_at=datetime.now(UTC),
            outcome="failed",
            error="element missing",
            artifacts=[str(screenshot), str(trace), "/etc/passwd"],
        ),
    )
    admin = agents["admin"]
    page = admin.get(f"/ops/cases/{claim.case.id}")
    assert page.status_code == 200
    assert "element missing" in page.text
    assert admin.get(f"/ops/cases/{claim.case.id}/artifact/png/0").content == screenshot.read_bytes()
    assert admin.get(f"/ops/cases/{claim.case.id}/artifact/trace/0").content == trace.read_bytes()
    assert admin.get(f"/ops/cases/{claim.case.id}/artifact/png/1").status_code == 404  # /etc/passwd is no png
    assert agents["max.agent"].get(f"/ops/cases/{claim.case.id}/artifact/png/0").status_code == 403


def csrf_in(page: str) -> str:
    """The CSRF token a rendered page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form"
    return found.group(1)


def test_a_supervisor_escalates_a_task_from_its_page_and_an_agent_is_refused(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    max_agent, sven = agents["max.agent"], agents["sven.supervisor"]
    page = max_agent.get(f"/tasks/{task_id}")
    assert "/escalate" not in page.text
    refused = max_agent.post(
        f"/tasks/{task_id}/escalate", data={"csrf_token": csrf_in(page.text), "reason": "too hard"}
    )
    assert refused.status_code == 403
    assert "only a supervisor or admin may escalate" in refused.text
    page = sven.get(f"/tasks/{task_id}")
    assert "Escalate to de_escalations" in page.text
    assert sven.post(f"/tasks/{task_id}/escalate", data={"reason": "no token"}).status_code == 403
    assert store.get_task(task_id).queue == "appointments"
    done = sven.post(
        f"/tasks/{task_id}/escalate",
        data={"csrf_token": csrf_in(page.text), "reason": "customer <b>angry</b>"},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/supervisor")
    shown = sven.get("/supervisor")
    assert f"Task {task_id} escalated to de_escalations." in shown.text
    task = store.get_task(task_id)
    assert task.queue == "de_escalations" and task.escalation_level == 1
    last = store.task_events(task_id)[-1]
    assert (last.actor, last.action) == ("sven.supervisor", "escalated")
    assert last.detail.endswith(": customer <b>angry</b>")
    assert "customer &lt;b&gt;angry&lt;/b&gt;" in sven.get(f"/tasks/{task_id}").text


def test_the_supervisor_view_escalates_a_row_and_says_when_there_is_no_higher_level(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    top = new_task(store, queue="hq_escalations", reason="Headquarters decides")
    admin = agents["admin"]
    view = admin.get("/supervisor")
    assert f'action="/tasks/{task_id}/escalate"' in view.text
    assert f'action="/tasks/{top}/escalate"' not in view.text  # nowhere higher to go
    csrf = csrf_in(view.text)
    moved = admin.post(
        f"/tasks/{task_id}/escalate", data={"csrf_token": csrf, "reason": "urgent", "back": "/supervisor"}
    )
    assert f"Task {task_id} escalated to de_escalations." in moved.text
    stuck = admin.post(f"/tasks/{top}/escalate", data={"csrf_token": csrf, "reason": "higher"})
    assert stuck.status_code == 200  # back on the task page, with the reason it did not work
    assert "top of its escalation path" in stuck.text
    assert store.get_task(top).queue == "hq_escalations"


def test_the_json_api_escalates_for_a_supervisor_and_refuses_an_agent(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    max_agent, sven = agents["max.agent"], agents["sven.supervisor"]
    refused = max_agent.post(
        f"/api/tasks/{task_id}/escalate",
        json={"reason": "too hard"},
        headers={"X-CSRF-Token": csrf_of(max_agent)},
    )
    assert refused.status_code == 403
    assert "only a supervisor or admin may escalate" in refused.json()["error"]
    headers = {"X-CSRF-Token": csrf_of(sven)}
    assert sven.post(f"/api/tasks/{task_id}/escalate", json={"reason": "x"}).status_code == 403  # no token
    assert (
        sven.post(f"/api/tasks/{task_id}/escalate", json={"reason": ""}, headers=headers).status_code == 422
    )
    blank = sven.post(f"/api/tasks/{task_id}/escalate", json={"reason": "  "}, headers=headers)
    assert blank.status_code == 422 and "say why" in blank.json()["error"]
    up = sven.post(f"/api/tasks/{task_id}/escalate", json={"reason": "branch overloaded"}, headers=headers)
    assert up.status_code == 200
    assert (up.json()["queue"], up.json()["status"]) == ("de_escalations", "open")
    # Above Germany now: the answer still says where it went, later reads are refused.
    higher = sven.post(f"/api/tasks/{task_id}/escalate", json={"reason": "needs HQ"}, headers=headers)
    assert higher.status_code == 200 and higher.json()["queue"] == "hq_escalations"
    assert sven.get(f"/api/tasks/{task_id}").status_code == 403
    admin = agents["admin"]
    top = admin.post(
        f"/api/tasks/{task_id}/escalate", json={"reason": "again"}, headers={"X-CSRF-Token": csrf_of(admin)}
    )
    assert top.status_code == 409 and "top of its escalation path" in top.json()["error"]


def test_an_ops_user_of_a_branch_sees_only_the_cases_of_their_units(
    store: Orchestrator, app: TestClient, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)  # appointment_failed: Munich's queues
    case_id = store.get_task(task_id).case_id
    store.create_user("bert.ops", "ops-demo-berlin", role="ops", unit="berlin")
    berlin = TestClient(app.app)
    assert (
        berlin.post("/login", data={"username": "bert.ops", "password": "ops-demo-berlin"}).status_code == 200
    )

    dashboard = berlin.get("/ops")
    assert dashboard.status_code == 200
    assert "Operations · berlin and below" in dashboard.text
    assert case_id not in dashboard.text
    assert "<td>address_review</td>" in dashboard.text and "<td>appointments</td>" not in dashboard.text
    assert berlin.get(f"/ops/cases/{case_id}").status_code == 403
    assert berlin.get(f"/ops/cases/{case_id}/artifact/png/0").status_code == 403
    cancel = berlin.post(f"/ops/cases/{case_id}/cancel", data={"csrf_token": csrf_in(dashboard.text)})
    assert cancel.status_code == 403
    assert store.get_case(case_id).status == "queued"
    kpis = berlin.get("/ops/kpis.json?period=all").json()
    assert "appointment_failed" not in [k["workflow"] for k in kpis["workflows"]]

    everything = agents["olaf.ops"].get("/ops")
    assert case_id in everything.text and "<td>appointments</td>" in everything.text
    assert agents["olaf.ops"].get(f"/ops/cases/{case_id}").status_code == 200
    hq_kpis = agents["olaf.ops"].get("/ops/kpis.json?period=all").json()
    assert "appointment_failed" in [k["workflow"] for k in hq_kpis["workflows"]]


def test_an_agent_cannot_cancel_a_customers_case_by_page_or_api(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    client = agents["max.agent"]
    csrf = csrf_of(client)
    page = client.get(f"/tasks/{task_id}")
    assert 'value="rejected"' in page.text and 'value="cancelled"' not in page.text
    before = store.get_task(task_id)
    api = client.post(
        f"/api/tasks/{task_id}/outcome",
        json={"outcome": "cancelled", "note": "nobody asked me"},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 403
    reported = client.post(f"/tasks/{task_id}/cancel", data={"csrf_token": csrf, "reason": "x"})
    assert reported.status_code == 403  # the route of the bug report
    form = client.post(
        f"/tasks/{task_id}/outcome", data={"csrf_token": csrf, "outcome": "cancelled", "note": "x"}
    )
    assert form.status_code == 403
    assert store.get_task(task_id) == before
    supervisor = agents["sven.supervisor"]
    assert 'value="cancelled"' in supervisor.get(f"/tasks/{task_id}").text


def test_the_outcome_api_lists_every_problem_at_once(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    client = agents["max.agent"]
    answer = client.post(
        f"/api/tasks/{task_id}/outcome",
        json={"outcome": "postponed"},
        headers={"X-CSRF-Token": csrf_of(client)},
    )
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["until"]
    rejected = client.post(
        f"/api/tasks/{task_id}/outcome",
        json={"outcome": "rejected", "note": "the order was returned"},
        headers={"X-CSRF-Token": csrf_of(client)},
    )
    assert rejected.status_code == 200
    assert rejected.json()["outcome"] == "rejected" and rejected.json()["status"] == "completed"


def test_a_postponed_task_shows_until_when_and_cannot_be_claimed_before(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store, reason="Call back about the slot")
    client = agents["max.agent"]
    until = datetime(2099, 12, 7, 10, 0, tzinfo=UTC)
    postponed = client.post(
        f"/api/tasks/{task_id}/outcome",
        json={"outcome": "postponed", "until": until.isoformat(), "note": "call back then"},
        headers={"X-CSRF-Token": csrf_of(client)},
    )
    assert postponed.status_code == 200
    inbox = client.get("/inbox?state=all").text
    row = inbox[inbox.index(f'data-task-id="{task_id}"') :]  # the table's row, not the tray's entry
    assert "postponed until" in row[: row.index("</tr>")]
    assert f'action="/tasks/{task_id}/claim"' not in client.get(f"/tasks/{task_id}").text
    claim = client.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": csrf_of(client)})
    assert claim.status_code == 409
    assert "postponed until 2099-12-07 10:00 UTC" in claim.json()["error"]
    page = client.post(f"/tasks/{task_id}/claim", data={"csrf_token": csrf_of(client)})
    assert "is postponed until 2099-12-07 11:00 CET" in page.text  # the flash, on the reader's clock
    assert store.get_task(task_id).status == "open"


def test_without_javascript_the_tray_is_a_page_and_a_form(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    max_agent = agents["max.agent"]
    task_id = new_task(store, reason="Tray without script")
    page = max_agent.get("/inbox")
    assert 'data-testid="unread-count"' in page.text and f"task {task_id}" in page.text
    tray = max_agent.get("/notifications")
    assert tray.status_code == 200 and f"task {task_id}" in tray.text
    read = max_agent.post(
        "/notifications/read",
        data={"csrf_token": csrf_of(max_agent), "back": "/inbox"},
        follow_redirects=False,
    )
    assert read.status_code == 303 and read.headers["location"] == "/inbox"
    assert all(n.read for n in store.notifications_for("max.agent"))
    forged = max_agent.post("/notifications/read", data={"csrf_token": "forged"})
    assert forged.status_code == 403


def test_cancelling_a_case_from_its_page_asks_first(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    ops = agents["olaf.ops"]
    case_id = store.get_task(new_task(store)).case_id
    assert case_id is not None
    asked = ops.post(f"/ops/cases/{case_id}/cancel", data={"csrf_token": csrf_of(ops), "reason": "duplicate"})
    assert asked.status_code == 200 and f"Cancel case {case_id}?" in asked.text
    assert 'value="duplicate"' in asked.text
    assert store.get_case(case_id).status not in ("cancelled",)
    done = ops.post(
        f"/ops/cases/{case_id}/cancel",
        data={"csrf_token": csrf_of(ops), "reason": "duplicate", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert store.get_case(case_id).status == "cancelled"


def test_the_stores_refusals_are_shown_in_the_readers_language(
    store: Orchestrator, agents: dict[str, TestClient]
) -> None:
    task_id = new_task(store)
    store.claim_task(task_id, "max.agent")
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    supervisor = agents["sven.supervisor"]
    page = supervisor.post(
        f"/tasks/{task_id}/claim", data={"csrf_token": csrf_of(supervisor)}, headers=german
    ).text
    assert (
        f"max.agent hat die Aufgabe {task_id} bereits übernommen; nur eine offene Aufgabe kann "
        "übernommen werden." in html.unescape(page)
    )
    refused = agents["anna.agent"].get(f"/tasks/{task_id}", headers=german)
    assert refused.status_code == 403
    assert (
        f"Die Aufgabe {task_id} gehört zu einer Einheit außerhalb Ihrer eigenen (berlin)."
        in html.unescape(refused.text)
    )
    missing = agents["max.agent"].get("/tasks/t-nothing", headers=german)
    assert missing.status_code == 404 and "Die Aufgabe t-nothing gibt es nicht." in html.unescape(
        missing.text
    )
    # In English, the same sentence; through the JSON API, the store's own words.
    english = agents["anna.agent"].get(f"/tasks/{task_id}", headers={"Accept-Language": "en"})
    assert f"Task {task_id} belongs to a unit outside yours (berlin)." in english.text
    answer = agents["anna.agent"].get(f"/api/tasks/{task_id}", headers=german).json()
    assert answer["error"].startswith(f"task {task_id} belongs to a unit outside")
