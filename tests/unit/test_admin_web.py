"""The admin screens over HTTP against a real SQLite store: each change works for its role,
lands in the audit log, and is refused (403, nothing changed) for every other role."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.vault import EncryptedFileVault
from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT

SECRET = "admin-test-secret-key-0123456789abcdef"
PASSWORDS = {
    "admin": "admin-demo-1",
    "olaf.ops": "ops-demo-1",
    "sven.supervisor": "supervisor-demo-1",
    "max.agent": "agent-demo-2",
}
ADMIN_ONLY_PAGES = ["/admin/users", "/admin/org", "/admin/tokens", "/admin/vault", "/admin/audit"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's workflows, rules and schedules (a fire must not touch the checkout)."""
    root = tmp_path_factory.mktemp("project")
    for folder in ("workflows", "business_rules", "schedules"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(
        f"sqlite:///{tmp_path_factory.mktemp('admin') / 'admin.db'}", project=Project(project)
    )
    orchestrator.load_organisation()
    yield orchestrator
    orchestrator.close()


@pytest.fixture(scope="module")
def clients(store: Orchestrator) -> dict[str, TestClient]:
    app = create_app(ServerSettings(secret_key=SECRET), store=store)
    signed_in = {}
    for name, password in PASSWORDS.items():
        client = TestClient(app)
        assert client.post("/login", data={"username": name, "password": password}).status_code == 200
        signed_in[name] = client
    return signed_in


def csrf(client: TestClient, page: str = "/inbox") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert found
    return found.group(1)


def post(client: TestClient, path: str, **data: str | list[str]) -> object:
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False)


def flash_after(client: TestClient, response: object, page: str) -> str:
    assert getattr(response, "status_code", None) == 303, getattr(response, "text", "")
    return client.get(page).text


def test_admin_pages_are_for_admins_only(clients: dict[str, TestClient]) -> None:
    for page in ADMIN_ONLY_PAGES:
        assert clients["admin"].get(page).status_code == 200, page
        for other in ("olaf.ops", "sven.supervisor", "max.agent"):
            refused = clients[other].get(page)
            assert refused.status_code == 403, (page, other)
            assert "Not for your role" in refused.text
    assert clients["olaf.ops"].get("/admin/schedules").status_code == 200
    assert clients["max.agent"].get("/admin/schedules").status_code == 403
    anonymous = TestClient(clients["admin"].app)
    assert anonymous.get("/admin/users", follow_redirects=False).status_code == 303


def test_an_admin_creates_changes_resets_and_deactivates_a_user(
    clients: dict[str, TestClient], store: Orchestrator
) -> None:
    admin = clients["admin"]
    created = post(
        admin,
        "/admin/users",
        username="nina.agent",
        display_name="Nina",
        role="agent",
        unit="munich",
        password="nina-pass-1",
    )
    assert "User nina.agent created" in flash_after(admin, created, "/admin/users")
    assert store.verify_password("nina.agent", "nina-pass-1") is not None

    post(admin, "/admin/users/nina.agent/update", role="supervisor", unit="berlin", display_name="Nina K.")
    user = store.get_user("nina.agent")
    assert user is not None and (user.role, user.unit_id, user.display_name) == (
        "supervisor",
        "berlin",
        "Nina K.",
    )

    post(admin, "/admin/users/nina.agent/password", password="a-new-pass-2")
    assert store.verify_password("nina.agent", "a-new-pass-2") is not None

    nina = TestClient(admin.app)
    assert nina.post("/login", data={"username": "nina.agent", "password": "a-new-pass-2"}).status_code == 200
    post(admin, "/admin/users/nina.agent/deactivate")
    assert store.verify_password("nina.agent", "a-new-pass-2") is None
    assert nina.get("/inbox", follow_redirects=False).status_code == 303  # the session ends at once

    audit = admin.get("/admin/audit?action=user").text
    for line in ("user.create", "user.update", "role agent → supervisor", "user.password", "user.deactivate"):
        assert line in audit
    assert "a-new-pass-2" not in audit and "nina-pass-1" not in audit


