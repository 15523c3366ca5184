"""Malformed YAML never crashes the loader: it always ends in located problems."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robots.loader import parse_workflow
from tests.conftest import ROOT

VALID = (ROOT / "workflows" / "examples" / "hello.yaml").read_text(encoding="utf-8")
FUZZ = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["{{ x }}", "{{ x | }}", "${ENV}", "web.fill", "steps", "if", "2s", "-"]),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "name",
            "steps",
            "input",
            "systems",
            "set",
            "if",
            "then",
            "else",
            "for_each",
            "in",
            "call",
            "decide",
            "with",
            "as",
            "retry",
            "timeout",
            "on_error",
            "when",
            "escalate",
            "await_human",
            "callout",
            "output",
            "fail",
            "core.log",
            "core.sleep",
            "id",
            "form",
            "queue",
            "reason",
            "type",
            "pattern",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)


def assert_located(text: str) -> None:
    flow, problems = parse_workflow(text, "fuzz.yaml")
    assert flow is not None or problems, "no workflow and no problem"
    for problem in problems:
        assert problem.file == "fuzz.yaml"
        assert problem.line >= 1 and problem.column >= 1
        assert problem.message.strip()


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    assert_located(text)


@FUZZ
@given(documents)
def test_random_structures(document: object) -> None:
    assert_located(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(st.data())
def test_mutated_valid_workflow(data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, max(0, len(text) - 1)))
        operation = data.draw(st.sampled_from(["delete", "insert", "duplicate", "indent"]))
        if operation == "delete":
            text = text[:position] + text[position + 1 :]
        elif operation == "insert":
            text = (
                text[:position]
                + data.draw(
                    st.sampled_from(
                        [":", "-", " ", "\t", "{", "[", "'", "&a", "*a", "!!python/object:os.system", "\n"]
                    )
                )
                + text[position:]
            )
        elif operation == "duplicate":
            text = text[:position] + text[position : position + 20] + text[position:]
        else:
            line_start = text.rfind("\n", 0, position) + 1
            text = text[:line_start] + "  " + text[line_start:]
    assert_located(text)


def test_alias_bombs_and_recursion_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(7)
    )
    flow, problems = parse_workflow(bomb, "bomb.yaml")
    assert flow is None and problems
    flow, problems = parse_workflow("&a [*a]", "loop.yaml")
    assert flow is None and problems
