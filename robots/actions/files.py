"""Files: rows from CSV and Excel, rows into them, and a PDF summary of a case.

Excel goes through rpaframework's ``RPA.Excel.Files``; CSV through Python's csv module
(rpaframework reads CSV the same way, with more machinery); PDFs through
``RPA.PDF`` (HTML rendered by fpdf2). Relative paths are under the folder of the project whose workflow runs
(``ActionContext.project_path``).
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from robots.errors import BusinessException, SystemException
from robots.language.registry import ActionContext, ActionParams, action


class ReadRowsParams(ActionParams):
    """Which file (and sheet) to read."""

    path: str = Field(description="A .csv or .xlsx file.")
    sheet: str | None = Field(None, description="Excel sheet (default: the first).")
    delimiter: str = Field(",", description="CSV field separator.")
    encoding: str = Field("utf-8", description="CSV text encoding.")


def read_rows_from(
    path: Path, *, sheet: str | None = None, delimiter: str = ",", encoding: str = "utf-8"
) -> list[dict[str, Any]]:
    """The rows of a CSV or Excel file as dicts by the header row (schedules use this too)."""
    if not path.is_file():
        raise SystemException(f"no such file: {path}")
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding=encoding, newline="") as handle:
                return [dict(row) for row in csv.DictReader(handle, delimiter=delimiter)]
        except UnicodeDecodeError as error:
            raise BusinessException(
                f"{path} is not {encoding} text ({error.reason}); set 'encoding'"
            ) from None
    if path.suffix.lower() in (".xlsx", ".xls"):
        from RPA.Excel.Files import Files

        excel = Files()
        excel.open_workbook(str(path))
        try:
            sheets = excel.list_worksheets()
            if sheet is not None and sheet not in sheets:
                raise BusinessException(f"{path} has no sheet {sheet!r}; its sheets: {', '.join(sheets)}")
            table = excel.read_worksheet_as_table(name=sheet, header=True)
            return [{str(k): v for k, v in row.items()} for row in table]
        finally:
            excel.close_workbook()
    raise BusinessException(f"cannot read rows from {path.name}: use a .csv or .xlsx file")


@action("files.read_rows", primary="path")
def read_rows(ctx: ActionContext, params: ReadRowsParams) -> list[dict[str, Any]]:
    """Read the rows of a CSV or Excel file as a list of dicts (keys from the header row).

    Example: ``- files.read_rows: {path: data/activations.xlsx, sheet: November}`` with ``as: rows``
    """
    return read_rows_from(
        ctx.project_path(params.path),
        sheet=params.sheet,
        delimiter=params.delimiter,
        encoding=params.encoding,
    )


class WriteRowsParams(ActionParams):
    """Rows and where to write them."""

    path: str = Field(description="A .csv or .xlsx file.")
    rows: list[dict[str, Any]] = Field(description="The rows (dicts).")
    columns: list[str] | None = Field(None, description="Column order (default: keys of the first row).")
    mode: Literal["overwrite", "append"] = "overwrite"
    sheet: str = Field("Sheet1", description="Excel sheet to write.")


@action("files.write_rows", side_effect=True)
def write_rows(ctx: ActionContext, params: WriteRowsParams) -> str:
    """Write rows to a CSV or Excel file (overwrite or append); returns the path.

    Example: ``- files.write_rows: {path: out/report.xlsx, rows: "{{ results }}"}``
    """
    path = ctx.project_path(params.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = params.columns or (list(params.rows[0]) if params.rows else [])
    if path.suffix.lower() == ".csv":
        exists = path.exists() and params.mode == "append"
        with path.open("a" if exists else "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            if not exists:
                writer.writeheader()
            writer.writerows(params.rows)
        return str(path)
    if path.suffix.lower() == ".xlsx":
        from RPA.Excel.Files import Files

        excel = Files()
        if params.mode == "append" and path.exists():
            excel.open_workbook(str(path))
            if params.sheet not in excel.list_worksheets():
                excel.create_worksheet(params.sheet)
            excel.append_rows_to_worksheet(
                [{c: r.get(c) for c in columns} for r in params.rows], name=params.sheet, header=True
            )
        else:
            excel.create_workbook(str(path), fmt="xlsx", sheet_name=params.sheet)
            excel.append_rows_to_worksheet(
                [{c: r.get(c) for c in columns} for r in params.rows], name=params.sheet, header=True
            )
        excel.save_workbook(str(path))
        excel.close_workbook()
        return str(path)
    raise BusinessException(f"cannot write rows to {path.name}: use a .csv or .xlsx file")


class PdfParams(ActionParams):
    """What goes into the summary."""

    title: str
    fields: dict[str, Any] = Field(default_factory=dict, description="Shown as a two-column table.")
    lines: list[str] = Field(default_factory=list, description="Paragraphs below the table.")
    path: str | None = Field(None, description="Where to save (default: the case's artifacts).")


@action("files.pdf_summary", side_effect=True)
def pdf_summary(ctx: ActionContext, params: PdfParams) -> str:
    """Create a one-page PDF summary (title, a key/value table, text); returns its path.

    Example: ``- files.pdf_summary: {title: "Case {{ case.id }}", fields: {Customer: "{{ input.id }}"}}``
    """
    from RPA.PDF import PDF

    if params.path:
        target = ctx.project_path(params.path)
    else:
        ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
        target = ctx.artifacts_dir / f"summary-{ctx.step}.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f"<tr><td><b>{html.escape(str(k))}</b></td><td>{html.escape(str(v))}</td></tr>"
        for k, v in params.fields.items()
    )
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in params.lines)
    document = (
        f"<h1>{html.escape(params.title)}</h1>"
        f'<table width="100%" border="1"><thead><tr><th width="35%">Field</th><th width="65%">Value</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>{paragraphs}"
    )
    try:
        PDF().html_to_pdf(document, str(target))
    except Exception as error:
        raise SystemException(f"could not create the PDF {target}: {error}") from error
    return str(target)