def test_a_bad_user_form_is_refused_with_the_reason(
    clients: dict[str, TestClient], store: Orchestrator
) -> None:
    admin = clients["admin"]
    answer = post(admin, "/admin/users", username="x", role="agent", unit="munich", password="long-enough-1")
    assert "user name &#39;x&#39;: use 2-100 lower-case letters" in flash_after(admin, answer, "/admin/users")
    answer = post(admin, "/admin/users", username="xavier", role="agent", unit="munich", password="short")
    assert "the password is too short" in flash_after(admin, answer, "/admin/users")
    assert store.get_user("xavier") is None
    assert store.get_user("x") is None


def test_an_admin_cannot_lock_themselves_out(clients: dict[str, TestClient], store: Orchestrator) -> None:
    answer = post(clients["admin"], "/admin/users/admin/deactivate")
    assert getattr(answer, "status_code", None) == 403
    user = store.get_user("admin")
    assert user is not None and user.active


@pytest.mark.parametrize("who", ["olaf.ops", "sven.supervisor", "max.agent"])
def test_other_roles_change_nothing(clients: dict[str, TestClient], store: Orchestrator, who: str) -> None:
    client = clients[who]
    before_tokens = len(store.list_tokens())
    attempts = [
        ("/admin/users", {"username": "mallory", "role": "admin", "unit": "hq", "password": "mallory-123"}),
        ("/admin/users/max.agent/update", {"role": "admin"}),
        ("/admin/users/anna.agent/deactivate", {}),
        ("/admin/users/anna.agent/password", {"password": "taken-over-1"}),
        ("/admin/units", {"id": "evil", "name": "Evil", "parent": "hq"}),
        ("/admin/queues", {"name": "appointments", "unit": "munich", "sla_minutes": "1"}),
        ("/admin/tokens", {"channel": "ivr", "workflows": "*"}),
        ("/admin/vault", {"name": "crm_robot.password", "value": "x"}),
    ]
    for path, data in attempts:
        response = post(client, path, **data)
        assert getattr(response, "status_code", None) == 403, path
    assert store.get_user("mallory") is None
    max_agent, anna = store.get_user("max.agent"), store.get_user("anna.agent")
    assert max_agent is not None and max_agent.role == "agent"
    assert anna is not None and anna.active
    assert store.verify_password("anna.agent", "taken-over-1") is None
    assert "evil" not in {u.id for u in store.list_units()}
    assert {q.name: q.sla_minutes for q in store.list_queues()}["appointments"] != 1
    assert len(store.list_tokens()) == before_tokens
    assert store.admin_events(actor=who)[1] == 0


def test_a_form_without_its_csrf_token_is_refused(
    clients: dict[str, TestClient], store: Orchestrator
) -> None:
    answer = clients["admin"].post(
        "/admin/users",
        data={"username": "csrf.victim", "role": "agent", "unit": "munich", "password": "long-enough-1"},
    )
    assert answer.status_code == 403
    assert store.get_user("csrf.victim") is None


def test_units_and_queues_with_slas(clients: dict[str, TestClient], store: Orchestrator) -> None:
    admin = clients["admin"]
    post(admin, "/admin/units", id="hamburg", name="Hamburg branch", parent="de")
    post(admin, "/admin/queues", name="hamburg_review", unit="hamburg", sla_minutes="90", description="North")
    queues = {q.name: q for q in store.list_queues()}
    assert queues["hamburg_review"].sla_minutes == 90 and queues["hamburg_review"].unit_id == "hamburg"
    post(admin, "/admin/queues", name="hamburg_review", unit="hamburg", sla_minutes="45")
    assert {q.name: q.sla_minutes for q in store.list_queues()}["hamburg_review"] == 45
    page = admin.get("/admin/org?queue=hamburg_review").text
    assert "Edit queue hamburg_review" in page and 'value="45"' in page
    bad = post(admin, "/admin/queues", name="hamburg_review", unit="hamburg", sla_minutes="soon")
    assert "whole number" in flash_after(admin, bad, "/admin/org")
    audit = admin.get("/admin/audit").text
    assert "unit.create" in audit and "queue.update" in audit and "SLA 45 min" in audit


