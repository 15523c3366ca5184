"""Two ``run.py worker`` processes, standing for two machines, share one PostgreSQL: every
delivery appointment is booked once, by one robot run, and robots of both machines work.

Each worker runs in a UTS namespace of its own (``unshare --uts``) under a host name of its
own, as on two machines: its robots are ``machine-a#1``, ``machine-a#2`` and ``machine-b#1``,
``machine-b#2``. (On one host name the two workers' robots would share ids.) Both workers
are started, and their four robots registered, before the cases are created, so that the
claim order cannot hand the whole batch to the first worker up. On the shared 2-core machine
the test takes about 1.5 minutes: robot start-up (imports, Chromium) and 10 bookings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import IO

import psutil  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa

from connectors.mail_sink import MailSink
from demo import data
from demo.server import DemoApps
from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import POSTGRES_URL, ROOT, postgres_schema
from tests.e2e.test_chaos_worker import marked_processes

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

MACHINES = ("machine-a", "machine-b")
ROBOTS_PER_MACHINE = 2
ROBOT_IDS = {f"{machine}#{index}" for machine in MACHINES for index in range(1, ROBOTS_PER_MACHINE + 1)}
# Seed customers: the portals accept only their order numbers with their postal codes. Six
# have postal codes below 50000 (NordLogistik), four above (Sued Express).
CUSTOMERS = data.CUSTOMERS[:10]


def portal_of(postal_code: str) -> str:
    """The portal business_rules/postal_code_supplier.yaml sends these seed customers to."""
    return "nordlog" if int(postal_code) < 50000 else "suedexpress"


@pytest.fixture
def host_names() -> None:
    """Skip unless a process may get a host name of its own (``unshare --uts`` needs root)."""
    try:
        probe = subprocess.run(["unshare", "--uts", "hostname", "probe"], capture_output=True, timeout=10)
        works = probe.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        works = False
    if not works:
        pytest.skip("needs `unshare --uts` (root) to give each worker a host name of its own")


@pytest.fixture
def database_url(host_names: None) -> Iterator[str]:
    """A fresh schema on the PostgreSQL test server; afterwards it is gone."""
    with postgres_schema("tandem_workers") as schema:
        yield schema.url
    admin = sa.create_engine(POSTGRES_URL)
    try:
        assert schema.name not in sa.inspect(admin).get_schema_names(), f"schema {schema.name} left behind"
    finally:
        admin.dispose()


@pytest.fixture
def orch(database_url: str) -> Iterator[Orchestrator]:
    """The orchestrator on that schema (migrated here, before any worker starts)."""
    store = Orchestrator(database_url, project=Project(ROOT))
    yield store
    store.close()


def start_worker(machine: str, url: str, env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    """``run.py worker`` under the host name ``machine`` (unshare and sh exec into it: the
    process is the worker itself and gets the SIGTERM)."""
    return subprocess.Popen(
        [
            "unshare",
            "--uts",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            machine,
            sys.executable,
            "run.py",
            "worker",
            "--robots",
            str(ROBOTS_PER_MACHINE),
            "--lease",
            "15",
            "--database-url",
            url,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def wait_until(
    what: str, done: Callable[[], bool], seconds: float, workers: list[subprocess.Popen[bytes]]
) -> None:
    """Poll ``done()`` until it is true; fail when time is up or a worker exits early."""
    deadline = time.monotonic() + seconds
    while not done():
        exited = [worker.pid for worker in workers if worker.poll() is not None]
        assert not exited, f"worker(s) {exited} exited while waiting for {what}"
        assert time.monotonic() < deadline, f"{what}: not within {seconds:g}s"
        time.sleep(1)


def plain_text(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None, f"no text in the mail {mail['Subject']!r}"
    return str(body.get_content())


def stop(worker: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as systemd would; the exit code (killed after two minutes: a test failure)."""
    with contextlib.suppress(ProcessLookupError):
        worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout=120)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        return -signal.SIGKILL


