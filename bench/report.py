"""How a benchmark writes its results: Markdown tables, and its own section of docs/benchmarks.md.

Each benchmark owns the part of ``docs/benchmarks.md`` between ``<!-- name -->`` and
``<!-- /name -->``; a run replaces that part and leaves the rest of the file as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    """The comments that open and close the section ``name``."""
    return f"<!-- {name} -->", f"<!-- /{name} -->"


def read_section(path: Path, name: str) -> str | None:
    """The section's body, as ``write_section`` put it; None when the file or either marker is missing."""
    if not path.exists():
        return None
    start, end = markers(name)
    current = path.read_text(encoding="utf-8")
    if start not in current or end not in current:
        return None
    return current.split(start, 1)[1].split(end, 1)[0].removeprefix("\n")


def write_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the section's markers in ``path``, right after the opening one.

    The section is replaced where it stands when both markers are there; otherwise it is
    appended after a blank line. A missing file starts as ``# Benchmarks``. Hand-written
    notes under a ``<!-- name-notes -->`` line at the end of the section are kept below the
    new ``body`` (unless ``body`` brings notes of its own).
    """
    start, end = markers(name)
    notes = f"<!-- {name}-notes -->"
    old = read_section(path, name) or ""
    if notes in old and notes not in body:
        body = body.rstrip("\n") + "\n\n" + old[old.index(notes) :]
    block = f"{start}\n{body}{end}"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        updated = before + block + rest.split(end, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")


def table_row(*cells: object) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(f"{cell}" for cell in cells) + " |"


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> list[str]:
    """A Markdown table's lines: header, alignment and one line per row.

    ``align`` has one letter per column, ``l`` (the default) or ``r`` for right-aligned numbers.
    """
    if len(align) > len(columns) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} needs one 'l' or 'r' per column of {list(columns)}")
    rule = "|" + "|".join("---:" if side == "r" else "---" for side in align.ljust(len(columns), "l")) + "|"
    return [table_row(*columns), rule, *(table_row(*row) for row in rows)]
