"""Outcomes and roles without a database: the reason a person reads, the customer's words,
and the roles table as docs/control-room.md shows it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from orchestrator.humans.outcomes import customer_notice, notice_for, offered_outcomes, plain_reason
from orchestrator.humans.roles import PERMISSIONS, allowed
from orchestrator.models import ROLES, HumanTask
from tests.conftest import ROOT

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def task(origin: str, reason: str, **fields: object) -> HumanTask:
    values: dict[str, object] = {
        "id": "t-1",
        "key": "k",
        "case_id": "c-1",
        "run_id": "r",
        "kind": "await_human" if origin == "await_human" else "escalation",
        "origin": origin,
        "queue": "q",
        "reason": reason,
        "data": {},
        "form": [],
        "step": "s",
        "priority": 0,
        "status": "open",
        "assignee": None,
        "answer": None,
        "created_at": NOW,
        "due_at": NOW,
        "claimed_at": None,
        "closed_at": None,
        "closed_by": None,
        "escalation_level": 0,
        "breached_at": None,
        **fields,
    }
    return HumanTask.model_validate(values)


def test_a_business_failure_reads_as_the_workflows_sentence() -> None:
    text, detail = plain_reason(
        task("failure", "business exception at step crm.2: The CRM has no customer C000099")
    )
    assert text == "The CRM has no customer C000099"
    assert detail.startswith("business exception at step crm.2")


def test_a_system_failure_folds_the_machine_text_away() -> None:
    raw = (
        "system exception after 3 attempts at step crm: http://127.0.0.1:8101/customers/C9 answered HTTP 404"
    )
    text, detail = plain_reason(task("failure", raw))
    assert "HTTP" not in text and "'crm'" in text
    assert detail == raw


def test_an_escalation_reason_is_shown_as_written() -> None:
    assert plain_reason(task("escalate", "postal code 80331 belongs to München, not Berlin")) == (
        "postal code 80331 belongs to München, not Berlin",
        "",
    )


def test_customer_words_fill_in_the_reason_and_the_input() -> None:
    notice = notice_for(
        {"rejected": {"text": "Not for {city}: {reason}", "mail": False}},
        "rejected",
        {"reason": "no such street", "note": "", "until": "", "input": {"city": "Berlin"}},
    )
    assert notice["text"] == "Not for Berlin: no such street" and notice["mail"] is False
    assert notice["title"] == "Not possible"  # the default where the step says nothing


def test_an_outcome_notice_speaks_only_for_its_own_state() -> None:
    outputs = {"customer": {"outcome": "done_by_hand", "title": "Done by our team", "text": "x"}}
    assert customer_notice("done_by_hand", outputs) is not None
    assert customer_notice("queued", outputs) is None  # corrected and running again: the state speaks
    assert customer_notice("done", {"customer": {"outcome": "postponed"}}) is None


def test_a_task_without_a_case_cannot_go_back_to_a_robot() -> None:
    assert "corrected" not in offered_outcomes(task("manual", "call back", case_id=None))
    declared = task("await_human", "no slot", outcomes={"postponed": {}, "rejected": {}})
    assert offered_outcomes(declared, "agent") == ["rejected", "postponed"]
    assert offered_outcomes(declared, "supervisor") == ["rejected", "postponed", "cancelled"]


ROWS = {
    "task: view": ["task.view"],
    "task: claim, release, comment": ["task.claim", "task.release", "task.comment"],
    "task: corrected, done by hand, rejected, postponed": [
        "task.corrected",
        "task.done_by_hand",
        "task.rejected",
        "task.postponed",
    ],
    "task: cancelled (ends the customer's case)": ["task.cancelled"],
    "task: reassign": ["task.reassign"],
    "task: escalate to the next level": ["task.escalate"],
    "case: open (ops case page, artifacts)": ["case.view"],
    "case: retry": ["case.retry"],
    "case: cancel": ["case.cancel"],
}


@pytest.mark.parametrize("row", list(ROWS))
def test_the_documented_roles_table_is_the_enforced_one(row: str) -> None:
    docs = (ROOT / "docs" / "control-room.md").read_text(encoding="utf-8")
    line = next(line for line in docs.splitlines() if line.startswith(f"| {row} |"))
    marks = [cell.strip() for cell in line.strip("|").split("|")[1:]]
    documented = {role for role, mark in zip(ROLES, marks, strict=True) if mark == "✓"}
    for action in ROWS[row]:
        assert documented == {role for role in ROLES if allowed(role, action)}, action
    assert re.search(r"\| action \| agent \| supervisor \| ops \| admin \|", docs)


def test_every_action_has_a_documented_row() -> None:
    assert sorted(a for actions in ROWS.values() for a in actions) == sorted(PERMISSIONS)
