"""The loader: every step kind parses; every problem is reported, located, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from robots.errors import DefinitionError
from robots.language.loader import load_workflow
from robots.language.model import SystemSpec, url_pattern
from robots.language.project import Project
from robots.language.registry import ActionContext, ActionParams, action
from robots.language.steps import (
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
from tests.conftest import load_text, steps_workflow, workflow, write


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
    flow = steps_workflow(
        """
        - set: {a: 1, nested: {b: [1, 2]}}
        - core.log: {message: hi}
        - await_human: {queue: q, reason: r, form: [{name: slot, type: choice, choices: [x, y]}]}
    """,
        header="input:\n  b: {type: string, enum: [u, v]}\n",
    )
    with pytest.raises(Exception, match="frozen"):
        flow.name = "other"  # type: ignore[misc]
    assert isinstance(flow, BaseModel)
    set_step, log, ask = flow.steps
    assert isinstance(set_step, SetStep) and isinstance(log, ActionStep) and isinstance(ask, AwaitHumanStep)
    changes = [
        lambda: set_step.set.__setitem__("y", 2),
        lambda: set_step.set["nested"].update(c=3),
        lambda: set_step.set["nested"]["b"].append(3),
        lambda: log.params.pop("message"),
        lambda: flow.input.__setitem__("b", None),
        lambda: flow.input["b"].enum.append("w"),  # type: ignore[union-attr]
        lambda: ask.await_human.form[0].choices.append("z"),  # type: ignore[union-attr]
    ]
    for change in changes:
        with pytest.raises((TypeError, AttributeError)):
            change()
    assert set_step.set == {"a": 1, "nested": {"b": (1, 2)}} and dict(flow.input) == {"b": flow.input["b"]}


def test_a_frozen_workflow_still_dumps_copies_pickles_and_runs(tmp_path: Path) -> None:
    import copy
    import json
    import pickle

    from robots.language.schema import workflow_schema

    flow = steps_workflow("- set: {a: 1, nested: {b: [1, 2]}}\n- output: {n: '{{ nested.b | length }}'}")
    dumped = flow.model_dump(mode="json", by_alias=True)
    assert dumped["steps"][0]["set"] == {"a": 1, "nested": {"b": [1, 2]}}
    assert json.loads(flow.model_dump_json(by_alias=True)) == dumped
    assert json.loads(json.dumps(flow.steps[0].set)) == {"a": 1, "nested": {"b": [1, 2]}}
    for twin in (pickle.loads(pickle.dumps(flow)), copy.deepcopy(flow)):
        assert twin == flow
        with pytest.raises(TypeError):
            twin.steps[0].set["y"] = 2  # type: ignore[attr-defined]
    mutable = dict(flow.steps[0].set)  # type: ignore[attr-defined]
    mutable["y"] = 2
    assert "y" not in flow.steps[0].set  # type: ignore[attr-defined]
    assert "locations" not in json.dumps(workflow_schema())
    from robots.engine.runner import Engine

    record = Engine(Project(tmp_path)).run(flow, {})
    assert (record.status, record.outputs) == ("done", {"n": 2})


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


def test_reopen_names_an_earlier_await_human_in_its_list_or_an_enclosing_one() -> None:
    good = problems_of("""name: t
steps:
  - id: ask
    await_human: {queue: q, reason: r}
  - for_each: "{{ range(3) }}"
    steps:
      - steps:
          - await_human: {queue: q, reason: again, reopen: ask}
""")
    assert good == []
    found = problems_of("""name: t
steps:
  - await_human: {queue: q, reason: too early, reopen: ask}
  - id: note
    set: {x: 1}
  - if: "{{ true }}"
    then:
      - id: ask
        await_human: {queue: q, reason: r}
  - await_human: {queue: q, reason: inside if, reopen: ask}
  - await_human: {queue: q, reason: not a person, reopen: note}
""")
    hint = "name the id of the earlier await_human step whose task the person sees again"
    assert found == [
        f"3:5: reopen 'ask': no await_human step 'ask' comes before this one in its list of steps "
        f"or an enclosing one | {hint}",
        f"10:5: reopen 'ask': no await_human step 'ask' comes before this one in its list of steps "
        f"or an enclosing one | {hint}",
        f"11:5: reopen 'note': step 'note' is a set step, not an await_human step | {hint}",
    ]


def test_customer_status_words_are_checked_with_the_fix() -> None:
    found = problems_of("""name: t
