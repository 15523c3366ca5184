"""Malformed YAML never crashes the loaders of workflows and rule tables: it always ends in
located problems (and a table that loads decides or says why it cannot)."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robots.errors import DecisionError, Problem
from robots.language.loader import parse_workflow
from robots.language.table_parser import parse_table
from tests.conftest import ROOT

VALID = (ROOT / "workflows" / "examples" / "hello.yaml").read_text(encoding="utf-8")
FUZZ = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

HUGE = 10**400  # no float holds it: every conversion to one overflows
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([HUGE, -HUGE, 2**63, -(2**63) - 1]),
    st.floats(),  # .inf, -.inf and .nan included
    st.text(max_size=20),
    st.sampled_from(["{{ x }}", "{{ x | }}", "${ENV}", "web.fill", "steps", "if", "2s", "-", f"{HUGE}s"]),
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
            "priority",
            "backoff",
            "max_delay",
            "attempts",
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
    assert_all_located(flow, problems, "fuzz.yaml")


def assert_all_located(loaded: object, problems: list[Problem], file: str) -> None:
    """Either something loaded or there are problems, each located in ``file`` and worded."""
    assert loaded is not None or problems, "nothing loaded and no problem"
    for problem in problems:
        assert problem.file == file
        assert problem.line >= 1 and problem.column >= 1
        assert problem.message.strip()


step_bodies = st.one_of(
    st.fixed_dictionaries({"core.sleep": scalars}),
    st.fixed_dictionaries({"core.log": st.just("hi")}),
    st.fixed_dictionaries({"set": st.fixed_dictionaries({"a": scalars})}),
    st.fixed_dictionaries(
        {"fail": st.fixed_dictionaries({"message": st.just("m"), "kind": st.just("system")})}
    ),
    *(
        st.fixed_dictionaries(
            {
                kind: st.fixed_dictionaries(
                    {"queue": st.just("q"), "reason": st.just("r")}, optional={"priority": scalars}
                )
            }
        )
        for kind in ("escalate", "await_human")
    ),
)
retries = st.one_of(
    scalars,
    st.fixed_dictionaries(
        {}, optional={"attempts": scalars, "backoff": scalars, "max_delay": scalars, "factor": scalars}
    ),
)


@st.composite
def workflows_with_odd_values(draw: st.DrawFn) -> dict[str, object]:
    """A workflow that is well formed but for the values of its steps' options."""
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        step = dict(draw(step_bodies))
        step.update(draw(st.fixed_dictionaries({}, optional={"timeout": scalars, "retry": retries})))
        steps.append(step)
    return {"name": "fuzz", "steps": steps, "max_attempts": draw(scalars), "manual_minutes": draw(scalars)}


@FUZZ
@given(workflows_with_odd_values())
def test_odd_values_in_well_formed_workflows(document: object) -> None:
    assert_located(yaml.safe_dump(document, allow_unicode=True))


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


# -- rule tables -------------------------------------------------------------------------------

column_types = st.sampled_from(["string", "integer", "number", "boolean", "list", "any", "numbr"])
input_names = st.sampled_from(["n", "m", "z"])
output_names = st.sampled_from(["out", "v", "w"])
cells = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.sampled_from(
        [
            *("-", ">= 5", "< 2.5", "1-9", "-3-3", "in [a, 1]", "not in [x]", "!= 3", "= x", "< x"),
            *("in a", "{{ n > 1 }}", "{{ n + }}", "{{ n * 1e308 * 10 }}", f"> {HUGE}", f"0-{HUGE}"),
        ]
    ),
)
columns = st.one_of(
    column_types,
    st.fixed_dictionaries(
        {"type": column_types},
        optional={
            "default": scalars,
            "expression": st.sampled_from(["{{ n + 1 }}", "{{ n ** 400 }}", "{{ m | int }}", "{{ }}"]),
            "priority": st.lists(scalars, max_size=3),
        },
    ),
)
tables = st.fixed_dictionaries(
    {
        "name": st.just("t"),
        "inputs": st.dictionaries(input_names, columns, max_size=3),
        "outputs": st.dictionaries(output_names, columns, max_size=2),
        "rules": st.lists(
            st.fixed_dictionaries(
                {"then": st.dictionaries(output_names, scalars, max_size=2)},
                optional={"when": st.dictionaries(input_names, cells, max_size=3)},
            ),
            max_size=4,
        ),
    },
    optional={
        "hit_policy": st.sampled_from(["first", "unique", "priority", "collect", "frist"]),
        "aggregate": st.sampled_from(["sum", "count", "min", "max", "avg"]),
        "default": st.dictionaries(output_names, scalars, max_size=2),
        "examples": st.lists(
            st.fixed_dictionaries(
                {
                    "input": st.dictionaries(input_names, scalars, max_size=3),
                    "output": st.one_of(scalars, st.dictionaries(output_names, scalars, max_size=2)),
                }
            ),
            max_size=3,
        ),
    },
)


@st.composite
def well_formed_tables(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object]]:
    """A table that loads but for its values (every input typed and given in every example),
    and inputs for every one of its inputs."""
    names = draw(st.lists(input_names, min_size=1, max_size=3, unique=True))
    types = {name: draw(st.sampled_from(["integer", "number", "any", "string", "boolean"])) for name in names}
    examples = [
        {"input": {name: draw(scalars) for name in names}, "output": {"out": draw(scalars)}}
        for _ in range(draw(st.sampled_from([0, 0, 1])))
    ]
    table = {
        "name": "t",
        "hit_policy": draw(st.sampled_from(["first", "collect"])),
        "aggregate": draw(st.sampled_from([None, "sum", "min", "max"])),
        "inputs": types,
        "outputs": {"out": "any"},
        "rules": [
            {
                "when": draw(st.dictionaries(st.sampled_from(names), cells, max_size=2)),
                "then": {"out": draw(scalars)},
            }
            for _ in range(draw(st.integers(1, 3)))
        ],
        "default": {"out": "none"},
        "examples": examples,
    }
    return table, {name: draw(scalars) for name in names}


def assert_table_located(text: str) -> None:
    table, problems = parse_table(text, "fuzz_table.yaml")
    assert_all_located(table, problems, "fuzz_table.yaml")


@FUZZ
@given(
    st.one_of(
        st.tuples(tables, st.fixed_dictionaries({}, optional=dict.fromkeys("nmz", scalars))),
        well_formed_tables(),
    )
)
def test_random_rule_tables_load_or_say_why_and_decide_or_say_why(
    case: tuple[dict[str, object], dict[str, object]],
) -> None:
    table, inputs = case
    text = yaml.safe_dump(table, allow_unicode=True)
    assert_table_located(text)
    loaded, _ = parse_table(text, "fuzz_table.yaml")
    if loaded is not None:
        try:
            loaded.decide(inputs)
        except DecisionError as error:
            assert str(error).strip()


@FUZZ
@given(documents)
def test_random_structures_as_rule_tables(document: object) -> None:
    assert_table_located(yaml.safe_dump(document, allow_unicode=True))
