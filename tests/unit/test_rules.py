"""Decision tables: every hit policy, every condition form, every load problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from robots.errors import DecisionError, DefinitionError
from robots.language.rules import RuleBook
from robots.language.table_parser import load_table
from tests.conftest import write


def table(tmp_path: Path, text: str, name: str = "t") -> Path:
    return write(tmp_path / f"{name}.yaml", text)


BASE = """
name: t
hit_policy: {policy}
inputs:
  n: {{type: number}}
  code: {{type: string}}
outputs:
  out: {{type: string{priority}}}
rules:
  - when: {{n: "< 10"}}
    then: {{out: small}}
  - when: {{n: "5-20"}}
    then: {{out: medium}}
  - when: {{code: "in [x, y]"}}
    then: {{out: coded}}
"""


def make(tmp_path: Path, policy: str, priority: str = "", default: str = "") -> object:
    return load_table(table(tmp_path, BASE.format(policy=policy, priority=priority) + default))


def test_first_takes_the_first_match(tmp_path: Path) -> None:
    assert make(tmp_path, "first").decide({"n": 7, "code": "x"}) == {"out": "small"}  # type: ignore[attr-defined]


def test_unique_refuses_two_matches_naming_their_lines(tmp_path: Path) -> None:
    decision = make(tmp_path, "unique")
    assert decision.decide({"n": 15, "code": "z"}) == {"out": "medium"}  # type: ignore[attr-defined]
    with pytest.raises(DecisionError, match="rules on lines 9, 11 all match"):
        decision.decide({"n": 7, "code": "z"})  # type: ignore[attr-defined]


def test_priority_takes_the_highest_ranked_output(tmp_path: Path) -> None:
    decision = make(tmp_path, "priority", priority=", priority: [coded, medium, small]")
    assert decision.decide({"n": 7, "code": "y"}) == {"out": "coded"}  # type: ignore[attr-defined]
    assert decision.decide({"n": 7, "code": "z"}) == {"out": "medium"}  # type: ignore[attr-defined]


def test_collect_returns_every_match_or_an_aggregate(tmp_path: Path) -> None:
    decision = make(tmp_path, "collect")
    assert decision.decide({"n": 7, "code": "x"}) == [{"out": "small"}, {"out": "medium"}, {"out": "coded"}]  # type: ignore[attr-defined]
    assert decision.decide({"n": 70, "code": "q"}) == []  # type: ignore[attr-defined]
    counted = load_table(
        table(tmp_path, BASE.format(policy="collect", priority="") + "aggregate: count\n", "c")
    )
    assert counted.decide({"n": 7, "code": "x"}) == 3


def test_no_match_uses_the_default_or_is_a_business_error(tmp_path: Path) -> None:
    with pytest.raises(DecisionError, match=r"no rule matches n=99\.0, code='q'"):
        make(tmp_path, "first").decide({"n": 99, "code": "q"})  # type: ignore[attr-defined]
    with_default = make(tmp_path, "first", default="default: {out: other}\n")
    assert with_default.decide({"n": 99, "code": "q"}) == {"out": "other"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cell", "value", "matches"),
    [
        ("-", "anything", True),
        ("01000-01999", "01067", True),
        ("01000-01999", "02000", False),
        (">= 5000", 5000, True),
        ("< 5", 5, False),
        ("!= A", "B", True),
        ("in [A, B]", "b", True),
        ("not in [A, B]", "C", True),
        (["A", "B"], "A", True),
        ("{{ v | length > 3 }}", "abcd", True),
        (True, True, True),
        ("nordlog", "NordLog", True),
    ],
)
def test_condition_forms(tmp_path: Path, cell: object, value: object, matches: bool) -> None:
    import json

    kind = "boolean" if isinstance(value, bool) else "number" if isinstance(value, int) else "string"
    decision = load_table(
        table(
            tmp_path,
            f"""
        name: t
        inputs: {{v: {{type: {kind}}}}}
        outputs: {{hit: {{type: boolean}}}}
        rules:
          - when: {{v: {json.dumps(cell)}}}
            then: {{hit: true}}
        default: {{hit: false}}
    """,
        )
    )
    assert decision.decide({"v": value}) == {"hit": matches}


def test_derived_inputs_and_template_outputs(tmp_path: Path) -> None:
    decision = load_table(
        table(
            tmp_path,
            """
        name: t
        inputs:
          first: {type: string}
          last: {type: string}
          full: {type: string, expression: "{{ first }} {{ last }}"}
        outputs: {greeting: {type: string}}
        rules:
          - when: {full: "{{ full | length > 3 }}"}
            then: {greeting: "Hello {{ full }}"}
    """,
        )
    )
    assert decision.decide({"first": "Ada", "last": "Lovelace"}) == {"greeting": "Hello Ada Lovelace"}


def test_wrong_input_type_is_named(tmp_path: Path) -> None:
    with pytest.raises(DecisionError, match="input 'n' must be number, got 'many'"):
        make(tmp_path, "first").decide({"n": "many", "code": "x"})  # type: ignore[attr-defined]


HUGE = 10**400


@pytest.mark.parametrize(
    ("inputs", "name"),
    [
        ({"n": HUGE, "code": "q"}, "n"),  # an int too large for a float
        ({"n": "1" + "0" * 400, "code": "q"}, "n"),  # digits that make an infinite float
        ({"n": float("inf"), "code": "q"}, "n"),
    ],
)
def test_a_number_nothing_can_compute_with_is_a_decision_error(
    tmp_path: Path, inputs: dict[str, object], name: str
) -> None:
    with pytest.raises(DecisionError, match=f"input {name!r} is not a number it can use"):
        make(tmp_path, "first").decide(inputs)  # type: ignore[attr-defined]


def test_an_infinite_integer_input_is_a_decision_error(tmp_path: Path) -> None:
    decision = load_table(
        table(
            tmp_path,
            """
            name: t
            inputs: {n: integer}
            outputs: {out: string}
            rules: [{when: {n: ">= 1000"}, then: {out: big}}]
            default: {out: small}
        """,
        )
    )
    with pytest.raises(DecisionError, match="input 'n' is not a number it can use"):
        decision.decide({"n": float("inf")})
    assert decision.decide({"n": HUGE}) == {"out": "big"}  # a large int is still an int


def test_huge_untyped_values_are_compared_exactly(tmp_path: Path) -> None:
    decision = load_table(
        table(
            tmp_path,
            """
            name: t
            inputs: {v: any}
            outputs: {out: string}
            rules:
              - when: {v: "< 5.5"}
                then: {out: small}
              - when: {v: "5.5-9"}
                then: {out: medium}
            default: {out: large}
        """,
        )
    )
    assert decision.decide({"v": HUGE}) == {"out": "large"}
    assert decision.decide({"v": -HUGE}) == {"out": "small"}


def test_a_sum_too_large_is_a_decision_error(tmp_path: Path) -> None:
    decision = load_table(
        table(
            tmp_path,
            f"""
            name: t
            hit_policy: collect
            aggregate: sum
            inputs: {{n: number}}
            outputs: {{v: any}}  # a number output refuses the huge one when the table loads
            rules:
              - then: {{v: {HUGE}}}
              - then: {{v: 1.5}}
        """,
        )
    )
    with pytest.raises(DecisionError, match="is too large"):
        decision.decide({"n": 1})


@pytest.mark.parametrize(
    ("column", "value"), [("number", "1" + "0" * 400), ("number", ".inf"), ("integer", ".inf")]
)
def test_examples_with_numbers_nothing_can_use_are_located_problems(
    tmp_path: Path, column: str, value: str
) -> None:
    path = table(
        tmp_path,
        f"""
        name: t
        inputs: {{amount: {column}}}
        outputs: {{size: string}}
        rules: [{{when: {{amount: ">= 1000"}}, then: {{size: big}}}}]
        default: {{size: small}}
        examples:
          - input: {{amount: {value}}}
            output: {{size: big}}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    (problem,) = raised.value.problems
    assert problem.line == 7 and "is not a number it can use" in problem.message
    assert len(problem.message) < 600


