"""``run.py init PATH``: a new project that validates and runs as created.

The files come from ``robots/language/project_template/``: a workflow against the demo CRM with its
login, a decision table, a schedule with its CSV file, a README and a ``.gitignore`` for
the data folder (``robots.language.project_paths``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "project_template"
"""The files ``init`` copies."""


class InitError(ValueError):
    """The project cannot be created there; the message says why and what to do."""


def template_files() -> list[Path]:
    """The template's files, relative to the template folder."""
    return sorted(p.relative_to(TEMPLATE) for p in TEMPLATE.rglob("*") if p.is_file())


def create_project(target: Path) -> list[Path]:
    """Copy the template into ``target`` (created if missing); the files written.

    Refuses a folder that already has ``workflows/`` (a project) or any of the template's
    files: nothing a user wrote is overwritten.
    """
    target = target.expanduser()
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} is a file: give a folder for the new project")
    if (target / "workflows").is_dir():
        raise InitError(f"{target} already is a project (it has workflows/): nothing was changed")
    files = template_files()
    clashes = [str(name) for name in files if (target / name).exists()]
    if clashes:
        raise InitError(
            f"{target} already has {', '.join(clashes)}: nothing was changed; give an empty or new folder"
        )
    written: list[Path] = []
    for name in files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE / name, destination)
        written.append(destination)
    return written