customer_status:
  don: {title: Booked}
  done: {}
  queued: {title: {DE: Eingegangen}}
steps:
  - set: {x: 1}
""")
    assert found == [
        "3:3: unknown key 'customer_status.don' in the workflow | did you mean 'done'?",
        "4:3: the workflow 'customer_status.done': give a title, a text or both (or leave the state out "
        "for the default words), got {} | see docs/workflow-language.md for what this key takes",
        "5:12: the workflow 'customer_status.queued.title': language 'DE': name each language by its "
        "two-letter code in lower case, e.g. {de: ..., en: ...}, got {'DE': 'Eingegangen'} | see "
        "docs/workflow-language.md for what this key takes",
    ]


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


def test_a_merged_mapping_can_be_overridden_and_only_mappings_merge() -> None:
    """YAML's '<<' brings in an anchored mapping's keys; a key written beside it wins."""
    text = """name: t
steps:
  - &log {core.log: {message: hi, level: info}}
  - <<: *log
    core.log: {message: again, level: warning}
"""
    assert problems_of(text) == []
    flow, _ = load_text(text)
    assert flow is not None and flow.steps[1].params["message"] == "again"
    found = problems_of("name: t\nsteps:\n  - <<: 5\n    core.log: hi\n")
    assert found == [
        "3:9: '<<' merges mappings, got int 5 | "
        "point it at an anchored mapping (<<: *defaults) or a list of them"
    ]


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


def test_undefined_names_in_outputs_are_located_at_the_output() -> None:
    found = problems_of("""name: t
steps:
  - set: {check: 1}
outputs:
  ok: "{{ check }}"
  total: "{{ chek }}"
