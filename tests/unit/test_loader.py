"""The loader: every step kind parses; every problem is reported, located, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from robots.errors import DefinitionError
from robots.loader import load_workflow
from robots.model import (
    ActionStep,
    AwaitHumanStep,
    BlockStep,
    CalloutStep,
    CallStep,
    DecideStep,
    EscalateStep,
    FailStep,
    ForEachStep,
    IfStep,
    InStep,
    OutputStep,
    SetStep,
)
from robots.project import Project
from robots.registry import ActionContext, ActionParams, action
from tests.conftest import load_text, steps_workflow, write


class _PageParams(ActionParams):
    label: str
    value: str = ""


@action("testweb.fill", needs="web")
def _testweb_fill(ctx: ActionContext, params: _PageParams) -> None:
    """A web action for loader tests."""


def problems_of(text: str) -> list[str]:
    flow, problems = load_text(text)
    assert flow is None or not problems
    return [f"{p.line}:{p.column}: {p.message} | {p.hint}" for p in problems]


# -- every step kind ---------------------------------------------------------------------------


def test_action_steps_in_their_three_forms() -> None:
    flow = steps_workflow("""
        - core.log: {message: hi, level: warning}
        - core.log: short form
        - core.sleep: 1s
          as: slept
    """)
    first, second, third = flow.steps
    assert isinstance(first, ActionStep) and first.params == {"message": "hi", "level": "warning"}
    assert isinstance(second, ActionStep) and second.params == {"message": "short form"}
    assert isinstance(third, ActionStep) and third.as_ == "slept"


def test_every_control_step_kind_parses() -> None:
    flow = steps_workflow(
        """
        - decide: postal_code_supplier
          with: {postal_code: "{{ input.pc }}"}
          as: supplier
        - set: {a: 1}
        - if: a == 1
          then: [{set: {b: 2}}]
          else: [{set: {b: 3}}]
        - for_each: [1, 2]
          as: n
          steps: [{core.log: "{{ n }}"}]
        - call: other
          with: {x: 1}
          as: result
        - in: crm
          steps: [{core.log: inside}]
        - steps: [{core.log: grouped}]
          retry: 2
        - escalate: {queue: review, reason: why}
        - await_human: {queue: q, reason: pick, form: [{name: slot, type: choice, choices: [a, b]}]}
          as: picked
        - callout: Customer on the line
        - output: {b: "{{ b }}"}
        - fail: nope
    """,
        header="input: {pc: string}\nsystems:\n  crm: {kind: web, url: 'http://x'}\n",
    )
    kinds = [type(step) for step in flow.steps]
    assert kinds == [
        DecideStep,
        SetStep,
        IfStep,
        ForEachStep,
        CallStep,
        InStep,
        BlockStep,
        EscalateStep,
        AwaitHumanStep,
        CalloutStep,
        OutputStep,
        FailStep,
    ]
    assert flow.steps[2].if_ == "{{ a == 1 }}"  # a bare condition becomes an expression
    assert flow.steps[6].retry is not None and flow.steps[6].retry.attempts == 2
    callout = flow.steps[9]
    assert isinstance(callout, CalloutStep) and callout.callout.title == "Customer on the line"
    fail = flow.steps[11]
    assert isinstance(fail, FailStep) and fail.fail.kind == "business"


def test_common_keys_and_durations() -> None:
    flow = steps_workflow("""
        - id: slow_one
          name: A slow step
          core.sleep: 0
          timeout: 500ms
          retry: {attempts: 4, backoff: 2s, max_delay: 1m}
          on_error:
            - core.log: handled
    """)
    step = flow.steps[0]
    assert step.id == "slow_one" and step.timeout == 0.5
    assert step.retry is not None and (step.retry.backoff, step.retry.max_delay) == (2.0, 60.0)
    assert step.on_error is not None and len(step.on_error) == 1


def test_when_inside_action_params_or_escalate_is_the_steps_condition() -> None:
    flow = steps_workflow(
        """
        - core.log: {message: hi, when: "{{ input.x }}"}
        - escalate: {queue: q, reason: r, when: not input.x}
    """,
        header="input: {x: {type: boolean}}\n",
    )
    log, escalate = flow.steps
    assert log.when == "{{ input.x }}" and "when" not in log.params
    assert escalate.when == "{{ not input.x }}"


def test_the_model_is_immutable() -> None:
    flow = steps_workflow("- set: {a: 1}")
    with pytest.raises(Exception, match="frozen"):
        flow.name = "other"  # type: ignore[misc]
    assert isinstance(flow, BaseModel)


# -- every kind of problem --------------------------------------------------------------------------


def test_unknown_action_suggests_the_closest() -> None:
    assert problems_of("name: t\nsteps:\n  - core.lgo: hi\n") == [
        "3:5: unknown action 'core.lgo' | did you mean 'core.log'?"
    ]


def test_unknown_and_missing_parameters() -> None:
    found = problems_of("name: t\nsteps:\n  - core.log: {mesage: hi}\n")
    assert "3:16: unknown parameter 'mesage' for core.log | did you mean 'message'?" in found
    assert "3:5: core.log needs the parameter 'message' | add 'message: ...' (see 'run.py actions')" in found


def test_wrong_parameter_type_shows_the_value() -> None:
    found = problems_of("name: t\nsteps:\n  - core.log: {message: hi, level: loud}\n")
    assert len(found) == 1 and found[0].startswith("3:29: parameter 'level' of core.log")
    assert "'loud'" in found[0]


HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("step", "where"),
    [
        (f"core.sleep: {HUGE}", "3:5"),
        (f"core.log: hi\n    timeout: {HUGE}", "4:5"),
        ("core.log: hi\n    timeout: .inf", "4:5"),
        ("core.log: hi\n    timeout: .nan", "4:5"),
        (f"core.log: hi\n    timeout: {HUGE}s", "4:5"),
        (f"core.log: hi\n    timeout: -{HUGE}", "4:5"),
        ("core.log: hi\n    timeout: 25h", "4:5"),
        (f"core.log: hi\n    retry: {{attempts: 2, backoff: {HUGE}}}", "4:26"),
        ("core.log: hi\n    retry: {attempts: 2, max_delay: 1.0e+300}", "4:26"),
    ],
)
def test_huge_infinite_or_undefined_durations_are_located_problems(step: str, where: str) -> None:
    found = problems_of(f"name: t\nsteps:\n  - {step}\n")
    assert len(found) == 1, found
    assert found[0].startswith(f"{where}:"), found
    assert "at most 1 day" in found[0] or "finite number" in found[0] or "negative" in found[0]
    assert len(found[0]) < 300  # a 400-digit value is shortened, not printed whole


def test_a_duration_of_one_day_is_the_longest() -> None:
    flow = steps_workflow("- core.log: hi\n  timeout: 24h\n  retry: {attempts: 2, max_delay: 86400}")
    assert flow.steps[0].timeout == 86_400.0


def test_a_value_error_names_the_value_once() -> None:
    (sleep,) = problems_of("name: t\nsteps:\n  - core.sleep: abc\n")
    assert sleep.count("got 'abc'") == 1
    (timeout,) = problems_of("name: t\nsteps:\n  - core.log: hi\n    timeout: 2d\n")
    assert timeout.count("got '2d'") == 1


@pytest.mark.parametrize("kind", ["escalate", "await_human"])
@pytest.mark.parametrize("priority", ["high", "2.5", "1001", HUGE, ".inf", "true"])
def test_a_task_priority_is_a_whole_number_or_an_expression(kind: str, priority: str) -> None:
    (found,) = problems_of(f"name: t\nsteps:\n  - {kind}: {{queue: q, reason: r, priority: {priority}}}\n")
    assert found.startswith(f"3:{len(kind) + 29}: {kind} step '{kind}.priority'"), found
    assert "a priority is a whole number from -1000 to 1000" in found


def test_a_task_priority_may_be_a_number_text_or_an_expression() -> None:
    flow = steps_workflow("""
        - escalate: {queue: q, reason: r, priority: 50, when: "{{ false }}"}
        - escalate: {queue: q, reason: r, priority: "-5", when: "{{ false }}"}
        - escalate: {queue: q, reason: r, priority: "{{ 7 }}"}
    """)
    assert [step.escalate.priority for step in flow.steps] == [50, -5, "{{ 7 }}"]  # type: ignore[attr-defined]


def test_template_values_are_checked_when_they_run() -> None:
    assert problems_of("name: t\nsteps:\n  - core.sleep: '{{ 1 + 1 }}'\n") == []


def test_bad_expression_syntax() -> None:
    found = problems_of("name: t\nsteps:\n  - set: {a: '{{ 1 + }}'}\n")
    assert len(found) == 1 and found[0].startswith("3:11: bad expression syntax")


def test_undefined_name_with_suggestion() -> None:
    found = problems_of("""name: t
