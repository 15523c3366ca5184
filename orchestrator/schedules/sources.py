"""Reading a schedule's source at fire time: file rows, query rows or one fixed payload.

Every row becomes a ``SourceRow``: its payload (columns mapped to the workflow's input
fields, values as text exactly as in a CSV file, so every source behaves alike and the
workflow's input types do the conversion), its key (which makes the case reference unique
per fire) and, when the row itself is unusable, the reason. A source that cannot be read
at all (missing file, missing column, failing query) raises ``SourceError`` naming the
schedule, the place and the fix: then the fire fails as a whole and can be run again.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.schedules.model import FileSource, PayloadSource, QuerySource, RowsSpec, Schedule
from robots.errors import ExpressionError, TandemError
from robots.language.expressions import render, resolve_env


class SourceError(TandemError):
    """A schedule's source could not be read; the message names the schedule, the place and a fix."""


@dataclass(frozen=True)
class SourceRow:
    """One row of a source, ready to become a case (or to be rejected with ``problem``)."""

    where: str
    """Where the row came from, for people: ``line 7``, ``row 7 of sheet Contracts``."""
    payload: dict[str, Any]
    key: str | None
    """The row's identity within the fire (None when the key fields are empty)."""
    problem: str | None = None


def as_text(value: Any) -> str | None:
    """A cell or column value as text, the way a CSV export would write it (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps 80331 as 80331.0
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_rows(schedule: Schedule, fire_time: datetime, *, root: Path) -> list[SourceRow]:
    """The rows of ``schedule``'s source for the fire at ``fire_time`` (files relative to ``root``)."""
    source = schedule.source
    if isinstance(source, PayloadSource):
        return [SourceRow("payload", fire_values(schedule, source.payload, fire_time, "payload"), "payload")]
    if isinstance(source, FileSource):
        path = _file_path(schedule, source, fire_time, root)
        if path.suffix.lower() == ".csv":
            records = _csv_records(schedule, source, path)
        else:
            records = _excel_records(schedule, source, path)
    else:
        records = _query_records(schedule, source, fire_time)
    constants = fire_values(schedule, source.constants, fire_time, "constants")
    return _to_rows(source, constants, records)


def fire_values(
    schedule: Schedule, values: Mapping[str, Any], fire_time: datetime, what: str
) -> dict[str, Any]:
    """``values`` with their templates evaluated for this fire.

    Templates see ``schedule`` (the name), ``fire_time`` (UTC, ISO text), ``fire_date`` (the
    local date, ISO text) and ``fire`` (the local fire time, for ``fire.strftime('%d.%m.%Y')``).
    """
    local = fire_time.astimezone(schedule.zone)
    scope = {
        "schedule": schedule.name,
        "fire_time": f"{fire_time.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "fire_date": local.date().isoformat(),
        "fire": local,
    }
    try:
        rendered = render(dict(values), scope, where=f"schedule {schedule.name} source.{what}")
    except ExpressionError as error:
        raise SourceError(f"{error}; fix source.{what} in {schedule.file}") from None
    # A payload is stored as JSON: dates and times become text like everywhere else.
    return {
        key: as_text(value) if isinstance(value, date | Decimal) else value for key, value in rendered.items()
    }


# -- files ------------------------------------------------------------------------------------


def _file_path(schedule: Schedule, source: FileSource, fire_time: datetime, root: Path) -> Path:
    try:
        name = source.file_for(fire_time.astimezone(schedule.zone))
    except ValueError as error:
        raise SourceError(f"schedule {schedule.name!r} ({schedule.file}): {error}") from None
    path = Path(name)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise SourceError(
            f"schedule {schedule.name!r} ({schedule.file}): source file {path} does not exist; "
            f"put the file there or correct source.file"
        )
    return path