""")
    assert found == [
        "6:3: name 'chek' in '{{ chek }}' is not defined anywhere in this workflow | did you mean 'check'?"
    ]


def test_an_unknown_login_workflow_is_located_at_its_name(project: Project) -> None:
    write(project.workflows_dir / "crm_login.yaml", "name: crm_login\nruns_in: web\nsteps: [{set: {a: 1}}]\n")
    path = write(
        project.workflows_dir / "main.yaml",
        """
        name: main
        systems:
          crm: {kind: web, login: crm_logn}
        steps:
          - set: {a: 1}
    """,
    )
    found = [(p.line, p.column, p.message, p.hint) for p in project.validate([path])]
    assert found == [
        (3, 20, "system 'crm': login workflow 'crm_logn' not found", "did you mean 'crm_login'?")
    ]


def test_references_that_exist_but_do_not_load_say_so(project: Project) -> None:
    table = "name: size\nhit_policy: sometimes\ninputs: {}\noutputs: {}\nrules: []\n"
    write(project.rules_dir / "size.yaml", table)
    write(project.workflows_dir / "sub.yaml", "name: sub\nsteps:\n  - web.fil: {}\n")
    write(project.workflows_dir / "crm_login.yaml", "name: crm_login\nruns_in: web\nsteps: [{sett: 1}]\n")
    path = write(
        project.workflows_dir / "main.yaml",
        """
        name: main
        systems:
          crm: {kind: web, login: crm_login}
        steps:
          - decide: size
          - call: sub
    """,
    )
    found = [p.message for p in project.check_references(project.load(path))]
    assert len(found) == 3, found
    assert found[0].startswith("rule table 'size' does not load: ") and "size.yaml:2" in found[0]
    assert found[1].startswith("call target 'sub' does not load: ") and "sub.yaml:3:5" in found[1]
    assert found[2].startswith("system 'crm': login workflow 'crm_login' does not load: ")


def test_a_file_that_is_not_utf8_names_the_byte_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: t\nsteps:\n  - core.log: Stra\u00dfe\n".encode("latin-1"))
    with pytest.raises(DefinitionError) as raised:
        load_workflow(path)
    [problem] = raised.value.problems
    assert (problem.line, problem.column) == (3, 19)
    assert "not UTF-8" in problem.message and "0xdf" in problem.message
    assert "UTF-8" in problem.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: t\nsteps:\n  - call: 5\n",
            "3:5: call step 'call': Input should be a valid string, got 5 | write it as text, e.g. in quotes",
        ),
        (
            "name: t\nmax_attempts: many\nsteps: [{set: {a: 1}}]\n",
            "2:1: the workflow 'max_attempts': Input should be a valid integer, unable to parse string "
            "as an integer, got 'many' | write a whole number, e.g. 3",
        ),
        (
            "name: t\nsteps:\n  - escalate: {queue: q, reason: r, dtaa: 1}\n",
            "3:37: unknown key 'escalate.dtaa' in escalate step | did you mean 'data'?",
        ),
        (
            "name: t\nsteps:\n  - escalate: {queue: q, reason: r, zzz: 1}\n",
            "3:37: unknown key 'escalate.zzz' in escalate step | allowed here: data, form, outcomes, "
            "priority, queue, reason",
        ),
        (
            "name: t\nsteps:\n  - await_human: {queue: q, reason: r, form: [{label: x}]}\n",
            "3:47: await_human step needs 'await_human.form.0.name' | add 'name: ...'",
        ),
        (
            "name: t\nsteps:\n  - escalate: {queue: [a, b], reason: r}\n",
            "3:16: escalate step 'escalate.queue': Input should be a valid string, got ['a', 'b'] | "
            "write it as text, e.g. in quotes",
        ),
        (
            "name: t\nsteps:\n  - set: {a: 1}\n    retry: {attempts: 0}\n",
            "4:13: set step 'retry.attempts': Input should be greater than or equal to 1, got 0 | "
            "use a value of at least 1",
        ),
    ],
    ids=["text", "whole number", "did you mean", "allowed keys", "missing", "list value", "minimum"],
)
def test_type_errors_show_the_value_and_a_fix(text: str, expected: str) -> None:
    assert problems_of(text) == [expected]


def test_long_values_are_shortened_and_every_problem_has_a_hint() -> None:
    found = problems_of(
        "name: t\nsteps:\n  - core.log: {message: [" + ", ".join(["word"] * 30) + "]}\n"
        "  - fail: {message: m, kind: bzness}\n"
        "  - set: {a: 1}\n    timeout: soon\n"
    )
    assert len(found) == 3
    assert (
        "got ['word', 'word'," in found[0]
        and "...' |" not in found[0]
        and "... (240 characters) |" in found[0]
    )
    assert all(p.split(" | ")[1] for p in found), found


def test_an_action_parameter_without_a_specific_fix_points_to_the_action_list() -> None:
    assert problems_of("name: t\nsteps:\n  - core.sleep: forever\n") == [
        "3:5: parameter 'duration' of core.sleep: expected a duration like 2s, 500ms, "
        "1.5m or 1h, got 'forever' | see 'run.py actions' for what this key takes"
    ]


def test_where_a_login_was_written_is_kept_but_never_written_nor_dumped() -> None:
    import json

    from robots.language.schema import workflow_schema

    flow = workflow("name: t\nsystems:\n  crm: {kind: web, login: crm_login}\nsteps: [{set: {a: 1}}]\n")
    location = flow.systems["crm"].login_location
    assert location is not None and (location.line, location.column) == (3, 20)
    assert "login_location" not in json.dumps(flow.model_dump(mode="json"))
    assert "login_location" not in json.dumps(workflow_schema())
    found = problems_of(
        "name: t\nsystems:\n  crm: {kind: web, login_location: here}\nsteps: [{set: {a: 1}}]\n"
    )
    assert len(found) == 1 and found[0].startswith("3:20: unknown key 'login_location' in system 'crm' | ")


def test_an_unclosed_environment_reference_is_reported() -> None:
    found = problems_of("""name: t
systems:
  crm: {kind: web, url: "${CRM_URL"}
steps:
  - core.log: "at ${CRM_URL:-http://x} and ${1X}"
""")
    hint = "write ${NAME} or ${NAME:-default} (NAME: letters, digits, _); $$ is a $"
    assert found == [
        f"3:20: environment reference '${{CRM_URL' is not closed in '${{CRM_URL' | {hint}",
        "5:5: environment reference '${1X}' is not a variable name in "
        f"'at ${{CRM_URL:-http://x}} and ${{1X}}' | {hint}",
    ]


def test_an_undeclared_input_field_is_reported_when_loading() -> None:
    found = problems_of("""name: t
input:
  name: string
  city: string
