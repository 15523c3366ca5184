"""Concurrency: one case per reference under a burst, and every case claimed exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from orchestrator.service import Orchestrator
from orchestrator.storage.tables import CaseRow, RunRow
from robots.engine.records import RunRecord


def test_fifty_concurrent_creations_with_one_reference_make_one_case(orch: Orchestrator) -> None:
    stores = [Orchestrator(orch.url, project=orch.project, migrate=False, pool_size=2) for _ in range(5)]
    barrier = threading.Barrier(50)

    def create(index: int) -> tuple[str, bool]:
        barrier.wait()
        case, created = stores[index % 5].create_case("noop", "ivr-call-4711", {"n": index})
        return case.id, created

    try:
        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(create, range(50)))
    finally:
        for store in stores:
            store.close()
    assert len({case_id for case_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    (case,) = orch.list_cases()
    assert len(orch.case_timeline(case.id).transitions) == 1


@pytest.mark.postgres
def test_eight_workers_claim_two_thousand_cases_each_exactly_once(orch: Orchestrator, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the 2,000-case claim race runs on PostgreSQL (SQLite serialises writers anyway)")
    count = 2000
    # The cases are inserted in one statement (creation is tested above; claims are tested here).
    now = orch.now()
    rows = [
        dict(
            id=f"c-bulk{i:05d}",
            workflow="noop",
            reference=f"bulk-{i}",
            status="queued",
            priority=i % 3,
            created_by="test",
            created_at=now,
            updated_at=now,
            payload={"n": i},
            attempts=0,
            failures=0,
            max_attempts=3,
            exception_queue="exceptions",
        )
        for i in range(count)
    ]
    with orch.engine.begin() as connection:
        connection.execute(sa.insert(CaseRow), rows)
    claimed: list[list[str]] = [[] for _ in range(8)]

    def work(index: int) -> None:
        store = Orchestrator(orch.url, project=orch.project, migrate=False, pool_size=1)
        robot = f"robot-{index}"
        try:
            while (claim := store.claim_next_case(robot, 300)) is not None:
                claimed[index].append(claim.case.id)
                now = store.now()
                record = RunRecord(
                    run_id=claim.run_id,
                    case_id=claim.case.id,
                    workflow="noop",
                    version="1",
                    robot=robot,
                    status="done",
                    started_at=now,
                    ended_at=now,
                )
                store.finish_run(claim, record)
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [case_id for ids in claimed for case_id in ids]
    assert len(every) == count and len(set(every)) == count
    assert sum(1 for ids in claimed if ids) >= 2  # really shared between workers
    assert orch.count_cases() == {"done": count}
    with orch.engine.connect() as connection:
        runs = Counter(connection.execute(sa.select(RunRow.case_id)).scalars())
    assert set(runs.values()) == {1}