def _csv_records(schedule: Schedule, source: FileSource, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        with path.open(encoding=source.encoding, newline="") as handle:
            reader = csv.DictReader(handle, delimiter=source.delimiter)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            _check_delimiter(schedule, source, header, path)
            _check_columns(schedule, source, header, str(path))
            for record in reader:
                # DictReader puts surplus cells under the key None: ignore them.
                yield f"line {reader.line_num}", {k: v for k, v in record.items() if k is not None}
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SourceError(
            f"schedule {schedule.name!r}: cannot read {path}: {error}; check the file and source.encoding"
        ) from None


def _check_delimiter(schedule: Schedule, source: FileSource, header: Sequence[str], path: Path) -> None:
    """A header read as one column that holds another separator: the file uses that one
    (German spreadsheets save CSV with ';'), and the columns are not what is wrong."""
    wanted = list((source.columns or {}).values())
    if len(header) != 1 or not wanted or all(column in header for column in wanted):
        return
    for other in (";", "\t", "|", ","):
        if other != source.delimiter and other in header[0]:
            # As YAML must spell it: only a double-quoted "\t" is a tab.
            written = '"\\t"' if other == "\t" else f"'{other}'"
            raise SourceError(
                f"schedule {schedule.name!r}: {path} has one column {header[0]!r}: its fields are "
                f"separated by {'a tab' if other == chr(9) else repr(other)}, not {source.delimiter!r}; "
                f"add delimiter: {written} under source ({schedule.file})"
            )


def _excel_records(
    schedule: Schedule, source: FileSource, path: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    import openpyxl  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise SourceError(f"schedule {schedule.name!r}: cannot open {path} as Excel: {error}") from None
    try:
        if source.sheet is not None and source.sheet not in book.sheetnames:
            raise SourceError(
                f"schedule {schedule.name!r}: {path} has no sheet {source.sheet!r}; "
                f"sheets: {', '.join(book.sheetnames)}"
            )
        sheet = book[source.sheet] if source.sheet else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [as_text(cell) or "" for cell in next(rows, ())]
        _check_columns(schedule, source, header, f"{path} sheet {sheet.title}")
        for number, cells in enumerate(rows, start=2):
            yield f"row {number} of sheet {sheet.title}", dict(zip(header, cells, strict=False))
    finally:
        book.close()


def _check_columns(schedule: Schedule, source: RowsSpec, header: Sequence[str], where: str) -> None:
    """A mapped column missing from the header fails the fire: every row would be wrong."""
    if not header or not any(header):
        raise SourceError(
            f"schedule {schedule.name!r}: {where} has no header row; the first row names the columns"
        )
    wanted = list((source.columns or {}).values())
    missing = [column for column in wanted if column not in header]
    if missing:
        raise SourceError(
            f"schedule {schedule.name!r}: {where} has no column {', '.join(map(repr, missing))}; "
            f"columns: {', '.join(repr(h) for h in header if h)}; correct source.columns ({schedule.file})"
        )


# -- queries ----------------------------------------------------------------------------------


def _query_records(
    schedule: Schedule, source: QuerySource, fire_time: datetime
) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        url = resolve_env(source.url, where=f"schedule {schedule.name} source.url")
    except ExpressionError as error:
        raise SourceError(str(error)) from None
    statement = sqlalchemy.text(source.query)
    local = fire_time.astimezone(schedule.zone)
    offered = {"fire_time": fire_time, "fire_date": local.date(), "schedule": schedule.name}
    wanted = set(statement.compile().params)
    unknown = wanted - set(offered)
    if unknown:
        raise SourceError(
            f"schedule {schedule.name!r}: the query uses :{', :'.join(sorted(unknown))}; "
            f"the parameters it may use are :fire_time, :fire_date and :schedule"
        )
    try:
        engine = sqlalchemy.create_engine(url, hide_parameters=True)  # rows hold personal data
    except (SQLAlchemyError, ValueError, ImportError) as error:
        raise SourceError(f"schedule {schedule.name!r}: bad source.url: {error}") from None
    try:
        with engine.connect() as connection:
            result = connection.execute(statement, {name: offered[name] for name in wanted})
            records = [dict(row._mapping) for row in result]
    except SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise SourceError(
            f"schedule {schedule.name!r}: the source query failed: {detail}; "
            f"check source.query and source.url ({schedule.file})"
        ) from None
    finally:
        engine.dispose()
    if records:  # no rows: nothing to check the mapping against, and nothing to do
        _check_columns(schedule, source, list(records[0]), "the query result")
    for number, record in enumerate(records, start=1):
        yield f"result row {number}", record


# -- rows -> payloads -----------------------------------------------------------------------------


def _to_rows(
    source: RowsSpec, constants: dict[str, Any], records: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[SourceRow]:
    rows: list[SourceRow] = []
    seen: dict[str, str] = {}
    for index, (where, record) in enumerate(records, start=1):
        texts = {str(column): as_text(value) for column, value in record.items()}
        if not any(texts.values()):
            continue  # blank lines at the end of exports are no cases
        if source.columns is None:
            payload: dict[str, Any] = {column: value for column, value in texts.items() if column and value}
        else:
            payload = {field: texts[column] for field, column in source.columns.items() if texts.get(column)}
        payload = {**constants, **payload}
        key, problem = _row_key(source, payload, index)
        if key is not None and key in seen:
            problem = f"duplicate key {key!r}: {seen[key]} has the same"
        elif key is not None:
            seen[key] = where
        rows.append(SourceRow(where, payload, key, problem))
    return rows


def _row_key(source: RowsSpec, payload: Mapping[str, Any], index: int) -> tuple[str | None, str | None]:
    if not source.key:
        return f"row{index}", None
    values = [payload.get(field) for field in source.key]
    empty = [field for field, value in zip(source.key, values, strict=True) if value in (None, "")]
    if empty:
        return None, f"no value for key field {', '.join(map(repr, empty))}"
    return "|".join(str(value) for value in values), None
