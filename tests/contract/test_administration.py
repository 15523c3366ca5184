"""The admin store on every backend: each change with its audit line, in one transaction;
a refused change leaves neither."""

from __future__ import annotations

import pytest

from orchestrator.errors import PermissionDenied
from orchestrator.service import Orchestrator


def test_changes_and_their_audit_lines(orch: Orchestrator) -> None:
    orch.admin_create_user("admin", "lena.agent", "lena-pass-1", role="agent", unit="berlin")
    orch.admin_update_user("admin", "lena.agent", role="supervisor")
    orch.admin_save_queue("admin", "berlin_callbacks", "berlin", sla_minutes=30)
    token, plaintext = orch.admin_issue_token("admin", "ivr", ["*"])
    orch.admin_revoke_token("admin", token.id)
    events, total = orch.admin_events()
    assert total == 5
    assert [e.action for e in events] == [
        "token.revoke",
        "token.issue",
        "queue.create",
        "user.update",
        "user.create",
    ]
    assert all(e.actor == "admin" for e in events)
    assert all(plaintext not in e.detail and "lena-pass-1" not in e.detail for e in events)
    page, total = orch.admin_events(action="user", limit=1, offset=1)
    assert total == 2 and [e.action for e in page] == ["user.create"]


def test_a_refused_change_leaves_nothing(orch: Orchestrator) -> None:
    with pytest.raises(PermissionDenied):
        orch.admin_create_user("olaf.ops", "mallory", "mallory-pass-1", role="admin", unit="hq")
    with pytest.raises(PermissionDenied):
        orch.admin_set_user_active("admin", "admin", False)
    with pytest.raises(ValueError, match="exists already"):
        orch.admin_create_user("admin", "max.agent", "another-pass-1", role="agent", unit="munich")
    assert orch.get_user("mallory") is None
    assert orch.admin_events() == ([], 0)
