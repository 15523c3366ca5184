"""robot → human → robot through the orchestrator: appointment_failed with a durable task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.mail_sink import MailSink
from demo.server import DemoApps
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.drivers.systems import ByKind
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

CASE = {
    "customer_id": "C000003",
    "order_number": "O-100003",
    "postal_code": "80331",
    "email": "lea@example.com",
}


@pytest.fixture
def orch(tmp_path: Path) -> Iterator[Orchestrator]:
    store = Orchestrator(f"sqlite:///{tmp_path / 'tandem.db'}", project=Project(ROOT))
    store.load_organisation()
    yield store
    store.close()


def test_appointment_failed_goes_to_an_agent_and_resumes_with_the_answer(
    orch: Orchestrator, robot_sessions: ByKind, demo: DemoApps, mail_sink: MailSink, tmp_path: Path
) -> None:
    engine = Engine(
        orch.project,
        humans=orch.humans("robot-e2e"),
        systems=robot_sessions,
        robot="robot-e2e",
        artifacts_dir=tmp_path / "artifacts",
        escalate_system_failures=False,
    )
    case, _ = orch.create_case("appointment_failed", "ivr-call-1", CASE, actor="ivr", channel="ivr")
    claim = orch.claim_next_case("robot-e2e", 120)
    assert claim is not None
    waiting = run_claim(orch, engine, claim)
    assert waiting is not None and waiting.status == "waiting_human", waiting and waiting.error

    # The agent of the Munich branch sees the pop-up and the task with everything gathered.
    (popup,) = [c for c in orch.callouts_since(0, username="max.agent") if c.kind == "callout"]
    assert popup.data["phone"] == "+49 33 4004137" and popup.data["supplier"] == "Sued Express"
    (task,) = orch.list_tasks("max.agent")
    assert task.id == waiting.task_id and task.queue == "appointments"
    slots = task.data["free_slots"]
    assert len(slots) > 3 and task.form[0]["choices"] == slots
    assert orch.list_tasks("anna.agent") == []  # Berlin does not see Munich's queue
    orch.claim_task(task.id, "max.agent")
    orch.complete_task(task.id, "max.agent", {"slot": slots[2], "note": "Please ring twice"})
    assert orch.get_case(case.id).status == "queued"

    again = orch.claim_next_case("robot-e2e", 120)
    assert again is not None and again.case.id == case.id
    done = run_claim(orch, engine, again)
    assert done is not None and done.status == "done", done and done.error
    (booked,) = [e["after"] for e in demo.audit("suedexpress") if e["action"] == "slot_booked"]
    assert f"{booked['date']} {booked['window']}" == slots[2]
    assert done.outputs is not None and done.outputs["booking_number"] == booked["booking"]
    (mail,) = mail_sink.wait_for(1)
    body = mail.get_body().get_content()
    assert "Please ring twice" in body and str(booked["booking"]) in body
    timeline = orch.case_timeline(case.id)
    assert [t.to_status for t in timeline.transitions] == [
        "queued",
        "running",
        "waiting_human",
        "queued",
        "running",
        "done",
    ]
    assert [s.outcome for s in timeline.steps if s.path.endswith(">appointment_gathering.customer")] == [
        "ok",
        "restored",
    ]  # CRM not asked again
