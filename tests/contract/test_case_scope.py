"""Which cases an ops user sees: those whose queues (the workflow's exception queue, the
queues of its tasks) belong to their unit or a unit below it; headquarters sees every case."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from orchestrator.errors import NotFound, PermissionDenied
from orchestrator.queue.kpis import compute_kpis
from orchestrator.service import Orchestrator
from orchestrator.storage.tables import CaseRow, OrgUnitRow, QueueRow, UserRow
from robots.engine.runner import Engine
from tests.contract.conftest import new_case, run_next

HQ_OPS = "olaf.ops"
COUNTRY = "sven.supervisor"  # Germany


@pytest.fixture
def ops(orch: Orchestrator) -> Iterator[dict[str, str]]:
    """Ops users of the Munich and Berlin branches (next to headquarters' olaf.ops)."""
    orch.create_user("mia.ops", "ops-demo-munich", role="ops", unit="munich")
    orch.create_user("bert.ops", "ops-demo-berlin", role="ops", unit="berlin")
    yield {"munich": "mia.ops", "berlin": "bert.ops"}


@pytest.fixture
def cases(orch: Orchestrator, engine: Engine) -> dict[str, str]:
    """Three cases: one waiting in Munich's ``appointments`` queue (its workflow's exception
    queue is Germany's), one of a workflow whose exception queue is Berlin's, one of Germany's."""
    asked = new_case(orch, "ask", payload={"customer": "Lea Weber"})
    assert run_next(orch, engine).status == "waiting_human"
    return {
        "munich_task": asked.id,
        "berlin_queue": new_case(orch, "bad_data").id,
        "germany": new_case(orch, "noop").id,
    }


def test_headquarters_sees_every_case_and_a_branch_only_its_own(
    orch: Orchestrator, ops: dict[str, str], cases: dict[str, str]
) -> None:
    assert orch.case_scope(HQ_OPS) is None
    assert {c.id for c in orch.list_cases(visible_to=HQ_OPS)} == set(cases.values())
    assert {c.id for c in orch.list_cases(visible_to=COUNTRY)} == set(cases.values())
    assert [c.id for c in orch.list_cases(visible_to=ops["munich"])] == [cases["munich_task"]]
    assert [c.id for c in orch.list_cases(visible_to=ops["berlin"])] == [cases["berlin_queue"]]
    assert orch.list_cases(visible_to=ops["berlin"], workflow="ask") == []
    assert orch.count_cases(visible_to=HQ_OPS) == {"waiting_human": 1, "queued": 2}
    assert orch.count_cases(visible_to=ops["munich"]) == {"waiting_human": 1}
    assert orch.count_cases(visible_to=ops["berlin"]) == {"queued": 1}
    assert orch.visible_case_ids(ops["berlin"], [*cases.values(), "c-nothing"]) == {cases["berlin_queue"]}


def test_another_units_case_is_refused_and_an_unknown_one_is_not_found(
    orch: Orchestrator, ops: dict[str, str], cases: dict[str, str]
) -> None:
    orch.check_case_visible(cases["munich_task"], ops["munich"])
    orch.check_case_visible(cases["munich_task"], HQ_OPS)
    with pytest.raises(PermissionDenied, match=r"outside bert\.ops's"):
        orch.check_case_visible(cases["munich_task"], ops["berlin"])
    with pytest.raises(NotFound):
        orch.check_case_visible("c-nothing", ops["berlin"])


def test_a_case_follows_its_task_up_the_levels(
    orch: Orchestrator, ops: dict[str, str], cases: dict[str, str]
) -> None:
    (task,) = orch.list_tasks(COUNTRY)
    orch.escalate_task(task.id, COUNTRY, "the branch is overloaded")
    # The task is Germany's now and the case's exception queue was always Germany's.
    assert orch.list_cases(visible_to=ops["munich"]) == []
    assert cases["munich_task"] in {c.id for c in orch.list_cases(visible_to=COUNTRY)}


def test_kpis_count_only_the_cases_in_scope(
    orch: Orchestrator, ops: dict[str, str], cases: dict[str, str]
) -> None:
    everything = compute_kpis(orch.engine, orch.project, scope=orch.case_scope(HQ_OPS))
    assert {k.workflow: k.cases for k in everything} == {"ask": 1, "bad_data": 1, "noop": 1}
    munich = compute_kpis(orch.engine, orch.project, scope=orch.case_scope(ops["munich"]))
    assert [(k.workflow, k.cases, k.escalated) for k in munich] == [("ask", 1, 1)]


@pytest.fixture
def second_tenant(orch: Orchestrator) -> Iterator[str]:
    """Another root unit beside headquarters, with a queue and an ops user; removed afterwards
    (the PostgreSQL suite keeps the organisation's tables between tests; cases it empties)."""
    orch.create_unit("tenant_b", "Another company")
    orch.create_queue("tenant_b_exceptions", "tenant_b")
    orch.create_user("tom.ops", "ops-demo-tenant", role="ops", unit="tenant_b")
    yield "tom.ops"
    with orch.engine.begin() as connection:
        connection.execute(sa.delete(UserRow).where(UserRow.username == "tom.ops"))
        connection.execute(sa.delete(QueueRow).where(QueueRow.name == "tenant_b_exceptions"))
        connection.execute(sa.delete(OrgUnitRow).where(OrgUnitRow.id == "tenant_b"))


def test_with_two_root_units_each_sees_only_its_own_cases(
    orch: Orchestrator, cases: dict[str, str], second_tenant: str
) -> None:
    theirs, homeless = new_case(orch, "noop"), new_case(orch, "noop")
    with orch.engine.begin() as connection:
        connection.execute(
            sa.update(CaseRow).where(CaseRow.id == theirs.id).values(exception_queue="tenant_b_exceptions")
        )
        # A queue the organisation lacks is headquarters' (hq is the first root by id).
        connection.execute(
            sa.update(CaseRow).where(CaseRow.id == homeless.id).values(exception_queue="nowhere")
        )
    assert orch.case_scope(HQ_OPS) is not None  # hq no longer covers every unit
    assert {c.id for c in orch.list_cases(visible_to=HQ_OPS)} == {*cases.values(), homeless.id}
    assert [c.id for c in orch.list_cases(visible_to=second_tenant)] == [theirs.id]
