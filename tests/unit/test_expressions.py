"""Expressions: types kept, env references, undefined names, the sandbox."""

from __future__ import annotations

import pytest

from robots.errors import ExpressionError
from robots.language import expressions


def test_a_single_expression_keeps_its_type() -> None:
    assert expressions.render("{{ input.count }}", {"input": {"count": 3}}) == 3
    assert expressions.render("{{ [1, 2] }}", {}) == [1, 2]
    assert expressions.render(" {{ none }} ", {"none": None}) is None


def test_text_around_an_expression_makes_a_string() -> None:
    assert expressions.render("n={{ n }}", {"n": 3}) == "n=3"
    assert expressions.render("{{ a }}{{ b }}", {"a": 1, "b": 2}) == "12"


def test_render_walks_mappings_and_lists() -> None:
    value = {"a": ["{{ x }}", {"b": "{{ x + 1 }}"}], "c": 5}
    assert expressions.render(value, {"x": 1}) == {"a": [1, {"b": 2}], "c": 5}


def test_env_references_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_URL", "http://crm")
    assert expressions.render("${CRM_URL}/x", {}) == "http://crm/x"
    assert expressions.render("${MISSING_X:-fallback}", {}) == "fallback"
    assert expressions.render("cost: $$5", {}) == "cost: $5"


def test_a_default_may_be_another_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_URL", "http://demo")
    monkeypatch.delenv("CRM_URL_X", raising=False)
    monkeypatch.delenv("OTHER_X", raising=False)
    assert expressions.render("${CRM_URL_X:-${DEMO_URL}}/x", {}) == "http://demo/x"
    assert expressions.render("${CRM_URL_X:-${OTHER_X:-http://local}}", {}) == "http://local"
    assert expressions.env_ref_problem("${CRM_URL_X:-${DEMO_URL}}") is None
    with pytest.raises(ExpressionError, match="OTHER_X is not set"):
        expressions.render("${CRM_URL_X:-${OTHER_X}}", {}, where="system crm")


def test_a_missing_env_variable_says_which_and_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_URL", raising=False)
    with pytest.raises(ExpressionError, match=r"NOPE_URL is not set \(in system crm\).*:-value"):
        expressions.render("${NOPE_URL}", {}, where="system crm")


def test_undefined_name_names_the_name_and_the_step() -> None:
    with pytest.raises(
        ExpressionError, match=r"step 3: 'chek' is undefined.*names defined here: check, input"
    ):
        expressions.render("{{ chek.plausible }}", {"check": {}, "input": {}}, where="step 3")


def test_undefined_attribute_is_an_error_too() -> None:
    with pytest.raises(ExpressionError, match="has no attribute 'emial'"):
        expressions.render("{{ input.emial }}", {"input": {"email": "a@b"}}, where="step 1")


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(ExpressionError):
        expressions.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ 'x' * 10**10 }}", r"step 3: repeating a str of length 1 10000000000 times would make more"),
        ("{{ 10**10 * 'ab' }}", "repeating a str of length 2"),
        ("n: {{ [0] * 2000000 }}", "repeating a list of length 1 2000000 times"),
        ("{{ 9 ** 99999999 }}", r"step 3: 9 \*\* 99999999 would be a number of over 100,000 bits"),
    ],
)
def test_an_expression_cannot_make_a_value_that_would_hold_the_robot(text: str, message: str) -> None:
    """These took minutes and gigabytes (a hung run, then a robot out of memory); now they are errors."""
    with pytest.raises(ExpressionError, match=message):
        expressions.render(text, {}, where="step 3")
    # Loading them does not compute them; validate reports them as visibly unbounded.
    assert "larger than the sandbox allows" in (expressions.syntax_problem(text) or "")


def test_repetition_and_powers_of_sensible_size_still_work() -> None:
    assert expressions.render("{{ '-' * 40 }}", {}) == "-" * 40
    assert expressions.render("{{ 3 * [0] }}", {}) == [0, 0, 0]
    assert expressions.render("{{ 2 ** 64 }}", {}) == 2**64
    assert expressions.render("{{ 1 ** 10**9 }} {{ 2 ** -1 }} {{ 2.5 * 2 }}", {}) == "1 0.5 5.0"
    assert expressions.render("{{ n * m }}", {"n": 6, "m": 7}) == 42


def test_syntax_problems_are_found_without_running() -> None:
    assert expressions.syntax_problem("{{ a | }}") is not None
    assert expressions.syntax_problem("{{ a + 1 }}") is None
    assert expressions.syntax_problem("x {% if a %}y{% endif %}") is None


@pytest.mark.parametrize(
    "text",
    [
        "{% include 'letter.html' %}",
        "x {% import 'm.j2' as m %}{{ m.a }}",
        "{% from 'm' import a %}",
        "{% extends 'b' %}",
    ],
)
def test_a_template_that_loads_a_file_is_a_problem_when_loading(text: str) -> None:
    """These passed validate and failed every case at run time: there are no template files to load."""
    problem = expressions.syntax_problem(text)
    assert problem is not None and "read template files, which expressions have none of" in problem


def test_filters_and_tests() -> None:
    assert expressions.render("{{ '+49 (30) 12-34' | digits }}", {}) == "49301234"
    assert expressions.render("{{ ' Frankfurt  am Main ' | normalize }}", {}) == "frankfurt am main"
    assert expressions.render("{{ '10115' is matching('[0-9]{5}') }}", {}) is True


def test_referenced_names() -> None:
    assert expressions.referenced_names("{{ a.b + c }} {% for x in d %}{{ x }}{% endfor %}") == {
        "a",
        "c",
        "d",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", False),
        ("no", False),
        ("", False),
        ("yes", True),
        (0, False),
        ([1], True),
        (None, False),
        ("0", False),
    ],
)
def test_truthy(value: object, expected: bool) -> None:
    assert expressions.truthy(value) is expected
