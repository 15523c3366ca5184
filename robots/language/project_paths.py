"""Which folder is the project, and where its runtime files (database, logs, artifacts) go.

The project is, in this order:

1. the folder given with ``--project``;
2. the current folder, when it holds ``workflows/``;
3. ``TANDEM_HOME``.

Only ``workflows/`` is required; ``business_rules/``, ``schedules/`` and ``templates/`` are
optional. Runtime files live in one data folder, ``<project>/.tandem/`` unless
``--data-dir`` (``TANDEM_DATA_DIR``) moves it::

    .tandem/tandem.db        the SQLite database (unless TANDEM_DATABASE_URL names another)
    .tandem/logs/            the JSON log (tandem.jsonl)
    .tandem/artifacts/       screenshots, traces and page copies of failed steps
    .tandem/demo.json        while ``run.py demo`` runs: where its database is

Commands settle the project once (``use_project``) and put it in the environment, so the
robots, the scheduler and the control room they start read the same folders.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DATA_FOLDER = ".tandem"
"""The data folder's name inside a project (also in the ``.gitignore`` of ``run.py init``)."""

DEMO_POINTER = "demo.json"
"""The file a running demo leaves in its project's data folder, naming its database."""


class NoProject(ValueError):
    """No project folder could be found; the message says how to name one."""


def _has_workflows(folder: Path) -> bool:
    return (folder / "workflows").is_dir()


def find_project(explicit: Path | str | None = None, *, cwd: Path | None = None) -> Path:
    """The project folder: ``explicit``, else the current folder when it holds ``workflows/``,
    else ``TANDEM_HOME``; ``NoProject`` when none is a project."""
    if explicit is not None:
        folder = Path(explicit).expanduser().resolve()
        if not folder.is_dir():
            raise NoProject(
                f"--project {explicit}: no such folder; give a project folder (one with workflows/) "
                "or create one with: run.py init PATH"
            )
        if not _has_workflows(folder):
            raise NoProject(
                f"--project {explicit}: {folder} has no workflows/ folder; a project needs one "
                "(run.py init PATH creates a project to start from)"
            )
        return folder
    here = (cwd or Path.cwd()).resolve()
    if _has_workflows(here):
        return here
    home = os.environ.get("TANDEM_HOME")
    if home:
        folder = Path(home).expanduser().resolve()
        if not _has_workflows(folder):
            raise NoProject(
                f"TANDEM_HOME={home}: {folder} has no workflows/ folder; point it at a project, "
                "or give --project"
            )
        return folder
    raise NoProject(
        f"{here} is not a Tandem project (it has no workflows/ folder): run the command in a "
        "project folder, give --project PATH, or set TANDEM_HOME; run.py init PATH creates a project"
    )


def project_home() -> Path:
    """The project this process works for (``TANDEM_HOME``, else the current folder)."""
    return Path(os.environ.get("TANDEM_HOME") or Path.cwd())


def data_dir(root: Path | str | None = None) -> Path:
    """The runtime data folder: ``TANDEM_DATA_DIR``, else ``<project>/.tandem``."""
    configured = os.environ.get("TANDEM_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(root) / DATA_FOLDER if root is not None else project_home() / DATA_FOLDER


def logs_dir(root: Path | str | None = None) -> Path:
    """Where the JSON log goes."""
    return data_dir(root) / "logs"


def artifacts_dir(root: Path | str | None = None) -> Path:
    """Where failed steps leave screenshots, traces and page copies."""
    return data_dir(root) / "artifacts"


def default_database_url(root: Path | str | None = None) -> str:
    """The SQLite database in the data folder."""
    return f"sqlite:///{data_dir(root) / 'tandem.db'}"


@dataclass(frozen=True)
class RunningDemo:
    """What ``run.py demo`` records while it runs, for the other commands of its project."""

    pid: int
    database_url: str
    data_dir: str


def demo_pointer(root: Path | str | None = None) -> Path:
    """The file naming a running demo's database, in the project's data folder."""
    return data_dir(root) / DEMO_POINTER


def record_running_demo(root: Path, database_url: str, demo_data_dir: Path) -> Path:
    """Note that a demo runs for ``root`` (removed with ``forget_running_demo``)."""
    pointer = demo_pointer(root)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    body = {"pid": os.getpid(), "database_url": database_url, "data_dir": str(demo_data_dir)}
    pointer.write_text(json.dumps(body) + "\n", encoding="utf-8")
    return pointer


def forget_running_demo(pointer: Path) -> None:
    """Remove the note left by ``record_running_demo`` (if it is still this process's)."""
    demo = _read_pointer(pointer)
    if demo is not None and demo.pid == os.getpid():
        pointer.unlink(missing_ok=True)


def _read_pointer(pointer: Path) -> RunningDemo | None:
    try:
        body = json.loads(pointer.read_text(encoding="utf-8"))
        return RunningDemo(int(body["pid"]), str(body["database_url"]), str(body["data_dir"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_demo(root: Path | str | None = None) -> RunningDemo | None:
    """The demo running for this project now, if one is (its process is alive)."""
    demo = _read_pointer(demo_pointer(root))
    if demo is None:
        return None
    try:
        os.kill(demo.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, but another user's
    return demo


@dataclass(frozen=True)
class ProjectContext:
    """The project a command works on, its data folder and database."""

    root: Path
    data_dir: Path
    database_url: str
    demo: RunningDemo | None = None
    """The running demo whose database is used (no database named, a demo runs)."""


def use_project(
    project: Path | str | None = None,
    data: Path | str | None = None,
    database_url: str | None = None,
    *,
    cwd: Path | None = None,
) -> ProjectContext:
    """Settle the project, its data folder and its database, and put them in the environment
    (``TANDEM_HOME``, ``TANDEM_DATA_DIR``, ``TANDEM_DATABASE_URL``) for this process and the
    ones it starts. The database is ``database_url``, else ``TANDEM_DATABASE_URL``, else the
    database of a demo running for this project, else ``tandem.db`` in the data folder."""
    root = find_project(project, cwd=cwd)
    os.environ["TANDEM_HOME"] = str(root)
    if data is not None:
        os.environ["TANDEM_DATA_DIR"] = str(Path(data).expanduser().resolve())
    folder = data_dir(root).resolve()
    os.environ["TANDEM_DATA_DIR"] = str(folder)
    demo = None
    url = database_url or os.environ.get("TANDEM_DATABASE_URL")
    if not url:
        demo = running_demo(root)
        url = demo.database_url if demo else default_database_url(root)
    os.environ["TANDEM_DATABASE_URL"] = url
    return ProjectContext(root, folder, url, demo)
