"""Files actions with real files: Excel and CSV rows written and read back, a PDF summary read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pypdf import PdfReader

from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import ROOT, steps_workflow

ROWS = [
    {"customer": "C000001", "name": "Anna Schmidt", "city": "Berlin", "amount": 12},
    {"customer": "C000002", "name": "Jonas Müller", "city": "Hamburg", "amount": 7},
]


def run(tmp_path: Path, steps: str, inputs: dict[str, Any] | None = None) -> RunRecord:
    (tmp_path / "workflows").mkdir(exist_ok=True)
    engine = Engine(Project(tmp_path), humans=InMemoryHumans(), artifacts_dir=tmp_path / "artifacts")
    header = "input:\n  rows: {type: array}\n" if inputs else ""
    return engine.run(steps_workflow(steps, header), inputs or {}, case_id="case-1")


def test_excel_rows_are_written_appended_and_read_back(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.xlsx"
    record = run(
        tmp_path,
        f"""
        - files.write_rows: {{path: "{target}", rows: "{{{{ input.rows[:1] }}}}", sheet: November}}
        - files.write_rows:
            {{path: "{target}", rows: "{{{{ input.rows[1:] }}}}", sheet: November, mode: append}}
        - files.read_rows: {{path: "{target}", sheet: November}}
          as: rows
        - output: {{rows: "{{{{ rows }}}}"}}
        """,
        {"rows": ROWS},
    )
    assert record.status == "done", record.error
    assert [row["name"] for row in record.outputs["rows"]] == ["Anna Schmidt", "Jonas Müller"]
    assert [row["amount"] for row in record.outputs["rows"]] == [12, 7]
    sheet = openpyxl.load_workbook(target)["November"]  # a real workbook, readable by anyone
    assert [cell.value for cell in sheet[1]] == ["customer", "name", "city", "amount"]
    assert [cell.value for cell in sheet[3]] == ["C000002", "Jonas Müller", "Hamburg", 7]


def test_a_missing_sheet_names_the_sheets_there_are(tmp_path: Path) -> None:
    target = tmp_path / "report.xlsx"
    record = run(
        tmp_path,
        f"""
        - files.write_rows: {{path: "{target}", rows: "{{{{ input.rows }}}}", sheet: November}}
        - files.read_rows: {{path: "{target}", sheet: December}}
        """,
        {"rows": ROWS},
    )
    assert record.status == "failed_business"
    assert f"{target} has no sheet 'December'; its sheets: November" in (record.error or "")


def test_csv_rows_with_column_order_append_and_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The project (tmp_path) is outside Tandem's checkout, which TANDEM_HOME names: relative
    # paths are under the project whose workflow runs, whatever the environment says.
    monkeypatch.setenv("TANDEM_HOME", str(ROOT))
    record = run(
        tmp_path,
        """
        - files.write_rows: {path: out/list.csv, rows: "{{ input.rows[:1] }}", columns: [name, customer]}
        - files.write_rows:
            {path: out/list.csv, rows: "{{ input.rows[1:] }}", columns: [name, customer], mode: append}
        - files.read_rows: out/list.csv
          as: rows
        - output: {rows: "{{ rows }}"}
        """,
        {"rows": ROWS},
    )
    assert record.status == "done", record.error
    assert not (ROOT / "out" / "list.csv").exists()
    assert (tmp_path / "out" / "list.csv").read_text(encoding="utf-8").splitlines() == [
        "name,customer",
        "Anna Schmidt,C000001",
        "Jonas Müller,C000002",
    ]
    assert record.outputs["rows"] == [
        {"name": "Anna Schmidt", "customer": "C000001"},
        {"name": "Jonas Müller", "customer": "C000002"},
    ]


def test_csv_from_a_legacy_export_and_a_wrong_encoding(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes("Kunde;Ort\nC000004;Köln\n".encode("latin-1"))
    good = run(
        tmp_path,
        f"""
        - files.read_rows: {{path: "{export}", delimiter: ";", encoding: latin-1}}
          as: rows
        - output: {{rows: "{{{{ rows }}}}"}}
        """,
    )
    assert good.status == "done", good.error
    assert good.outputs["rows"] == [{"Kunde": "C000004", "Ort": "Köln"}]
    bad = run(tmp_path, f'- files.read_rows: {{path: "{export}", delimiter: ";"}}')
    assert bad.status == "failed_business"
    assert f"{export} is not utf-8 text" in (bad.error or "") and "set 'encoding'" in (bad.error or "")


def test_unknown_file_kinds_and_missing_files_say_so(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    kind = run(tmp_path, f'- files.read_rows: "{tmp_path / "notes.txt"}"')
    assert "cannot read rows from notes.txt: use a .csv or .xlsx file" in (kind.error or "")
    missing = run(tmp_path, f'- files.read_rows: "{tmp_path / "nope.csv"}"')
    assert missing.status == "failed_system"
    assert f"no such file: {tmp_path / 'nope.csv'}" in (missing.error or "")


def test_pdf_summary_holds_the_title_the_fields_and_the_lines(tmp_path: Path) -> None:
    record = run(
        tmp_path,
        """
        - files.pdf_summary:
            title: "Case {{ case.id }}"
            fields: {Customer: C000002, Name: "Müller & Söhne <GmbH>", Slot: "2026-12-03 08:00-12:00"}
            lines: [Booked at NordLogistik., "Confirmation sent to the customer."]
          as: pdf
        - output: {pdf: "{{ pdf }}"}
        """,
    )
    assert record.status == "done", record.error
    path = Path(record.outputs["pdf"])
    assert path.parent == tmp_path / "artifacts" / "case-1" / record.run_id  # kept with the case
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    for expected in (
        "Case case-1",
        "Customer",
        "C000002",
        "Müller & Söhne <GmbH>",
        "2026-12-03 08:00-12:00",
        "Booked at NordLogistik.",
        "Confirmation sent to the customer.",
    ):
        assert expected in text, f"{expected!r} not in the PDF:\n{text}"
    assert json.dumps(record.outputs)  # the step result is a plain path, storable with the run