steps:
  - set: {check: 1}
  - core.log: "{{ chek }}"
""")
    assert found == [
        "4:5: name 'chek' in '{{ chek }}' is not defined anywhere in this workflow | did you mean 'check'?"
    ]


def test_unknown_step_key_suggests_and_two_kinds_in_one_step() -> None:
    found = problems_of("""name: t
steps:
  - set: {a: 1}
    wehn: a
  - set: {a: 1}
    core.log: two
""")
    assert "4:5: unknown key 'wehn' in set step | did you mean 'when'?" in found
    assert any(p.startswith("5:5: a step does one thing, this one has set, core.log") for p in found)


def test_a_step_that_is_not_a_mapping() -> None:
    found = problems_of("name: t\nsteps:\n  - 42\n")
    assert found == [
        "3:5: a step must be a mapping like '- web.goto: /url', got 42 | "
        "start the step with an action name or a keyword (set, if, decide...)"
    ]


def test_unknown_top_level_key_and_missing_name_and_steps() -> None:
    found = problems_of("descripton: x\n")
    assert "1:1: unknown key 'descripton' in the workflow | did you mean 'description'?" in found
    assert any("needs a 'name'" in p for p in found)
    assert any("needs 'steps'" in p for p in found)


def test_undeclared_system_and_actions_outside_their_system() -> None:
    found = problems_of("""name: t
