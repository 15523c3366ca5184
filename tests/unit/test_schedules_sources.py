"""Schedule sources: real CSV and Excel files, a real SQLite table, a fixed payload."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from orchestrator.schedules.loading import parse_schedule
from orchestrator.schedules.model import Schedule
from orchestrator.schedules.sources import SourceError, read_rows
from tests.conftest import write

FIRE = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 02:00 in Berlin


def schedule_with(source: str) -> Schedule:
    """A nightly schedule of ``address_change`` reading ``source`` (YAML, dedented)."""
    text = "name: nightly\nworkflow: address_change\ncron: '0 2 * * *'\ntimezone: Europe/Berlin\nsource:\n"
    text += textwrap.indent(textwrap.dedent(source).strip("\n"), "  ") + "\n"
    loaded, problems = parse_schedule(text, "nightly.yaml")
    assert not problems, "\n".join(map(str, problems))
    assert loaded is not None
    return loaded


CSV = """
    Kundennummer;Strasse;PLZ;Ort;Notiz
    C000001;Hauptstr. 1;80331;Munich;first
    C000002;Ringweg 2;10115;Berlin;

    C000003;Am Markt 3;2011;Hamburg;short postal code
    ;Nowhere 4;99999;Nowhere;no customer
    C000001;Hauptstr. 1;80331;Munich;again
    """


def test_csv_rows_are_mapped_keyed_and_checked(tmp_path: Path) -> None:
    write(tmp_path / "in" / "changes-2026-11-23.csv", CSV)
    source = schedule_with(
        """
        file: "in/changes-{fire:%Y-%m-%d}.csv"
        delimiter: ";"
        columns: {customer_id: Kundennummer, street: Strasse, postal_code: PLZ, city: Ort}
        key: customer_id
        constants: {email: ops@example.com}
        """
    )
    rows = read_rows(source, FIRE, root=tmp_path)
    assert [row.where for row in rows] == ["line 2", "line 3", "line 5", "line 6", "line 7"]
    assert rows[0].payload == {
        "customer_id": "C000001",
        "street": "Hauptstr. 1",
        "postal_code": "80331",
        "city": "Munich",
        "email": "ops@example.com",
    }
    assert [row.key for row in rows] == ["C000001", "C000002", "C000003", None, "C000001"]
    assert [row.problem for row in rows[:3]] == [None, None, None]
    assert rows[3].problem == "no value for key field 'customer_id'"
    assert rows[4].problem == "duplicate key 'C000001': line 2 has the same"


def test_without_a_mapping_every_column_is_a_field_and_the_row_number_is_the_key(tmp_path: Path) -> None:
    write(tmp_path / "plain.csv", "customer_id,city\nC000001,Munich\nC000002,\n")
    rows = read_rows(schedule_with("file: plain.csv"), FIRE, root=tmp_path)
    assert [(row.key, row.payload) for row in rows] == [
        ("row1", {"customer_id": "C000001", "city": "Munich"}),
        ("row2", {"customer_id": "C000002"}),  # an empty cell is a missing field, not ""
    ]


def test_a_missing_file_or_column_fails_the_whole_fire_with_the_fix(tmp_path: Path) -> None:
    source = schedule_with("file: 'in/{fire:%Y%m%d}.csv'\ncolumns: {customer_id: Kunde}")
    with pytest.raises(SourceError, match=r"in/20261123.csv does not exist; put the file there"):
        read_rows(source, FIRE, root=tmp_path)
    write(tmp_path / "in" / "20261123.csv", "Kundennummer,Ort\nC000001,Munich\n")
    with pytest.raises(SourceError, match=r"has no column 'Kunde'; columns: 'Kundennummer', 'Ort'"):
        read_rows(source, FIRE, root=tmp_path)


def test_a_csv_with_another_separator_says_which_to_set(tmp_path: Path) -> None:
    """A German spreadsheet saves CSV with ';': the columns are right, the separator is not."""
    write(tmp_path / "kunden.csv", "Kundennummer;Strasse\nK000001;Hauptstr. 1\n")
    source = schedule_with("file: kunden.csv\ncolumns: {customer_id: Kundennummer, street: Strasse}")
    with pytest.raises(SourceError, match=r"separated by ';', not ','; add delimiter: ';' under source"):
        read_rows(source, FIRE, root=tmp_path)
    fixed = schedule_with(
        "file: kunden.csv\ndelimiter: ';'\ncolumns: {customer_id: Kundennummer, street: Strasse}"
    )
    assert read_rows(fixed, FIRE, root=tmp_path)[0].payload == {
        "customer_id": "K000001",
        "street": "Hauptstr. 1",
    }


def test_excel_rows_arrive_as_text_like_csv(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Activations")
    sheet.append(["Customer", "Street", "Postal code", "City", "Since"])
    sheet.append(["C000001", "Hauptstr. 1", 80331, "Munich", datetime(2026, 11, 1)])
    sheet.append([None, None, None, None, None])
    sheet.append(["C000002", "Ringweg 2", 10115.0, "Berlin", date(2026, 11, 2)])
    book.save(tmp_path / "activations.xlsx")
    source = schedule_with(
        """
        file: activations.xlsx
        sheet: Activations
        columns: {customer_id: Customer, street: Street, postal_code: Postal code, city: City}
        key: [customer_id, postal_code]
        """
    )
    rows = read_rows(source, FIRE, root=tmp_path)
    assert [row.where for row in rows] == ["row 2 of sheet Activations", "row 4 of sheet Activations"]
    assert rows[0].payload == {
        "customer_id": "C000001",
        "street": "Hauptstr. 1",
        "postal_code": "80331",
        "city": "Munich",
    }
    assert rows[1].payload["postal_code"] == "10115"
    assert rows[1].key == "C000002|10115"
    with pytest.raises(SourceError, match="has no sheet 'Nope'; sheets: Notes, Activations"):
        read_rows(schedule_with("file: activations.xlsx\nsheet: Nope"), FIRE, root=tmp_path)


def test_query_rows_from_a_real_database_with_the_fire_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE moves (customer TEXT, street TEXT, zip INTEGER, city TEXT, due DATE)")
        )
        connection.execute(
            sa.text("INSERT INTO moves VALUES (:c, :s, :z, :city, :due)"),
            [
                {"c": "C000001", "s": "Hauptstr. 1", "z": 80331, "city": "Munich", "due": "2026-11-23"},
                {"c": "C000002", "s": "Ringweg 2", "z": 10115, "city": "Berlin", "due": "2026-11-24"},
                {"c": "C000003", "s": "Am Markt 3", "z": 20095, "city": "Hamburg", "due": "2026-11-23"},
            ],
        )
    engine.dispose()
    monkeypatch.setenv("BILLING_DB_URL", url)
    source = schedule_with(
        """
        url: ${BILLING_DB_URL}
        query: SELECT customer, street, zip, city FROM moves WHERE due = :fire_date ORDER BY customer
        columns: {customer_id: customer, street: street, postal_code: zip, city: city}
        key: customer_id
        """
    )
    rows = read_rows(source, FIRE, root=tmp_path)
    assert [row.payload["customer_id"] for row in rows] == ["C000001", "C000003"]
    assert rows[0].payload["postal_code"] == "80331"
    assert rows[0].where == "result row 1"


def test_a_failing_query_names_the_schedule_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_DB_URL", raising=False)
    with pytest.raises(SourceError, match="environment variable NO_SUCH_DB_URL is not set"):
        read_rows(schedule_with("url: ${NO_SUCH_DB_URL}\nquery: SELECT 1"), FIRE, root=tmp_path)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(
        SourceError, match=r"schedule 'nightly': the source query failed: no such table: moves"
    ):
        read_rows(schedule_with(f"url: {url}\nquery: SELECT * FROM moves"), FIRE, root=tmp_path)
    with pytest.raises(SourceError, match=r"the query uses :day; the parameters it may use are"):
        read_rows(schedule_with(f"url: {url}\nquery: SELECT :day"), FIRE, root=tmp_path)


def test_a_fixed_payload_is_one_row_per_fire(tmp_path: Path) -> None:
    rows = read_rows(schedule_with("payload: {customer_id: C000009}"), FIRE, root=tmp_path)
    assert [(row.key, row.payload) for row in rows] == [("payload", {"customer_id": "C000009"})]


def test_payload_and_constants_may_name_the_fire(tmp_path: Path) -> None:
    fixed = schedule_with(
        """
        payload:
          customer_id: C000009
          note: "run of {{ schedule }} for {{ fire_date }} at {{ fire.strftime('%H:%M') }} ({{ fire_time }})"
          day: "{{ fire_date }}"
        """
    )
    [row] = read_rows(fixed, FIRE, root=tmp_path)
    assert row.payload["note"] == "run of nightly for 2026-11-23 at 02:00 (2026-11-23T01:00:00Z)"
    assert row.payload["day"] == "2026-11-23"
    write(tmp_path / "plain.csv", "customer_id\nC000001\n")
    rows = read_rows(
        schedule_with("file: plain.csv\nconstants: {batch: '{{ fire_date }}'}"), FIRE, root=tmp_path
    )
    assert rows[0].payload == {"batch": "2026-11-23", "customer_id": "C000001"}


def test_templates_are_checked_when_the_schedule_loads() -> None:
    text = (
        "name: nightly\nworkflow: address_change\ncron: '0 2 * * *'\nsource:\n"
        "  payload: {a: '{{ input.x }}', b: '{{ fire_date '}\n"
    )
    loaded, problems = parse_schedule(text, "nightly.yaml")
    assert loaded is None
    found = [f"{p.line}:{p.column}: {p.message} ({p.hint})" for p in problems]
    assert found[0] == (
        "5:13: unknown name input in '{{ input.x }}' "
        "(templates here know schedule, fire_time, fire_date, fire)"
    )
    assert found[1].startswith("5:33: bad expression syntax")


def test_a_file_that_is_not_a_workbook_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "orders.xlsx").write_text("this is not a workbook", encoding="utf-8")
    with pytest.raises(SourceError, match=r"schedule 'nightly': cannot open .*orders.xlsx as Excel"):
        read_rows(schedule_with("file: orders.xlsx"), FIRE, root=tmp_path)


def test_a_tab_separated_file_is_told_the_yaml_that_makes_a_tab(tmp_path: Path) -> None:
    write(tmp_path / "kunden-tab.csv", "Kundennummer\tStrasse\nK000001\tHauptstr. 1\n")
    source = schedule_with("file: kunden-tab.csv\ncolumns: {customer_id: Kundennummer, street: Strasse}")
    with pytest.raises(
        SourceError, match=r'separated by a tab, not \',\'; add delimiter: "\\t" under source'
    ):
        read_rows(source, FIRE, root=tmp_path)
    fixed = schedule_with(
        'file: kunden-tab.csv\ndelimiter: "\\t"\ncolumns: {customer_id: Kundennummer, street: Strasse}'
    )
    assert read_rows(fixed, FIRE, root=tmp_path)[0].payload["street"] == "Hauptstr. 1"
