"""Organisation, users (argon2 passwords) and channel API tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.errors import OrganisationError
from orchestrator.humans.people import read_organisation
from orchestrator.service import Orchestrator
from orchestrator.storage.tables import ApiTokenRow, UserRow


def test_the_demo_organisation_is_loaded(orch: Orchestrator) -> None:
    units = {u.id: u.parent_id for u in orch.list_units()}
    assert units == {"hq": None, "de": "hq", "berlin": "de", "munich": "de"}
    assert {q.name for q in orch.list_queues("anna.agent")} == {"address_review", "address_exceptions"}
    assert orch.visible_units("sven.supervisor") == {"de", "berlin", "munich"}
    orch.load_organisation()  # loading again changes nothing
    assert len(orch.list_users()) == 5


def test_passwords_are_verified_against_argon2_hashes(orch: Orchestrator) -> None:
    user = orch.verify_password("anna.agent", "agent-demo-1")
    assert user is not None and user.role == "agent" and user.unit_id == "berlin"
    assert orch.verify_password("anna.agent", "wrong-password") is None
    assert orch.verify_password("nobody", "agent-demo-1") is None
    with orch.engine.connect() as connection:
        stored = connection.execute(
            sa.select(UserRow.password_hash).where(UserRow.username == "anna.agent")
        ).scalar()
    assert stored is not None and stored.startswith("$argon2id$") and "agent-demo-1" not in stored
    orch.set_user_active("max.agent", False)
    assert orch.verify_password("max.agent", "agent-demo-2") is None
    orch.set_user_active("max.agent", True)


def test_tokens_are_shown_once_stored_hashed_and_scoped(orch: Orchestrator) -> None:
    token, plaintext = orch.create_token("ivr", ["delivery_appointment", "appointment_failed"])
    checked = orch.verify_token(plaintext)
    assert checked is not None and checked.channel == "ivr"
    assert checked.allows("appointment_failed") and not checked.allows("address_change")
    with orch.engine.connect() as connection:
        hashes = list(connection.execute(sa.select(ApiTokenRow.token_hash)).scalars())
    assert plaintext not in hashes and len(hashes) == 1
    assert orch.verify_token(plaintext + "x") is None
    orch.revoke_token(token.id)
    assert orch.verify_token(plaintext) is None


def test_a_wrong_organisation_file_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "units:\n  - {id: hq, name: HQ}\nqueues:\n  - {name: q1, unit: mars}\n"
        "users:\n  - {username: bob, name: Bob, role: king, unit: hq, password: long-enough}\n"
    )
    with pytest.raises(OrganisationError) as raised:
        read_organisation(path)
    assert "users.0.role" in str(raised.value) and str(path) in str(raised.value)
    path.write_text("units:\n  - {id: hq, name: HQ}\nqueues:\n  - {name: q1, unit: mars}\n")
    with pytest.raises(OrganisationError, match="unknown unit 'mars'"):
        read_organisation(path)


def test_a_queue_the_organisation_lacks_is_created_under_headquarters(orch: Orchestrator) -> None:
    from robots.errors import HumanTaskRequest

    task_id = orch.create_task(
        HumanTaskRequest(queue="brand_new", reason="x"), case_id=None, run_id=None, key="k"
    )
    assert orch.get_task(task_id, "admin").queue == "brand_new"
    assert orch.list_tasks("sven.supervisor") == []