def test_an_example_that_raises_is_a_located_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robots.language.decision_tables import DecisionTable

    def broken(self: DecisionTable, inputs: object) -> object:
        raise ValueError("a rule function's bug")

    monkeypatch.setattr(DecisionTable, "decide", broken)
    path = table(
        tmp_path,
        """
        name: t
        inputs: {n: number}
        outputs: {out: string}
        rules: [{then: {out: a}}]
        examples:
          - input: {n: 1}
            output: {out: a}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    (problem,) = raised.value.problems
    assert problem.line == 6
    assert problem.message == "example {'n': 1} cannot be evaluated: ValueError: a rule function's bug"


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("10-", "'10-' looks like a range without its end: write e.g. 10-20, or >= 10"),
        ("= ", "comparison '= ' has nothing after =: write e.g. = 10"),
        (">=", "comparison '>=' has nothing after >=: write e.g. >= 10"),
    ],
)
def test_an_unfinished_condition_cell_is_a_problem_not_a_text_to_match(
    tmp_path: Path, cell: str, message: str
) -> None:
    """Such a cell was taken as a literal text to compare with, so the rule never matched."""
    path = table(
        tmp_path,
        f"""
        name: t
        inputs: {{n: {{type: number}}}}
        outputs: {{out: {{type: string}}}}
        rules:
          - when: {{n: "{cell}"}}
            then: {{out: a}}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    (problem,) = raised.value.problems
    assert problem.line == 5 and message in problem.message


def test_every_load_problem_is_located(tmp_path: Path) -> None:
    path = table(
        tmp_path,
        """
        name: t
        hit_policy: frist
        inputs: {n: {type: numbr}}
        outputs: {out: {type: string}}
        rules:
          - when: {m: 1}
            then: {out: a}
          - when: {n: "< x"}
            then: {outt: b}
          - when: {n: "{{ n + }}"}
            then: {out: c}
        examples:
          - input: {n: 1}
            output: {out: z}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    found = {
        (p.line, p.message.split(":")[0] if "hit policy" in p.message else p.message, p.hint)
        for p in raised.value.problems
    }
    messages = " | ".join(f"{p.line}:{p.message}:{p.hint}" for p in raised.value.problems)
    assert "2:unknown hit policy 'frist':did you mean 'first'?" in messages
    assert "3:inputs.n.type" in messages
    assert "6:condition on 'm', which is not a declared input" in messages
    assert "8:comparison '< x' needs a number after <" in messages
    assert "9:'outt' is not a declared output:did you mean 'out'?" in messages
    assert "10:bad expression syntax" in messages
    assert found


def test_examples_are_checked(tmp_path: Path) -> None:
    path = table(
        tmp_path,
        """
        name: t
        inputs: {n: number}
        outputs: {out: string}
        rules:
          - when: {n: "< 10"}
            then: {out: small}
        default: {out: big}
        examples:
          - input: {n: 1}
            output: {out: small}
          - input: {n: 50}
            output: {out: small}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    (problem,) = raised.value.problems
    assert problem.line == 11 and "gives {'out': 'big'}, expected {'out': 'small'}" in problem.message


def test_priority_needs_a_priority_list(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="priority needs a 'priority' list"):
        make(tmp_path, "priority")


def test_rulebook_python_decisions_functions_and_suggestions(tmp_path: Path) -> None:
    write(
        tmp_path / "bonus.py",
        """
        from robots.language.rules import decision, rule_function

        @rule_function("double_it")
        def double_it(n):
            return n * 2

        @decision("bonus_level")
        def bonus_level(revenue):
            return {"level": "gold" if revenue > 1000 else "none"}
    """,
    )
    write(
        tmp_path / "doubled.yaml",
        """
        name: doubled
        inputs: {n: integer, d: {type: integer, expression: "{{ double_it(n) }}"}}
        outputs: {d: integer}
        rules: [{then: {d: "{{ d }}"}}]
    """,
    )
    book = RuleBook(tmp_path)
    assert book.problems() == []
    assert book.decide("bonus_level", {"revenue": 5000}) == {"level": "gold"}
    assert book.decide("doubled", {"n": 4}) == {"d": 8}
    with pytest.raises(DefinitionError, match="did you mean 'doubled'"):
        book.decide("dubled", {})


def test_a_broken_rule_module_is_a_located_problem(tmp_path: Path) -> None:
    write(tmp_path / "broken_rules_mod.py", "x = (\n")
    problems = RuleBook(tmp_path).problems()
    assert len(problems) == 1 and problems[0].file.endswith("broken_rules_mod.py")
    assert "cannot import rule module: SyntaxError" in problems[0].message


def test_literal_outputs_are_checked_against_their_types_when_loading(tmp_path: Path) -> None:
    path = write(
        tmp_path / "typed.yaml",
        """
        name: typed
        inputs: {a: string}
        outputs: {x: integer, ok: boolean, rate: {type: number, default: high}}
        rules:
          - when: {a: one}
            then: {x: not-a-number, ok: maybe}
          - when: {a: two}
            then: {x: 2.5, ok: true}
        default: {x: "7", ok: "no"}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    found = [f"{p.line}:{p.column}: {p.message} | {p.hint}" for p in raised.value.problems]
    fix = "or change the type under 'outputs:'"
    assert found == [
        f"3:57: output 'rate' is declared number, got 'high' | write a number, e.g. 3 or 2.5, {fix}",
        f"6:12: output 'x' is declared integer, got 'not-a-number' | write a whole number, e.g. 3, {fix}",
        f"6:29: output 'ok' is declared boolean, got 'maybe' | write true or false, {fix}",
        f"8:12: output 'x' is declared integer, got 2.5 | write a whole number, e.g. 3, {fix}",
    ]


def test_outputs_are_converted_to_their_declared_types(tmp_path: Path) -> None:
    path = write(
        tmp_path / "typed.yaml",
        """
        name: typed
        inputs: {a: string}
        outputs: {x: integer, ok: boolean, label: string, doubled: integer}
        rules:
          - when: {a: one}
            then: {x: "3", ok: "true", label: 42, doubled: "{{ a | length * 2 }}"}
          - when: {a: bad}
            then: {x: 1, doubled: "{{ a }}"}
        default: {x: 7.0, ok: false}
    """,
    )
    table = load_table(path)
    assert table.decide({"a": "one"}) == {"x": 3, "ok": True, "label": "42", "doubled": 6}
    assert table.decide({"a": "other"}) == {"x": 7, "ok": False, "label": None, "doubled": None}
    with pytest.raises(DecisionError, match="output 'doubled' must be integer, got 'bad'"):
        table.decide({"a": "bad"})


def test_an_unknown_key_lists_the_keys_allowed_when_nothing_is_close(tmp_path: Path) -> None:
    path = table(
        tmp_path,
        """
        name: t
        inputs: {n: number}
        outputs: {out: string}
        rules:
          - when: {n: 1}
            then: {out: a}
            zzz: 1
        colour: red
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    hints = {p.message: p.hint for p in raised.value.problems}
    assert hints["unknown key 'zzz' in a rule"] == "allowed here: note, then, when"
    assert hints["unknown key 'colour' in the decision table"].startswith("allowed here: aggregate, default")


def test_a_table_problem_without_a_specific_fix_points_to_the_business_rules() -> None:
    from robots.language.decision_tables import Column
    from robots.language.explain import RULES_DOCS, fix_hint

    hint = fix_hint({"type": "value_error", "loc": ("expression",)}, Column, reference=RULES_DOCS)
    assert hint == "see docs/business-rules.md for what this key takes"


def test_a_long_output_value_of_the_wrong_type_is_shortened(tmp_path: Path) -> None:
    path = table(
        tmp_path,
        """
        name: t
        inputs: {a: string}
        outputs: {n: integer}
        rules:
          - then: {n: "{{ a }}"}
    """,
    )
    with pytest.raises(
        DecisionError, match=r"output 'n' must be integer, got 'xxx.*\.\.\. \(502 characters\)$"
    ):
        load_table(path).decide({"a": "x" * 500})


def test_an_example_with_a_number_for_a_name_is_checked_not_a_crash(tmp_path: Path) -> None:
    path = table(
        tmp_path,
        """
        name: t
        inputs: {a: integer}
        outputs: {o: integer}
        rules: [{then: {o: 1}}]
        examples:
          - input: {1: 5}
            output: {o: 1}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_table(path)
    assert ":6:" in str(raised.value) or ":7:" in str(raised.value), raised.value


def test_a_rule_module_that_exits_is_a_problem_not_the_end(tmp_path: Path) -> None:
    write(tmp_path / "bye.py", "import sys\nsys.exit(3)\n")
    problems = RuleBook(tmp_path).problems()
    assert any("cannot import rule module: SystemExit: 3" in p.message for p in problems), problems
