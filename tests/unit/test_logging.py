"""Logs: readable on the terminal, JSON lines in files, tagged, and never holding a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from robots.engine.runner import Engine
from robots.errors import SystemException
from robots.language.project import Project
from robots.logs import configure_logging
from robots.masking import page_quote
from tests.conftest import steps_workflow

SECRET = "Zz-very-secret-4711"


@pytest.fixture
def log_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    # capsys first, so the console sink writes into the captured stderr
    directory = tmp_path / "logs"
    configure_logging(log_dir=directory, level="DEBUG", console=True)
    yield directory
    logger.remove()
    configure_logging(log_dir=None, console=True, level="INFO")


def test_json_lines_carry_case_run_step_and_robot(log_dir: Path) -> None:
    record = Engine(Project(log_dir), robot="robot-7").run(
        steps_workflow("- core.log: hello"), {}, case_id="case-9"
    )
    logger.complete()
    lines = [json.loads(line) for line in (log_dir / "tandem.jsonl").read_text().splitlines()]
    hello = next(line for line in lines if line["message"] == "hello")
    assert (hello["case"], hello["run"], hello["step"], hello["robot"]) == (
        "case-9",
        record.run_id,
        "1",
        "robot-7",
    )
    assert hello["level"] == "INFO"


def test_a_secret_is_never_written_to_any_log(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TANDEM_SECRET_BILLING_PASSWORD", SECRET)
    flow = steps_workflow("""
        - set: {pw: "{{ secret('billing.password') }}"}
        - core.log: {message: "using {{ pw }}", level: debug}
        - core.log: {message: "warning: {{ pw }} expires", level: warning}
        - fail: {message: "login with {{ pw }} refused", kind: system}
    """)
    record = Engine(Project(log_dir), artifacts_dir=log_dir / "artifacts").run(flow, {})
    logger.bind(password=SECRET, token="abc-123-def").info("extra fields too")
    logger.complete()
    assert record.status == "failed_system"
    captured = capsys.readouterr()
    written = [path.read_text(errors="replace") for path in log_dir.rglob("*") if path.is_file()]
    assert written, "the run wrote no log file"
    for text in [*written, captured.out, captured.err, record.model_dump_json()]:
        assert SECRET not in text
    assert "login with *** refused" in "".join(written)
    assert "login with *** refused" in captured.err


def test_terminal_lines_carry_case_run_step_and_robot(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = Engine(Project(log_dir), robot="robot-7").run(
        steps_workflow("- core.log: hello"), {}, case_id="case-9", run_id="0123456789abcdef"
    )
    logger.complete()
    assert record.run_id == "0123456789abcdef"
    line = next(line for line in capsys.readouterr().err.splitlines() if line.endswith(" hello"))
    assert "robot-7 case=case-9 run=01234567… step=1 hello" in line
    lines = [json.loads(text) for text in (log_dir / "tandem.jsonl").read_text().splitlines()]
    hello = next(item for item in lines if item["message"] == "hello")
    assert hello["run"] == "0123456789abcdef" and "run_tag" not in hello


def test_text_quoted_from_a_page_stays_out_of_every_log(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = page_quote("Kundin Lea Weber\n geboren 12.03.1980 «VIP»")
    assert shown == '«Kundin Lea Weber geboren 12.03.1980 "VIP"»'  # one line, its own marks kept apart
    logger.warning("run ended failed_system: expected text='Saved', but the page shows: {}", shown)
    try:
        raise SystemException(f"the element shows {shown}")
    except SystemException:
        logger.exception("step failed")
    logger.bind(error=f"the page shows: {shown}").info("with an extra field")
    logger.complete()
    written = (log_dir / "tandem.jsonl").read_text() + capsys.readouterr().err
    assert "Lea" not in written and "1980" not in written
    assert written.count("«page text not logged»") >= 4  # message, error, traceback, extra field
    assert page_quote("x" * 500, 10) == "«xxxxxxxxx…»"