def test_two_workers_on_one_postgres_book_every_appointment_once(
    orch: Orchestrator,
    database_url: str,
    demo: DemoApps,
    mail_sink: MailSink,
    robot_env: dict[str, str],
    tmp_path: Path,
) -> None:
    mark = uuid.uuid4().hex
    # Every process the workers start inherits the mark: what is left afterwards is found by it.
    env = {**os.environ, **robot_env, "TANDEM_CHAOS_MARK": mark}
    logs = {machine: tmp_path / f"worker-{machine}.log" for machine in MACHINES}
    workers: list[subprocess.Popen[bytes]] = []
    codes: dict[str, int] = {}
    with contextlib.ExitStack() as files:
        try:
            for machine in MACHINES:
                log = files.enter_context(logs[machine].open("w"))
                workers.append(start_worker(machine, database_url, env, log))
            wait_until(
                "four robots registered",
                lambda: {robot.id for robot in orch.list_robots()} == ROBOT_IDS,
                120,
                workers,
            )
            cases = {
                customer["order_number"]: orch.create_case(
                    "delivery_appointment",
                    f"two-machines-{customer['order_number']}",
                    {
                        "order_number": customer["order_number"],
                        "postal_code": customer["postal_code"],
                        "name": customer["name"],
                        "email": customer["email"],
                    },
                )[0]
                for customer in CUSTOMERS
            }

            def all_worked() -> bool:
                counts = orch.count_cases()
                return counts.get("queued", 0) + counts.get("running", 0) == 0

            wait_until("every case worked", all_worked, 180, workers)
        finally:
            for machine, worker in zip(MACHINES, workers, strict=False):
                codes[machine] = stop(worker)
    tails = "\n".join(f"--- {m}:\n{logs[m].read_text(errors='replace')[-2000:]}" for m in MACHINES)
    assert codes == dict.fromkeys(MACHINES, 0), tails
    _, alive = psutil.wait_procs(marked_processes(mark), timeout=10)
    assert alive == [], f"processes outlived the workers: {[p.info for p in alive]}"

    robots = orch.list_robots()
    assert {robot.id for robot in robots} == ROBOT_IDS
    assert {robot.host for robot in robots} == set(MACHINES)
    assert all(robot.status == "stopped" for robot in robots), [(r.id, r.status) for r in robots]

    # Every case done, by exactly one run, claimed exactly once.
    booked_by: dict[str, str] = {}
    for order, created in cases.items():
        timeline = orch.case_timeline(created.id)
        case = timeline.case
        assert case.status == "done", f"{order}: {case.status} {case.error}"
        # Two robots may pick the same first free slot; the portal refuses one, whose workflow
        # retries its block within the same run (so still one run, one booking).
        assert len(timeline.runs) == 1, f"{order}: {len(timeline.runs)} runs {timeline.runs}"
        (run,) = timeline.runs
        assert run.status == "done" and run.ended_at is not None, run
        claims = [t for t in timeline.transitions if t.to_status == "running"]
        assert [t.actor for t in claims] == [run.robot_id], timeline.transitions
        booked_by[order] = run.robot_id
    machines = Counter(robot_id.split("#")[0] for robot_id in booked_by.values())
    assert set(machines) == set(MACHINES), f"only one machine worked: {machines}"
    assert sum(robot.cases_done for robot in robots) == len(CUSTOMERS)

    # Each booking exactly once, at the customer's portal, the one the case reports; one mail each.
    bookings = {
        portal: [e["after"] for e in demo.audit(portal) if e["action"] == "slot_booked"]
        for portal in ("nordlog", "suedexpress")
    }
    booked_orders = Counter(b["order"] for entries in bookings.values() for b in entries)
    assert booked_orders == dict.fromkeys(cases, 1), f"bookings per order: {booked_orders}"
    mails = mail_sink.wait_for(len(CUSTOMERS))
    assert len(mails) == len(CUSTOMERS), [m["Subject"] for m in mails]
    bodies = [plain_text(mail) for mail in mails]
    for customer in CUSTOMERS:
        order = customer["order_number"]
        portal = portal_of(customer["postal_code"])
        (booked,) = [b for b in bookings[portal] if b["order"] == order]
        outputs = orch.get_case(cases[order].id).outputs or {}
        assert outputs["supplier"] == portal and outputs["booking_number"] == booked["booking"], outputs
        assert sum(booked["booking"] in body for body in bodies) == 1, f"{order}: not mailed once"
    print(f"\ntwo workers on PostgreSQL: {len(CUSTOMERS)} bookings, cases per machine {dict(machines)}")