steps:
  - core.log: "Hello {{ input.nme }} from {{ input.city }}"
  - set: {who: "{{ input['other'] }}", maybe: "{{ input.get('name') }}", keys: "{{ input.keys() | list }}"}
outputs:
  where: "{{ input.cty }}"
""")
    assert found == [
        "6:5: input field 'nme' in 'Hello {{ input.nme }} from {{ input.city }}' is not declared "
        "under 'input:' | did you mean 'name'?",
        "9:3: input field 'cty' in '{{ input.cty }}' is not declared under 'input:' | did you mean 'city'?",
    ]
    # without an input schema any field may come with the case
    assert problems_of("name: t\nsteps:\n  - core.log: '{{ input.anything }}'\n") == []


# -- systems ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("**/login*", "http://127.0.0.1:8101/login?expired=1", True),
        ("**/login*", "http://127.0.0.1:8101/login", True),
        ("**/login*", "http://127.0.0.1:8101/customers/C100001", False),
        ("**/login*", "http://127.0.0.1:8101/app/login/form", False),  # * stops at a slash
        ("**/customers?q=1", "http://host/customers?q=1", True),  # ? and . are themselves
        ("**/customers?q=1", "http://host/customersXq=1", False),
        ("http://host/*", "http://host/a/b", False),  # a glob matches the whole URL
        ("re:/login", "http://host/sso/login?next=/", True),  # a regex anywhere in it
    ],
)
def test_url_patterns_are_globs_or_regular_expressions(pattern: str, url: str, matches: bool) -> None:
    assert bool(url_pattern(pattern).search(url)) is matches


def test_a_systems_logged_out_url_must_be_a_valid_pattern() -> None:
    flow = workflow("""
        name: t
        systems:
          crm: {kind: web, url: "http://crm", logged_out_url: "**/login*"}
        steps: []
    """)
    assert flow.systems["crm"].logged_out_url == "**/login*"
    (problem,) = problems_of("""
        name: t
        systems:
          crm: {kind: web, url: "http://crm", logged_out_url: "re:(unclosed"}
        steps: []
    """)
    assert problem.startswith("3:") and "logged_out_url" in problem and "regular expression" in problem


def test_max_attempts_is_bounded() -> None:
    (problem,) = problems_of("name: t\nmax_attempts: 100000000000000000000\nsteps: []\n")
    assert problem.startswith("2:1:") and "max_attempts" in problem and "100" in problem


@pytest.mark.parametrize(
    "step",
    [
        "for_each: '{{ [1] }}'\n    as: input\n    steps: [{core.log: hi}]",
        "await_human: {queue: q, reason: r}\n    as: case",
        "set: {secret: 1}",
    ],
)
def test_no_step_may_take_a_name_the_engine_provides(step: str) -> None:
    (problem,) = problems_of(f"name: t\nsteps:\n  - {step}\n")
    assert "is a name the engine provides and cannot be set" in problem


@pytest.mark.parametrize("value", [".inf", "0", "1" + "0" * 400, "-1"])
def test_an_action_timeout_is_a_positive_number_of_seconds_up_to_a_day(value: str) -> None:
    found = problems_of(f"name: t\nsteps:\n  - web.click: {{text: Save, timeout: {value}}}\n")
    (problem,) = [p for p in found if "needs a web system" not in p]  # (no 'in:' block here)
    assert problem.startswith("3:29: parameter 'timeout' of web.click"), problem


@pytest.mark.parametrize(
    "expression", ["(" * 70 + "1" + ")" * 70, "+".join(["1"] * 400)], ids=["nested", "long"]
)
def test_an_expression_too_deep_to_read_is_a_located_problem(expression: str) -> None:
    (problem,) = problems_of(f'name: t\nsteps:\n  - set: {{a: "{{{{ {expression} }}}}"}}\n')
    assert problem.startswith("3:") and "nested too deeply" in problem


@pytest.mark.parametrize(
    "system_or_input",
    [
        'input:\n  a: {type: string, pattern: "a{99999999999}"}\n',
        'systems:\n  crm: {kind: web, logged_out_url: "re:a{99999999999}"}\n',
    ],
)
def test_a_regular_expression_python_cannot_compile_is_a_located_problem(system_or_input: str) -> None:
    (problem,) = problems_of(f"name: t\n{system_or_input}steps:\n  - core.log: hi\n")
    assert problem.startswith("3:") and "regular expression" in problem


def test_an_input_default_must_fit_its_field() -> None:
    found = problems_of("""name: t
