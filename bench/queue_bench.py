"""Queue throughput and overhead: claim + complete of no-op cases, and a real case's share.

Run ``.venv/bin/python -m bench.queue_bench`` (``--help`` for the options). In one run:

* **throughput**: ``--cases`` no-op cases are queued, then worker *processes* (4 on SQLite,
  8 on PostgreSQL) each claim once and then loop ``finish_run_and_claim_next`` (a finished
  run record, and the next claim with it, as ``run.py worker`` does) until the queue is
  empty; cases per second = cases / wall time from the first claim to the last completion.
  Every case is checked to have been claimed exactly once;
* **the raw alternative** in the same run and on the same database: a bare work queue
  table claimed by one ``UPDATE ... RETURNING`` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``)
  and completed by one more ``UPDATE`` — no lease fencing, audit trail, runs or robots;
  it shows what Tandem's durability costs per case;
* **overhead in a real case**: ``--real-cases`` delivery_appointment cases run against the
  demo apps with real Chromium (one robot, as ``run.py worker`` does); every orchestrator
  call the robot makes (checkpoints with step records, the outcome with the next claim) is
  timed, and its share of the case's wall time is reported.

Goals of issue 4: SQLite ≥ 500/s with 4 workers, PostgreSQL ≥ 1,000/s with 8 workers,
overhead ≤ 0.5 % of a real case. Results go to the console and to the ``queue-bench``
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.report import DOCS, table, write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "queue-bench"
POSTGRES_URL = os.environ.get("TANDEM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOOP = "name: bench_noop\ninput:\n  n: {type: integer, required: false}\nsteps:\n  - set: {x: 1}\n"


def _project(root: Path) -> Any:
    from robots.language.project import Project

    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "business_rules").mkdir(exist_ok=True)
    (root / "workflows" / "bench_noop.yaml").write_text(NOOP, encoding="utf-8")
    return Project(root)


def _queue_cases(url: str, project_root: Path, count: int) -> None:
    """Insert ``count`` queued no-op cases (one statement: creation is not what is measured)."""
    from orchestrator.service import Orchestrator
    from orchestrator.storage.tables import CaseRow

    store = Orchestrator(url, project=_project(project_root))
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"c-bench{index:07d}",
            "workflow": "bench_noop",
            "reference": f"bench-{index}",
            "status": "queued",
            "priority": 0,
            "created_by": "bench",
            "created_at": now,
            "updated_at": now,
            "payload": {"n": index},
            "attempts": 0,
            "failures": 0,
            "max_attempts": 3,
            "exception_queue": "exceptions",
        }
        for index in range(count)
    ]
    with store.engine.begin() as connection:
        connection.execute(sa.insert(CaseRow), rows)
    store.close()


def _tandem_worker(url: str, project_root: str, robot: str, ready: Any, start: Any, results: Any) -> None:
    from orchestrator.service import Orchestrator
    from robots.engine.records import RunRecord

    store = Orchestrator(url, project=_project(Path(project_root)), migrate=False, pool_size=1)
    claimed: list[str] = []
    ready.put(robot)
    start.wait()
    claim = store.claim_next_case(robot, 300)
    while claim is not None:  # as a worker's robot does: the outcome and the next claim together
        now = datetime.now(UTC)
        record = RunRecord(
            run_id=claim.run_id,
            case_id=claim.case.id,
            workflow="bench_noop",
            version="1",
            robot=robot,
            status="done",
            started_at=now,
            ended_at=now,
        )
        claimed.append(claim.case.id)
        _, claim = store.finish_run_and_claim_next(claim, record, lease_seconds=300)
    results.put((time.perf_counter(), claimed))
    store.close()


RAW_TABLE = "raw_queue"


def _raw_setup(url: str, count: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        connection.exec_driver_sql(
            f"CREATE TABLE {RAW_TABLE} (id INTEGER PRIMARY KEY, status VARCHAR(10) NOT NULL, "
            "worker VARCHAR(50), payload TEXT)"
        )
        connection.execute(
            sa.text(f"INSERT INTO {RAW_TABLE} (id, status, payload) VALUES (:id, 'queued', :payload)"),
            [{"id": index, "payload": f'{{"n": {index}}}'} for index in range(count)],
        )
    engine.dispose()


def _raw_worker(url: str, project_root: str, robot: str, ready: Any, start: Any, results: Any) -> None:
    from orchestrator.storage.db import create_engine

    engine = create_engine(url, pool_size=1)
    lock = " FOR UPDATE SKIP LOCKED" if engine.dialect.name == "postgresql" else ""
    claim = sa.text(
        f"UPDATE {RAW_TABLE} SET status = 'running', worker = :worker WHERE id = "
        f"(SELECT id FROM {RAW_TABLE} WHERE status = 'queued' ORDER BY id LIMIT 1{lock}) RETURNING id"
    )
    done = sa.text(f"UPDATE {RAW_TABLE} SET status = 'done' WHERE id = :id")
    claimed: list[str] = []
    ready.put(robot)
    start.wait()
    while True:
        with engine.begin() as connection:
            row = connection.execute(claim, {"worker": robot}).first()
        if row is None:
            break
        with engine.begin() as connection:
            connection.execute(done, {"id": row[0]})
        claimed.append(str(row[0]))
    results.put((time.perf_counter(), claimed))
    engine.dispose()


def _throughput(
    url: str, project_root: Path, workers: int, count: int, target: Callable[..., None]
) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ready, start, results = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=target, args=(url, str(project_root), f"bench-{i}", ready, start, results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # every process imported and connected before the clock starts
        ready.get(timeout=600)
    began = time.perf_counter()
    start.set()
    ends, claimed = [], []
    for _ in processes:
        end, ids = results.get(timeout=3600)
        ends.append(end)
        claimed += ids
    for process in processes:
        process.join()
    seconds = max(ends) - began
    if len(claimed) != count or len(set(claimed)) != count:
        raise SystemExit(
            f"{len(claimed)} claims of {count} cases ({len(set(claimed))} distinct): a queue bug"
        )
    return {"cases": count, "workers": workers, "seconds": seconds, "per_second": count / seconds}


def _postgres_schema() -> tuple[str, Callable[[], None]] | None:
    try:
        admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        schema = f"tandem_bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:
        print(
            f"PostgreSQL at {POSTGRES_URL} not reachable ({type(error).__name__}): skipped", file=sys.stderr
        )
        return None

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", drop


def measure_backend(name: str, url: str, workers: int, count: int, work: Path) -> dict[str, Any]:
    """Tandem's and the raw queue's throughput on one database."""
    from orchestrator.service import Orchestrator

    Orchestrator(url, project=_project(work)).close()  # migrate once
    _queue_cases(url, work, count)
    tandem = _throughput(url, work, workers, count, _tandem_worker)
    _raw_setup(url, count)
    raw = _throughput(url, work, workers, count, _raw_worker)
    print(
        f"{name}: Tandem {tandem['per_second']:.0f}/s, raw queue {raw['per_second']:.0f}/s "
        f"({workers} workers, {count} cases)"
    )
    return {"backend": name, "tandem": tandem, "raw": raw}


# -- overhead in a real case -------------------------------------------------------------

TIMED = (
    "claim_next_case",
    "record_step",
    "save_checkpoint",
    "finish_run",
    "finish_run_and_claim_next",
    "heartbeat",
    "create_task",
    "answer_for",
)


# The real cases: the two web processes as the robot benchmark runs them (the address
# change without its terminal part), each case new to the apps.
REAL_WORKFLOWS = ("delivery_appointment", "address_change")


def _real_payload(workflow: str, index: int) -> dict[str, Any]:
    if workflow == "delivery_appointment":
        return {"order_number": "O-100002", "postal_code": "20095", "email": "jonas@example.com"}
    return {
        "customer_id": "C000001",
        "street": f"Queueweg {index}",
        "postal_code": "10115",
        "city": "Berlin",
        "email": "anna@example.com",
    }


def measure_real_cases(count: int, work: Path) -> list[dict[str, Any]]:
    """Run real cases of each of ``REAL_WORKFLOWS`` and time every orchestrator call the robot makes."""
    from bench.robots_bench import Apps
    from bench.robots_variants import bench_workflows
    from demo.data import robot_secrets
    from orchestrator.models import ClaimRequest
    from orchestrator.service import Orchestrator
    from orchestrator.worker.execution import run_claim_and_claim_next
    from robots.engine.robot import make_sessions
    from robots.engine.runner import Engine
    from robots.language.project import Project
    from robots.logs import configure_logging

    configure_logging(log_dir=None, console_level="WARNING")
    spent = {"seconds": 0.0, "calls": 0}
    project = Project(ROOT, workflows_dir=bench_workflows(work / "workflows"))
    store = Orchestrator(f"sqlite:///{work / 'real.db'}", project=project)
    for name in TIMED:
        original = getattr(store, name)

        def timed(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - began
                spent["calls"] += 1

        setattr(store, name, timed)
    results = []
    # The apps and the mail sink in a process of their own, as the systems a robot talks to
    # are: sharing this interpreter (and its GIL), their threads ran in the robot's time.
    apps = Apps(multiprocessing.get_context("spawn"), work / "apps")
    robot_env = {**apps.call("env"), **robot_secrets()}
    before = {name: os.environ.get(name) for name in robot_env}
    os.environ.update(robot_env)
    try:
        sessions = make_sessions()
        engine = Engine(
            store.project,
            humans=store.humans("bench"),
            systems=sessions,
            robot="bench",
            artifacts_dir=work / "artifacts",
            escalate_system_failures=False,
        )
        try:
            for workflow in REAL_WORKFLOWS:
                apps.call("free_slots")
                walls: list[float] = []
                for index in range(count + 1):  # the first case warms up (logins)
                    store.create_case(workflow, f"real-{index}", _real_payload(workflow, index))
                # As a worker's robot: each outcome is stored together with the next claim.
                request = ClaimRequest(lease_seconds=120, workflows=[workflow])
                warming = dict(spent)
                claim = store.claim_next_case("bench", 120)  # the warm-up case's: not counted
                for index in range(count + 1):
                    assert claim is not None
                    began = time.perf_counter()
                    case, claim = run_claim_and_claim_next(
                        store, engine, claim, next_claim=lambda r=request: r
                    )
                    if case is None or case.status != "done":
                        raise SystemExit(f"the real {workflow} case did not finish: {case}")
                    if index == 0:
                        spent.update(warming)
                        continue
                    walls.append(time.perf_counter() - began)
                total = sum(walls)
                results.append(
                    {
                        "workflow": workflow,
                        "cases": count,
                        "case_seconds": total / count,
                        "calls_per_case": spent["calls"] / count,
                        "overhead_ms_per_case": spent["seconds"] / count * 1000,
                        "share_percent": spent["seconds"] / total * 100,
                    }
                )
                print(
                    f"real cases: {count} x {workflow}, {total / count:.2f} s each; orchestrator calls "
                    f"{spent['calls'] / count:.0f} per case, {spent['seconds'] / count * 1000:.1f} ms per "
                    f"case = {spent['seconds'] / total * 100:.2f} %"
                )
                spent.update(seconds=0.0, calls=0)
        finally:
            sessions.close()
    finally:
        apps.stop()
        for name, value in before.items():  # the caller's environment as it was (URLs, secrets)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    store.close()
    return results


def section(results: list[dict[str, Any]], real: list[dict[str, Any]] | None, command: str) -> str:
    """The Markdown section for docs/benchmarks.md."""
    goals = {"SQLite": 500.0, "PostgreSQL": 1000.0}
    load = os.getloadavg()[0]
    rows = []
    for result in results:
        tandem, raw = result["tandem"], result["raw"]
        goal = goals[result["backend"]]
        verdict = "met" if tandem["per_second"] >= goal else "**NOT met**"
        ratio = tandem["per_second"] / raw["per_second"]
        rows.append(
            (
                result["backend"],
                tandem["workers"],
                tandem["cases"],
                f"{tandem['per_second']:.0f}",
                f"{raw['per_second']:.0f}",
                f"{ratio:.2f}x",
                f"≥ {goal:.0f}/s: {verdict}",
            )
        )
    lines = [
        "## Work queue: claim + complete throughput, overhead in a real case",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, "
        f"shared with other test runs; load average {load:.1f} at the end), "
        f"Python {platform.python_version()}. Run: `{command}`.",
        "",
        *table(
            ("backend", "workers", "cases", "Tandem cases/s", "raw queue cases/s", "Tandem / raw", "goal"),
            rows,
            align="lrrrrrl",
        ),
    ]
    explanation = (
        "Each Tandem claim is one transaction: pick the most urgent claimable case (priority, deadline, "
        "age, `not_before`, expired leases) and set its fenced lease; append the audit transition; open a "
        "run; mark the robot busy. On PostgreSQL that is two statements: one `UPDATE cases ... FROM (SELECT "
        "... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING` (which also returns the previous holder, to record "
        "a reclaimed lease) and one statement whose data-modifying CTEs write the audit entry, the run and "
        "the robot row. SQLite cannot do either, so there the five statements run in one `BEGIN IMMEDIATE`. "
        "Each completion is an `UPDATE ... RETURNING` fenced on the lease token (no read first), then "
        "audit, run and robot (on PostgreSQL all of it one statement, with the update as a CTE, sent "
        "without BEGIN and COMMIT when there are no step records to add); a robot stores it together "
        "with its next claim "
        "(`finish_run_and_claim_next`, as the worker's robots do): on SQLite one transaction per case, on "
        "PostgreSQL the claim is a transaction of its own. The raw queue is one "
        "`UPDATE ... RETURNING` to claim and one `UPDATE` to complete, without any of that: the ratio is "
        "what durability and the audit trail cost per case. Every case was checked to be claimed exactly "
        "once in both."
    )
    lines += ["", explanation, ""]
    if real:
        lines += [
            "Overhead in a real case (demo apps, real Chromium, one robot, each workflow after a "
            "warm-up case; the address change without its terminal part, as in the robot "
            "benchmark; both send their confirmation mail to a local SMTP sink; apps and sink in a "
            "process of their own): the robot's "
            "orchestrator calls (checkpoints with the step records; the outcome stored together with "
            "the next case's claim, as the worker's robots do) as a share of the case's wall time.",
            "",
            *table(
                ("workflow", "cases", "s per case", "calls per case", "ms per case", "share", "goal ≤ 0.5 %"),
                [
                    (
                        f"`{r['workflow']}`",
                        r["cases"],
                        f"{r['case_seconds']:.2f}",
                        f"{r['calls_per_case']:.0f}",
                        f"{r['overhead_ms_per_case']:.1f}",
                        f"{r['share_percent']:.2f} %",
                        "met" if r["share_percent"] <= 0.5 else "**NOT met**",
                    )
                    for r in real
                ],
                align="lrrrrrl",
            ),
            "",
        ]
    return "\n".join(lines)


def write_docs(path: Path, text: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md."""
    write_section(path, SECTION, text)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=2000, help="no-op cases per backend (default 2000)")
    parser.add_argument("--real-cases", type=int, default=5, help="real cases for the overhead (0: skip)")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    options = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as scratch:
        work = Path(scratch)
        results.append(measure_backend("SQLite", f"sqlite:///{work / 'bench.db'}", 4, options.cases, work))
        if not options.no_postgres:
            found = _postgres_schema()
            if found is not None:
                url, drop = found
                try:
                    results.append(measure_backend("PostgreSQL", url, 8, options.cases, work))
                finally:
                    drop()
        real = measure_real_cases(options.real_cases, work) if options.real_cases else None
    command = "python -m bench.queue_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    if not options.no_docs:
        write_docs(DOCS, section(results, real, command.strip()))
        print(f"written to {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
