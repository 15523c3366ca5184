"""The documentation's examples load, and the generated action reference is current."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from robots.docs import actions_markdown
from robots.loader import parse_workflow
from robots.model import CONTROL_KEYWORDS
from robots.rules import RuleBook, load_table
from tests.conftest import ROOT

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


def test_the_reference_covers_every_step_kind() -> None:
    text = (ROOT / "docs" / "workflow-language.md").read_text(encoding="utf-8")
    headings = " ".join(re.findall(r"^#+ (.*)$", text, re.M))
    for keyword in [*CONTROL_KEYWORDS, "steps", "retry", "timeout", "on_error", "when"]:
        assert keyword in headings, f"no heading for {keyword!r}"


def test_the_action_reference_is_current() -> None:
    path = ROOT / "docs" / "actions.md"
    assert path.read_text(encoding="utf-8") == actions_markdown(), (
        "docs/actions.md is out of date: run 'python run.py actions --markdown > docs/actions.md'"
    )


def test_examples_were_found() -> None:
    assert len(examples()) >= 20
    assert Path(ROOT / "docs" / "workflow-language.md").exists()
