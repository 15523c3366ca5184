"""Files the control room serves by a name from the address (static files, the API docs'
bundles, the trace viewer): a name that is not one of the folder's files is a 404, whatever
it holds (``..``, a name longer than the file system allows)."""

from __future__ import annotations

from pathlib import Path


def served_file(folder: Path, name: str) -> Path | None:
    """The file ``name`` in ``folder`` (or below it), or None when there is no such file."""
    try:
        path = (folder / name).resolve()
        return path if path.is_relative_to(folder) and path.is_file() else None
    except (OSError, ValueError):
        return None  # e.g. 'File name too long': no file of ours has such a name
