"""The documentation's examples load, and the generated action reference is current."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from robots.engine.runner import Engine
from robots.language.docs import actions_markdown
from robots.language.loader import parse_workflow
from robots.language.project import Project
from robots.language.registry import REGISTRY, load_actions
from robots.language.rules import RuleBook
from robots.language.steps import CONTROL_KEYWORDS, BlockStep, StepBase, walk
from robots.language.table_parser import load_table
from tests.conftest import ROOT, steps_workflow, write

DOCS = sorted((ROOT / "docs").glob("*.md"))
_BLOCK = re.compile(r"^```yaml (workflow|steps)\n(.*?)^```", re.S | re.M)


def examples() -> list[tuple[str, str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{doc.name}:{line}", match.group(1), match.group(2)))
    return found


def as_workflow(kind: str, body: str) -> str:
    """An example as a whole workflow: a ``steps`` example goes under ``steps:``."""
    return body if kind == "workflow" else "name: example\nsteps:\n" + textwrap.indent(body, "  ")


@pytest.mark.parametrize(("where", "kind", "body"), examples(), ids=[e[0] for e in examples()])
def test_every_example_loads(where: str, kind: str, body: str) -> None:
    flow, problems = parse_workflow(as_workflow(kind, body), where)
    assert not problems, "\n".join(map(str, problems))
    assert flow is not None
    # What it names (rule tables, called workflows, login workflows) exists in this project,
    # so a reader can run the example as it is.
    references = _PROJECT.check_references(flow)
    assert not references, "\n".join(map(str, references))


_PROJECT = Project(ROOT)


_TABLE = re.compile(r"^```yaml table\n(.*?)^```", re.S | re.M)


def tables() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in _TABLE.finditer(text):
            found.append((f"{doc.name}:{text[: match.start()].count(chr(10)) + 1}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "body"), tables(), ids=[t[0] for t in tables()])
def test_every_table_example_loads_and_its_examples_hold(where: str, body: str, tmp_path: Path) -> None:
    RuleBook(ROOT / "business_rules").problems()  # registers the shipped rule functions
    path = tmp_path / "table.yaml"
    path.write_text(body, encoding="utf-8")
    load_table(path)


def _sections(text: str) -> dict[str, str]:
    """Each heading of a page (its first word, e.g. ``if`` for "if / then / else") -> its text."""
    parts = re.split(r"^#+ (.*)$", text, flags=re.M)
    return {heading.split()[0]: body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def _example_steps(body: str) -> list[StepBase]:
    """Every step (nested ones too, the workflow's on_error included) of a section's examples."""
    found: list[StepBase] = []
    for match in _BLOCK.finditer(body):
        flow, problems = parse_workflow(as_workflow(match.group(1), match.group(2)), "example")
        assert flow is not None and not problems, problems
        found += walk(flow.steps) + walk(flow.on_error)
    return found


_USES: dict[str, Callable[[StepBase], bool]] = {
    **{
        keyword: (lambda step, model=model: isinstance(step, model))
        for keyword, model in CONTROL_KEYWORDS.items()
    },
    "steps": lambda step: isinstance(step, BlockStep),
    "retry": lambda step: step.retry is not None,
    "timeout": lambda step: step.timeout is not None,
    "on_error": lambda step: bool(step.on_error),
    "when": lambda step: step.when is not None,
}


@pytest.mark.parametrize("keyword", sorted(_USES))
def test_the_reference_covers_every_step_kind(keyword: str) -> None:
    sections = _sections((ROOT / "docs" / "workflow-language.md").read_text(encoding="utf-8"))
    assert keyword in sections, f"no heading for {keyword!r}"
    steps = _example_steps(sections[keyword])
    assert any(_USES[keyword](step) for step in steps), f"the section {keyword!r} has no example using it"


def test_the_action_reference_is_current() -> None:
    path = ROOT / "docs" / "actions.md"
    assert path.read_text(encoding="utf-8") == actions_markdown(), (
        "docs/actions.md is out of date: run 'python run.py actions --markdown > docs/actions.md'"
    )


def test_examples_were_found() -> None:
    assert len(examples()) >= 20
    assert Path(ROOT / "docs" / "workflow-language.md").exists()


def _block(tag: str, after: str) -> str:
    """The first ```tag block of workflow-language.md after the heading ``after``."""
    text = (ROOT / "docs" / "workflow-language.md").read_text(encoding="utf-8")
    match = re.compile(rf"^```{tag}\n(.*?)^```", re.S | re.M).search(text, text.index(after))
    assert match is not None, f"no ```{tag} block after {after!r}"
    return match.group(1)


def test_the_loading_errors_shown_are_what_validate_prints(tmp_path: Path) -> None:
    home = tmp_path.resolve()
    write(home / "workflows" / "bad.yaml", _block("yaml invalid", "## Errors when loading"))
    (home / "business_rules").symlink_to(ROOT / "business_rules")
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "validate", "workflows/bad.yaml", "--project", str(home)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "TANDEM_HOME": str(home),
            "TANDEM_DATA_DIR": str(tmp_path / "data"),
            "COLUMNS": "200",
        },
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.replace(f"{home}/", "") == _block("text validate", "## Errors when loading")


def test_the_action_example_registers_and_runs(tmp_path: Path) -> None:
    module_file = write(tmp_path / "docs_greet.py", _block("python", "## Adding an action"))
    spec = importlib.util.spec_from_file_location("docs_greet_example", module_file)
    assert spec is not None and spec.loader is not None
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        assert "demo.greet" in load_actions()
        flow = steps_workflow("- demo.greet: Ada\n  as: greeting\n- output: {said: '{{ greeting }}'}")
        record = Engine(Project(tmp_path)).run(flow, {})
        assert (record.status, record.outputs) == ("done", {"said": "Hello Ada"})
    finally:
        REGISTRY.pop("demo.greet", None)  # the generated action reference must not list it
