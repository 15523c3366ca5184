"""A character program Tandem was not written for: Debian's abook (a curses address book), driven
by tests/e2e/abook/workflows/abook_address.yaml — 47 lines written from docs/writing-workflows.md
alone, no images, every saved value read back on screen.

A batch goes through ``run.py worker`` (one robot: abook keeps the whole book in memory and its
``w`` writes all of it, so two copies at once would undo each other's saves); the robot is
SIGKILLed right after abook wrote the book, twice. Counted in abook's own file: one write per
case (0 double saves) and every contact holding the address asked for (0 wrong values).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not shutil.which("abook"), reason="needs abook")]

PROJECT = Path(__file__).parent / "abook"
CONTACTS = {
    "C000001": ("Anna Schmidt", "Altweg 1", "10115", "Berlin"),
    "C000002": ("Jonas Müller", "Hafenstraße 3", "20095", "Hamburg"),
    "C000003": ("Lea Weber", "Am Markt 1", "28195", "Bremen"),
    "C000004": ("Emil Wagner", "Lindenallee 12", "50667", "Köln"),
    "C000005": ("Marie Becker", "Schlossweg 4", "70173", "Stuttgart"),
}
CASES = [
    {"customer_id": "C000002", "street": "Öhringer Straße 5", "postal_code": "74613", "city": "Öhringen"},
    {"customer_id": "C000004", "street": "Zum Ölberg 12", "postal_code": "70173", "city": "Stuttgart"},
    {
        "customer_id": "C000001",
        "street": "Äußere Sulzbacher Str. 3",
        "postal_code": "90491",
        "city": "Nürnberg",
    },
    {"customer_id": "C000005", "street": "Übersee-Allee 7", "postal_code": "20457", "city": "Hamburg"},
]
KILLS = 2


def address_book(path: Path) -> None:
    entries = [
        f"[{n}]\nname={name}\nnick={number}\naddress={street}\nzip={postal_code}\ncity={city}\n"
        for n, (number, (name, street, postal_code, city)) in enumerate(CONTACTS.items())
    ]
    path.write_text("[format]\nprogram=abook\nversion=0.6.1\n\n" + "\n".join(entries), encoding="utf-8")


def stamp(path: Path) -> int | None:
    """When the book was last written (None while abook replaces it)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def read_book(path: Path) -> dict[str, dict[str, str]]:
    book = configparser.ConfigParser(interpolation=None)
    book.read_string(path.read_text(encoding="utf-8"))
    return {book[s]["nick"]: dict(book[s]) for s in book.sections() if s != "format"}


@pytest.mark.timeout(600)
def test_abook_through_the_worker_with_kills_after_the_save_key(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    book = project / "addressbook"
    address_book(book)
    orch = Orchestrator(f"sqlite:///{tmp_path / 'tandem.db'}", project=Project(project))
    case_ids = [orch.create_case("abook_address", f"abook-{c['customer_id']}", c)[0].id for c in CASES]
    env = {k: v for k, v in os.environ.items() if k not in ("TANDEM_HOME", "TANDEM_DATA_DIR", "ABOOK_DATA")}
    env["PYTHONPATH"] = str(ROOT)
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "run.py"), "worker", "--project", str(project)),
            *("--robots", "1", "--lease", "8", "--database-url", orch.url),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )
    writes = 0
    written = stamp(book)
    killed: list[str] = []  # cases whose robot was killed right after abook wrote the book
    deadline = time.monotonic() + 480
    try:
        while time.monotonic() < deadline:
            counts = orch.count_cases()
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                break
            now = stamp(book)
            # One save is one write; a write spread over a few milliseconds is still one.
            if now is not None and written is not None and now - written > 300_000_000:
                written = now
                writes += 1
                busy = [r for r in orch.list_robots() if r.status == "busy" and r.case_id]
                if len(killed) < KILLS and busy and psutil.pid_exists(busy[0].pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(busy[0].pid, signal.SIGKILL)  # abook saved; the robot knows nothing
                        killed.append(str(busy[0].case_id))
            time.sleep(0.01)
        else:
            log = log_path.read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"cases still open after the time limit: {orch.count_cases()}\n{log[-4000:]}")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert len(killed) == KILLS, f"only {len(killed)} robots were killed after a save\n{log[-3000:]}"
    assert writes == len(CASES), f"abook wrote its book {writes} times for {len(CASES)} cases"  # 0 double
    held = read_book(book)
    for case in CASES:  # 0 wrong values, in abook's own file
        entry = held[case["customer_id"]]
        assert (entry["address"], entry["zip"], entry["city"]) == (
            case["street"],
            case["postal_code"],
            case["city"],
        )
    untouched = set(CONTACTS) - {c["customer_id"] for c in CASES}
    for number in untouched:
        assert (held[number]["address"], held[number]["zip"]) == CONTACTS[number][1:3]
    for case_id in case_ids:
        timeline = orch.case_timeline(case_id)
        assert timeline.case.status == "done", (case_id, timeline.case.status, log[-3000:])
        if case_id in killed:  # the kill landed between the save and its verification
            found = [s for s in timeline.steps if s.kind == "ensure" and s.outputs == {"changed": False}]
            assert len(timeline.runs) >= 2 and found, [(s.path, s.outputs) for s in timeline.steps]
    orch.close()
