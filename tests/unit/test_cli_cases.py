"""``run.py cases`` and ``run.py tasks``: what an operator sees of the queue, and what a script reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT, write


def tandem(home: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": str(columns), "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def worked(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """A project whose worker ran three cases: 1 done, 2 escalated to a person, 3 cancelled."""
    write(
        tmp_path / "workflows" / "numbers.yaml",
        """
        name: numbers
        input:
          n: {type: integer}
        steps:
          - escalate:
              when: "{{ input.n == 2 }}"
              queue: review
              reason: "number {{ input.n }} needs a look"
          - output: {double: "{{ input.n * 2 }}"}
        """,
    )
    store = Orchestrator(f"sqlite:///{tmp_path / '.tandem' / 'tandem.db'}", project=Project(tmp_path))
    ids = {n: store.create_case("numbers", f"ref-{n}", {"n": n}, channel="ivr")[0].id for n in (1, 2, 3)}
    store.cancel_case(ids[3], actor="ops", reason="not needed")
    store.close()
    result = tandem(tmp_path, "worker", "--once")
    assert result.returncode == 0, result.stderr
    return tmp_path, ids


def test_cases_lists_filters_and_prints_json(worked: tuple[Path, dict[int, str]]) -> None:
    home, ids = worked
    table = tandem(home, "cases")
    assert table.returncode == 0, table.stderr
    assert all(case_id in table.stdout for case_id in ids.values())
    assert "waiting_human" in table.stdout and "number 2 needs a look" in table.stdout
    waiting = json.loads(tandem(home, "cases", "--status", "waiting", "--json").stdout)
    assert [(c["id"], c["status"]) for c in waiting] == [(ids[2], "waiting_human")]


def test_show_a_case_with_its_timeline_error_and_task(worked: tuple[Path, dict[int, str]]) -> None:
    home, ids = worked
    shown = tandem(home, "cases", "show", ids[2])
    assert shown.returncode == 0, shown.stderr
    for seen in ("queued → running", "escalate to review", "error (business at step 1)", "review", "open"):
        assert seen in shown.stdout, shown.stdout
    timeline = json.loads(tandem(home, "cases", "show", ids[1], "--json").stdout)
    assert timeline["case"]["outputs"] == {"double": 2}
    assert tandem(home, "cases", "show", "c-nope").returncode == 1


def test_follow_ends_with_the_case_and_retry_and_cancel_say_what_they_did(
    worked: tuple[Path, dict[int, str]],
) -> None:
    home, ids = worked
    followed = tandem(home, "cases", "follow", ids[1])
    assert followed.returncode == 0 and followed.stdout.rstrip().endswith("case done")
    retried = tandem(home, "cases", "retry", ids[3], "--reason", "needed after all")
    assert retried.returncode == 0 and "queued again" in retried.stdout
    refused = tandem(home, "cases", "cancel", ids[1])
    assert refused.returncode == 1 and "done already" in refused.stdout


def test_tasks_lists_every_queue_and_shows_one(worked: tuple[Path, dict[int, str]]) -> None:
    home, ids = worked
    (task,) = json.loads(tandem(home, "tasks", "--json").stdout)
    assert (task["queue"], task["case_id"], task["status"]) == ("review", ids[2], "open")
    shown = tandem(home, "tasks", "show", task["id"])
    assert shown.returncode == 0 and "number 2 needs a look" in shown.stdout and "created" in shown.stdout


def test_ids_stay_whole_in_a_narrow_table_and_their_start_is_enough(
    worked: tuple[Path, dict[int, str]],
) -> None:
    """80 columns, as in a small terminal or piped into grep: every case and task id is on one
    line, to be copied into 'cases show' or grepped, not folded in two; and, as with git,
    the first characters of a case id name the case."""
    home, ids = worked
    cases = tandem(home, "cases", columns=80)
    assert all(case_id in cases.stdout for case_id in ids.values()), cases.stdout
    tasks = tandem(home, "tasks", columns=80)
    task_ids = [task["id"] for task in json.loads(tandem(home, "tasks", "--json").stdout)]
    assert task_ids and all(task_id in tasks.stdout for task_id in task_ids), tasks.stdout
    assert "review" in tasks.stdout and "waiting_human" in cases.stdout  # queue and status, whole too
    shown = tandem(home, "cases", "show", ids[1][:10])
    assert shown.returncode == 0 and f"case {ids[1]}" in shown.stdout, shown.stdout + shown.stderr
    assert tandem(home, "cases", "show", "c-").returncode == 1  # too short to be one case
    retried = tandem(home, "cases", "retry", ids[3][:12])
    assert f"case {ids[3]} is queued again" in retried.stdout, retried.stdout + retried.stderr


def test_a_start_several_cases_share_is_named_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from rich.console import Console

    from orchestrator.queue.case_console import list_tasks, show_case

    write(tmp_path / "workflows" / "numbers.yaml", "name: numbers\nsteps:\n  - output: {one: 1}\n")
    store = Orchestrator(f"sqlite:///{tmp_path / 'tandem.db'}", project=Project(tmp_path))
    try:
        ids = iter(["abcd" + "0" * 28, "abcd" + "1" * 28, "abce" + "2" * 28])
        monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(next(ids)))
        made = [store.create_case("numbers", f"r-{n}", {})[0].id for n in range(3)]
        monkeypatch.undo()
        screen = Console(width=200, record=True)
        assert show_case(store, "c-abcd", screen) == 1
        assert f"several cases start with 'c-abcd' ({made[0]}, {made[1]}): give more" in screen.export_text()
        assert show_case(store, "c-abce", screen) == 0  # one case starts so: that one
        assert list_tasks(store, screen, case_id="c-abcd") == 1
    finally:
        store.close()