def test_a_branch_admin_manages_only_their_branch(
    store: Orchestrator, clients: dict[str, TestClient]
) -> None:
    store.admin_create_user("admin", "bea.admin", "branch-admin-1", role="admin", unit="berlin")
    bea = TestClient(clients["admin"].app)
    assert bea.post("/login", data={"username": "bea.admin", "password": "branch-admin-1"}).status_code == 200
    page = bea.get("/admin/users").text
    assert "anna.agent" in page and "max.agent" not in page
    refused = post(bea, "/admin/users/max.agent/deactivate")
    assert getattr(refused, "status_code", None) == 403
    max_agent = store.get_user("max.agent")
    assert max_agent is not None and max_agent.active


def test_a_token_is_shown_once_works_and_stops_when_revoked(
    clients: dict[str, TestClient], store: Orchestrator
) -> None:
    admin = clients["admin"]
    issued = admin.post(
        "/admin/tokens",
        data={
            "csrf_token": csrf(admin),
            "channel": "messenger",
            "workflows": ["address_change"],
            "description": "chat",
        },
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    plaintext = re.search(r'<code class="secret">(tdm_[^<]+)</code>', issued.text)
    assert plaintext
    token = store.verify_token(plaintext.group(1))
    assert token is not None and token.workflows == ["address_change"]
    listing = admin.get("/admin/tokens").text
    assert token.id in listing and plaintext.group(1) not in listing
    post(admin, f"/admin/tokens/{token.id}/revoke")
    assert store.verify_token(plaintext.group(1)) is None
    audit = admin.get("/admin/audit?action=token").text
    assert "token.issue" in audit and "token.revoke" in audit and plaintext.group(1) not in audit


def test_vault_entries_are_set_and_rotated_and_never_shown(
    clients: dict[str, TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = clients["admin"]
    assert "No vault file is configured" in admin.get("/admin/vault").text
    key = EncryptedFileVault.generate_key()
    monkeypatch.setenv("TANDEM_VAULT_FILE", str(tmp_path / "vault.bin"))
    monkeypatch.setenv("TANDEM_VAULT_KEY", key)
    post(admin, "/admin/vault", name="crm_robot.password", value="first-secret-1")
    vault = EncryptedFileVault(tmp_path / "vault.bin", key)
    assert vault.get("crm_robot.password") == "first-secret-1"
    post(admin, "/admin/vault", name="crm_robot.password", value="second-secret-2")
    assert EncryptedFileVault(tmp_path / "vault.bin", key).get("crm_robot.password") == "second-secret-2"
    page = admin.get("/admin/vault").text
    assert "crm_robot.password" in page
    assert "first-secret-1" not in page and "second-secret-2" not in page
    audit = admin.get("/admin/audit?action=vault").text
    assert "vault.set" in audit and "vault.rotate" in audit and "secret-" not in audit


def test_schedules_pause_resume_run_and_history_links_cases(
    clients: dict[str, TestClient], store: Orchestrator
) -> None:
    ops = clients["olaf.ops"]
    post(ops, "/ops/schedules/nightly_address_changes/pause", back="/admin/schedules")
    assert "paused" in ops.get("/admin/schedules").text
    post(ops, "/ops/schedules/nightly_address_changes/resume", back="/admin/schedules")
    fired = post(
        ops, "/ops/schedules/nightly_address_changes/run", back="/admin/schedules/nightly_address_changes"
    )
    assert getattr(fired, "headers", {})["location"] == "/admin/schedules/nightly_address_changes"
    history = ops.get("/admin/schedules/nightly_address_changes").text
    cases = store.list_cases(reference="nightly_address_changes@")
    rows = (ROOT / "schedules" / "data" / "address_changes.csv").read_text(encoding="utf-8").splitlines()
    assert len(cases) == len(rows) - 1 >= 3
    for case in cases:
        assert f'href="/ops/cases/{case.id}"' in history
    assert "manual" in history
    log = clients["admin"].get("/admin/audit?actor=olaf.ops").text
    assert "schedule.pause" in log and "schedule.resume" in log and "schedule.run" in log
    assert ops.get("/admin/schedules/no_such_schedule").status_code == 404
    refused = post(clients["max.agent"], "/ops/schedules/nightly_address_changes/pause")
    assert getattr(refused, "status_code", None) == 403


def test_ops_create_and_edit_a_schedule_file(
    clients: dict[str, TestClient], store: Orchestrator, project: Path
) -> None:
    ops = clients["olaf.ops"]
    assert "name: my_schedule" in ops.get("/admin/schedules/new").text
    broken = "name: hourly_checks\nworkflow: no_such_workflow\ninterval: 1h\nsource:\n  payload: {}\n"
    answer = ops.post("/admin/schedules/save", data={"csrf_token": csrf(ops), "text": broken})
    assert answer.status_code == 422
    assert "Nothing was saved" in answer.text and "no_such_workflow" in answer.text
    assert "hourly_checks" in answer.text  # the text is kept
    assert not (project / "schedules" / "hourly_checks.yaml").exists()

    good = (
        "name: hourly_checks\ndescription: Check a customer every hour.\nworkflow: customer_assist\n"
        "interval: 1h\npaused: true\nsource:\n  payload: {customer_id: C000001}\n"
    )
    created = post(ops, "/admin/schedules/save", text=good)
    assert getattr(created, "headers", {})["location"] == "/admin/schedules/hourly_checks"
    assert (project / "schedules" / "hourly_checks.yaml").read_text(encoding="utf-8") == good
    assert "Check a customer every hour." in ops.get("/admin/schedules").text

    edit = ops.get("/admin/schedules/hourly_checks/edit").text
    assert "Check a customer every hour." in edit
    post(ops, "/admin/schedules/save", editing="hourly_checks", text=good.replace("every hour", "each hour"))
    assert "each hour" in (project / "schedules" / "hourly_checks.yaml").read_text(encoding="utf-8")
    renamed = ops.post(
        "/admin/schedules/save",
        data={
            "csrf_token": csrf(ops),
            "editing": "hourly_checks",
            "text": good.replace("hourly_checks", "other"),
        },
    )
    assert renamed.status_code == 422 and "the name must stay" in renamed.text
    again = ops.post("/admin/schedules/save", data={"csrf_token": csrf(ops), "text": good})
    assert again.status_code == 422 and "exists already" in again.text

    refused = post(
        clients["max.agent"], "/admin/schedules/save", text=good.replace("hourly_checks", "sneaky")
    )
    assert getattr(refused, "status_code", None) == 403
    assert not (project / "schedules" / "sneaky.yaml").exists()
    log = clients["admin"].get("/admin/audit?action=schedule").text
    assert "schedule.create" in log and "schedule.edit" in log


@pytest.mark.parametrize(
    ("page", "english", "german"),
    [
        ("/supervisor", "Queues now", "Warteschlangen jetzt"),
        ("/ops", "KPI period", "KPI-Zeitraum"),
        ("/admin/users", "Create user", "Benutzer anlegen"),
        ("/admin/org", "Units and queues", "Einheiten und Warteschlangen"),
        ("/admin/tokens", "Issue a token", "Token ausstellen"),
        ("/admin/schedules", "New schedule", "Neuer Zeitplan"),
        ("/admin/audit", "Audit log", "Änderungsprotokoll"),
    ],
)
def test_every_screen_speaks_the_browsers_language(
    clients: dict[str, TestClient], page: str, english: str, german: str
) -> None:
    admin = clients["admin"]
    in_english = admin.get(page, headers={"Accept-Language": "en-GB,en;q=0.9"})
    in_german = admin.get(page, headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert in_english.status_code == in_german.status_code == 200
    assert english in in_english.text and german not in in_english.text
    assert german in in_german.text and '<html lang="de">' in in_german.text