input:
  n: {type: integer, default: abc}
  tags: {type: array, default: [a]}
  code: {type: string, pattern: "[0-9]{5}", default: "123"}
steps: []
""")
    assert [p.split(": the default")[0] for p in found] == ["3:22: input 'n'", "5:45: input 'code'"]


def test_input_bounds_that_no_value_could_fit_are_a_problem() -> None:
    found = problems_of("""name: t
input:
  n: {type: integer, minimum: 10, maximum: 5}
  s: {type: string, min_length: 4, max_length: 2}
  x: {type: number, minimum: 1.5, maximum: 1.5}
steps: []
""")
    assert [p.split(", got")[0] for p in found] == [
        "3:3: input field 'n': minimum 10 is above maximum 5: no value could fit",
        "4:3: input field 's': min_length 4 is above max_length 2: no value could fit",
    ]


def test_a_field_that_did_not_load_is_still_declared_for_its_uses() -> None:
    """Its own problem is the one to report; 'not declared' at every use would mislead."""
    found = problems_of("""name: t
input:
  n: {type: integr}
steps:
  - core.log: "{{ input.n }} {{ input.m }}"
""")
    assert [p.split(" in ")[0].split(":")[:3] for p in found] == [
        ["3", "7", " input field 'n' 'type'"],
        ["5", "5", " input field 'm'"],
    ]
    assert found[1].endswith("| declare it under 'input:' (declared: n)")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("core.log: hi\n    when: [false]", "a condition is an expression"),
        ("if: {a: 1}\n    then: [{core.log: hi}]", "a condition is an expression"),
        ("if:\n    then: [{core.log: hi}]", "a condition is an expression"),
        ("for_each: 5\n    steps: [{core.log: hi}]", "for_each takes a list"),
    ],
)
def test_conditions_and_for_each_refuse_values_that_are_neither(step: str, message: str) -> None:
    (problem,) = problems_of(f"name: t\nsteps:\n  - {step}\n")
    assert problem.startswith(("3:5:", "4:5:")) and message in problem  # where the step or its when is


def test_a_character_yaml_refuses_is_located_where_it_is() -> None:
    (problem,) = problems_of('name: t\nsteps:\n  - core.log: "a\x00b"\n')
    assert problem.startswith("3:17: invalid YAML: the character '\\x00'")


def test_a_calls_with_is_checked_against_the_called_workflows_input(project: Project) -> None:
    write(
        project.workflows_dir / "sub.yaml",
        "name: sub\ninput:\n  n: {type: integer}\n  note: {type: string, required: false}\nsteps: []\n",
    )
    path = write(
        project.workflows_dir / "main.yaml",
        """
        name: main
        steps:
          - call: sub
            with: {n: abc, nte: x}
          - call: sub
          - call: sub
            with: {n: "{{ 1 + 1 }}", note: fine}
    """,
    )
    found = [(p.line, p.message, p.hint) for p in project.check_references(project.load(path))]
    assert found == [
        (
            3,
            "call 'sub': input 'n' 'abc': Input should be a valid integer, "
            "unable to parse string as an integer",
            "give a value of its type",
        ),
        (3, "call 'sub': sub has no input 'nte'", "did you mean 'note'?"),
        (5, "call 'sub': input 'n' is required", "add n: ... under 'with:'"),
    ]


def test_a_corrected_outcome_has_no_customer_words_of_its_own() -> None:
    text = """
name: t
steps:
  - await_human:
      queue: q
      reason: r
      outcomes:
        corrected: {label: "Book it", text: "It is being booked"}
"""
    [problem] = problems_of(text)
    assert "corrected: give it only a label" in problem and "customer_status" in problem
    assert problems_of(text.replace(', text: "It is being booked"', "")) == []


def test_a_web_systems_locale_is_a_language_tag_and_only_for_web_systems() -> None:
    assert SystemSpec(kind="web", url="http://x", locale="de-DE").locale == "de-DE"
    with pytest.raises(ValidationError, match="it is for web systems"):
        SystemSpec(kind="desktop", program="x", locale="de-DE")
    with pytest.raises(ValidationError, match="locale"):
        SystemSpec(kind="web", url="http://x", locale="German please")
