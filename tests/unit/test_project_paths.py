"""Which folder is the project, where its runtime files go, and how a running demo is found."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robots.language.project_paths import (
    NoProject,
    find_project,
    forget_running_demo,
    record_running_demo,
    running_demo,
    use_project,
)
from tests.conftest import write


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TANDEM_HOME", "TANDEM_DATA_DIR", "TANDEM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_current_folder_with_workflows_comes_before_tandem_home(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "here" / "workflows").mkdir(parents=True)
    (tmp_path / "home" / "workflows").mkdir(parents=True)
    clean_env.setenv("TANDEM_HOME", str(tmp_path / "home"))
    assert find_project(cwd=tmp_path / "here") == tmp_path / "here"
    assert find_project(cwd=tmp_path) == tmp_path / "home"
    assert find_project(tmp_path / "here", cwd=tmp_path) == tmp_path / "here"


def test_no_project_says_how_to_name_or_make_one(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(NoProject, match=r"not a Tandem project .*--project PATH.*run\.py init PATH"):
        find_project(cwd=tmp_path)
    with pytest.raises(NoProject, match="has no workflows/ folder"):
        find_project(tmp_path)


def test_runtime_files_go_to_the_data_folder_which_data_dir_moves(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "workflows").mkdir()
    context = use_project(cwd=tmp_path)
    assert context.data_dir == tmp_path / ".tandem"
    assert context.database_url == f"sqlite:///{tmp_path}/.tandem/tandem.db"
    assert os.environ["TANDEM_HOME"] == str(tmp_path)
    clean_env.delenv("TANDEM_DATABASE_URL")
    moved = use_project(cwd=tmp_path, data=tmp_path / "elsewhere")
    assert moved.database_url == f"sqlite:///{tmp_path}/elsewhere/tandem.db"


def test_a_running_demo_lends_its_database_to_the_commands_of_its_project(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "workflows").mkdir()
    pointer = record_running_demo(tmp_path, "sqlite:////scratch/tandem-demo.db", tmp_path / "scratch")
    assert running_demo(tmp_path) is not None
    context = use_project(cwd=tmp_path)
    assert context.demo is not None and context.database_url == "sqlite:////scratch/tandem-demo.db"
    forget_running_demo(pointer)
    assert running_demo(tmp_path) is None and not pointer.exists()


def test_a_dead_demo_is_not_used(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write(tmp_path / ".tandem" / "demo.json", '{"pid": 999999999, "database_url": "x", "data_dir": "y"}')
    assert running_demo(tmp_path) is None