systems:
  crm: {kind: web, url: "http://x"}
  term: {kind: desktop, program: xterm}
steps:
  - in: crn
    steps: [{core.log: x}]
  - testweb.fill: {label: Street}
  - in: term
    steps:
      - testweb.fill: {label: Street}
""")
    assert "6:5: system 'crn' is not declared | did you mean 'crm'?" in found
    assert (
        "8:5: testweb.fill needs a web system | put it inside an 'in: <system>' block of a web system"
        in found
    )
    assert any(
        p.startswith("11:9: testweb.fill is a web action, but 'term' is a desktop system") for p in found
    )


def test_await_human_inside_a_system_block_is_refused() -> None:
    found = problems_of("""name: t
systems: {crm: {kind: web}}
steps:
  - in: crm
    steps:
      - await_human: {queue: q, reason: r}
""")
    assert len(found) == 1 and found[0].startswith("6:9: await_human inside 'in: crm'")


def test_duplicate_ids_and_reserved_names() -> None:
    found = problems_of("""name: t
steps:
  - id: a
    set: {input: 1}
  - id: a
    set: {b: 1}
""")
    assert "3:5: 'input' is a name the engine provides and cannot be set | choose another name" in found
    assert "5:5: step id 'a' is used twice | give each step its own id" in found


def test_yaml_level_problems() -> None:
    assert problems_of("name: t\nname: u\nsteps: []\n") == [
        "2:1: duplicate key 'name' | remove one of the two"
    ]
    tab = problems_of("name: t\nsteps:\n\t- set: {a: 1}\n")
    assert len(tab) == 1 and tab[0].startswith("3:1: invalid YAML") and "tabs" in tab[0]
    broken = problems_of("name: t\nsteps: [\n")
    assert len(broken) == 1 and "invalid YAML" in broken[0]
    assert problems_of("") == [
        "1:1: a workflow file must be a mapping with name and steps, got an empty file | "
        "start with 'name: my_process' and 'steps:'"
    ]


def test_bad_input_fields() -> None:
    found = problems_of("""name: t
input:
  a: {type: strng}
  b: {pattern: "[0-9"}
steps: []
""")
    assert any(p.startswith("3:7: input field 'a' 'type'") and "'strng'" in p for p in found), found
    assert any(p.startswith("4:7: input field 'b' 'pattern'") and "regular expression" in p for p in found), (
        found
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml",
        """
        name: bad
        steps:
          - core.lgo: x
          - set: {a: "{{ 1 + }}"}
          - if: a
          - in: nowhere
            steps: []
          - output: {x: "{{ zzz }}"}
    """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_workflow(path)
    lines = sorted(p.line for p in raised.value.problems)
    assert lines == [3, 4, 5, 6, 8], raised.value
    assert all(p.file == str(path) for p in raised.value.problems)
    assert str(raised.value).startswith("5 problems found:")


# -- references across files --------------------------------------------------------------------


def test_unknown_rule_table_and_call_target(project: Project) -> None:
    write(
        project.rules_dir / "postal_code_supplier.yaml",
        """
        name: postal_code_supplier
        inputs: {postal_code: string}
        outputs: {supplier: string}
        rules: [{when: {postal_code: "-"}, then: {supplier: a}}]
    """,
    )
    write(project.workflows_dir / "helper.yaml", "name: helper\nsteps: [{set: {a: 1}}]\n")
    path = write(
        project.workflows_dir / "main.yaml",
        """
        name: main
        steps:
          - decide: postal_code_suplier
          - call: helpr
    """,
    )
    found = [(p.line, p.message, p.hint) for p in project.validate([path])]
    assert (3, "unknown rule table 'postal_code_suplier'", "did you mean 'postal_code_supplier'?") in found
    assert (4, "call target 'helpr' is not a workflow of this project", "did you mean 'helper'?") in found


def test_call_cycles_are_found(project: Project) -> None:
    write(project.workflows_dir / "a.yaml", "name: a\nsteps:\n  - call: b\n")
    write(project.workflows_dir / "b.yaml", "name: b\nsteps:\n  - call: a\n")
    found = project.validate([project.workflows_dir / "a.yaml"])
    assert [p.message for p in found] == ["call cycle: a -> b -> a"]


def test_the_real_project_validates() -> None:
    from tests.conftest import ROOT

    assert Project(ROOT).validate() == []
