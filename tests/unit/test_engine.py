"""The engine: what each step kind does when it runs, failures, humans, checkpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from robots.drivers.systems import LoginRunner, SystemSessions
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord, RunState
from robots.engine.run_context import DataError, RunListener, idempotency_key
from robots.engine.runner import Engine
from robots.errors import BusinessException, SystemException
from robots.language.model import SystemSpec
from robots.language.project import Project
from robots.language.registry import ActionContext, ActionParams, action
from robots.language.rules import decision
from tests.conftest import steps_workflow, workflow, write

CALLS: list[dict[str, Any]] = []


class _FlakyParams(ActionParams):
    fail_times: int = 0
    kind: str = "system"
    value: Any = None
    seconds: float = 0.0
    key: str = Field("flaky", description="counts calls per key")


_COUNTS: dict[str, int] = {}


_LOGGED: list[str] = []


@action("test.log_masked")
def _log_masked(ctx: ActionContext, params: _FlakyParams) -> None:
    """Writes what the process masker would leave of a log line about ``value``."""
    from robots.masking import PROCESS_MASKER

    _LOGGED.append(PROCESS_MASKER.mask_text(f"log line about {params.value}"))


@action("test.effect", side_effect=True)
def _effect(ctx: ActionContext, params: _FlakyParams) -> Any:
    """Records a call; fails ``fail_times`` times first; optionally sleeps."""
    count = _COUNTS[params.key] = _COUNTS.get(params.key, 0) + 1
    CALLS.append(
        {"key": params.key, "idem": ctx.idempotency_key, "attempt": ctx.attempt, "session": ctx.session}
    )
    if params.seconds:
        time.sleep(params.seconds)
    if count <= params.fail_times:
        raise (SystemException if params.kind == "system" else BusinessException)(
            f"{params.key} failed #{count}"
        )
    return params.value


@action("test.crash")
def _crash(ctx: ActionContext, params: _FlakyParams) -> None:
    """An action with a bug."""
    raise KeyError("oops")


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()
    _COUNTS.clear()


def run(flow: Any, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    engine_options = {
        k: kwargs.pop(k)
        for k in list(kwargs)
        if k in ("humans", "systems", "sleep", "escalate_system_failures", "services")
    }
    project = kwargs.pop("project", None)
    engine = Engine(project or Project(Path("/nonexistent")), **engine_options)
    return engine.run(flow, inputs or {}, **kwargs)


# -- step kinds ---------------------------------------------------------------------------------


def test_set_if_and_output() -> None:
    record = run(
        steps_workflow(
            """
        - set: {a: "{{ input.n * 2 }}", b: "{{ a + 1 }}"}
        - if: b > 5
          then: [{set: {size: big}}]
          else: [{set: {size: small}}]
        - output: {size: "{{ size }}", b: "{{ b }}"}
    """,
            header="input: {n: integer}\n",
        ),
        {"n": 3},
    )
    assert record.status == "done"
    assert record.outputs == {"size": "big", "b": 7}
    assert [s.path for s in record.steps] == ["1", "2", "2.then.1", "3"]


def test_when_skips_a_step() -> None:
    record = run(
        steps_workflow("""
        - test.effect: {key: x}
          when: "{{ false }}"
    """)
    )
    assert record.steps[0].outcome == "skipped" and CALLS == []


def test_for_each_with_loop_variables() -> None:
    record = run(
        steps_workflow(
            """
        - for_each: "{{ ['a', 'b', 'c'] }}"
          as: letter
          steps:
            - set: {seen: "{{ ('' if loop.first else seen + ',') ~ letter ~ loop.number }}"}
        - output: {seen: "{{ seen }}"}
    """,
            header="",
        )
    )
    assert record.outputs == {"seen": "a1,b2,c3"}
    assert [s.path for s in record.steps if s.kind == "set"] == ["1[0].1", "1[1].1", "1[2].1"]


def test_for_each_needs_a_list() -> None:
    record = run(steps_workflow("- for_each: '{{ 5 }}'\n  steps: [{set: {a: 1}}]"))
    assert record.status == "failed_business" and "for_each needs a list, got int 5" in record.error


def test_call_runs_a_sub_workflow_with_its_input(project: Project) -> None:
    write(
        project.workflows_dir / "double.yaml",
        """
        name: double
        input: {n: integer}
        steps:
          - output: {result: "{{ input.n * 2 }}"}
    """,
    )
    flow = steps_workflow("- call: double\n  with: {n: '21'}\n  as: d\n- output: {r: '{{ d.result }}'}")
    assert run(flow, project=project).outputs == {"r": 42}
    bad = run(steps_workflow("- call: double\n  with: {n: abc}"), project=project)
    assert bad.status == "failed_business" and "input.n" in bad.error


def test_decide_uses_the_project_rules(project: Project) -> None:
    write(
        project.rules_dir / "size.yaml",
        """
        name: size
        inputs: {n: integer}
        outputs: {label: string}
        rules:
          - when: {n: "< 10"}
            then: {label: small}
        default: {label: large}
    """,
    )
    flow = steps_workflow(
        "- decide: size\n  with: {n: '{{ input.n }}'}\n- output: {l: '{{ size.label }}'}",
        header="input: {n: integer}\n",
    )
    assert run(flow, {"n": 3}, project=project).outputs == {"l": "small"}
    assert run(flow, {"n": 30}, project=project).outputs == {"l": "large"}


def test_decide_on_a_number_nothing_can_use_fails_the_case_clearly(project: Project) -> None:
    write(
        project.rules_dir / "amount.yaml",
        """
        name: amount
        inputs: {amount: number}
        outputs: {size: string}
        rules: [{when: {amount: ">= 1000"}, then: {size: big}}]
        default: {size: small}
    """,
    )
    flow = steps_workflow(
        "- decide: amount\n  with: {amount: '{{ input.v | int }}'}", header="input: {v: string}\n"
    )
    record = run(flow, {"v": "1" + "0" * 400}, project=project)
    assert record.status == "failed_business"
    assert "input 'amount' is not a number it can use" in record.error


class _Sessions(SystemSessions):
    """A session provider for engine tests: sessions are plain dicts."""

    def __init__(self) -> None:
        self.opened = 0
        self.discarded: list[str] = []
        self.current: dict[str, dict[str, Any]] = {}

    @contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        if name not in self.current:
            self.opened += 1
            self.current[name] = {"name": name, "logins": 0}
            if login is not None:
                login(self.current[name])
        yield self.current[name]

    def discard(self, name: str) -> None:
        self.discarded.append(name)
        self.current.pop(name, None)


def test_in_blocks_get_a_logged_in_session_that_is_kept(project: Project) -> None:
    write(
        project.workflows_dir / "crm_login.yaml",
        """
        name: crm_login
        input: {credentials: string}
        steps:
          - test.effect: {key: login, value: "{{ input.credentials }}"}
    """,
    )
    flow = workflow("""
        name: t
        systems: {crm: {kind: web, url: "http://x", login: crm_login, credentials: crm_robot}}
        steps:
          - in: crm
            steps: [{test.effect: {key: work}}]
    """)
    sessions = _Sessions()
    for case in ("c1", "c2"):
        assert run(flow, project=project, systems=sessions, case_id=case).status == "done"
    assert sessions.opened == 1
    assert [c["key"] for c in CALLS] == ["login", "work", "work"]
    assert CALLS[1]["session"] == {"name": "crm", "logins": 0}


def test_a_login_workflow_that_does_not_load_fails_the_case_clearly(project: Project) -> None:
    write(project.workflows_dir / "crm_login.yaml", "name: crm_login\nsteps:\n  - core.lgo: hi\n")
    flow = workflow("""
        name: t
        systems: {crm: {kind: web, url: "http://x", login: crm_login}}
        steps:
          - in: crm
            steps: [{test.effect: {key: work}}]
    """)
    record = run(flow, project=project, systems=_Sessions())
    assert record.status == "failed_business" and record.error_step == "1"
    assert "system 'crm': login workflow 'crm_login' does not load" in record.error
    assert "unknown action 'core.lgo'" in record.error and CALLS == []


def test_a_system_exception_in_a_block_discards_the_session_and_retries(project: Project) -> None:
    flow = workflow("""
        name: t
        systems: {crm: {kind: web}}
        steps:
          - in: crm
            retry: {attempts: 3, backoff: 0}
            steps:
              - test.effect: {key: a}
              - test.effect: {key: b, fail_times: 1}
    """)
    sessions = _Sessions()
    record = run(flow, project=project, systems=sessions, sleep=lambda s: None)
    assert record.status == "done"
    assert sessions.discarded == ["crm"] and sessions.opened == 2
    assert [c["key"] for c in CALLS] == ["a", "b", "a", "b"]  # the whole block again, in a fresh session


# -- retry, backoff, timeouts ----------------------------------------------------------------------


def test_retry_backoff_is_exponential_and_capped() -> None:
    waits: list[float] = []
    record = run(
        steps_workflow("""
        - test.effect: {fail_times: 4}
          retry: {attempts: 5, backoff: 1s, factor: 2, max_delay: 3s}
    """),
        sleep=waits.append,
    )
    assert record.status == "done"
    assert waits == [1.0, 2.0, 3.0, 3.0]
    assert [s.outcome for s in record.steps] == ["retrying"] * 4 + ["ok"]
    assert [s.attempt for s in record.steps] == [1, 2, 3, 4, 5]
    assert len({c["idem"] for c in CALLS}) == 1  # the same idempotency key on every attempt


def test_business_exceptions_are_never_retried() -> None:
    humans = InMemoryHumans()
    record = run(
        steps_workflow("""
        - test.effect: {fail_times: 1, kind: business}
          retry: 3
    """),
        humans=humans,
        sleep=lambda s: None,
    )
    assert record.status == "failed_business" and len(CALLS) == 1
    task = humans.tasks[record.task_id]
    assert task.request.queue == "exceptions" and "flaky failed #1" in task.request.reason


def test_system_failure_after_retries_goes_to_a_human_unless_the_caller_retries_cases() -> None:
    humans = InMemoryHumans()
    flow = steps_workflow("- test.effect: {fail_times: 9}\n  retry: 2")
    record = run(flow, humans=humans, sleep=lambda s: None)
    assert record.status == "failed_system" and record.task_id in humans.tasks
    assert record.error == "flaky failed #2" and record.error_step == "1"
    again = run(flow, humans=InMemoryHumans(), sleep=lambda s: None, escalate_system_failures=False)
    assert again.status == "failed_system" and again.task_id is None


@decision("test_broken_decision")
def _broken_decision(**inputs: Any) -> Any:
    """A Python decision with a bug."""
    raise ValueError(f"cannot weigh {inputs}")


def test_a_python_decision_that_raises_is_a_retried_system_exception_naming_the_step() -> None:
    humans = InMemoryHumans()
    flow = steps_workflow(
        "- decide: test_broken_decision\n  with: {a: 1}\n  retry: {attempts: 2, backoff: 0}"
    )
    record = run(flow, humans=humans, sleep=lambda s: None)
    assert record.status == "failed_system" and record.error_step == "1"
    assert [s.outcome for s in record.steps] == ["retrying", "failed"]
    assert record.error == ("step 1: decision test_broken_decision failed: ValueError: cannot weigh {'a': 1}")
    assert record.task_id in humans.tasks


def test_an_infinite_number_in_an_answer_is_a_wrong_answer() -> None:
    from robots.engine.human_steps import check_answer
    from robots.errors import BusinessException as Refused

    with pytest.raises(Refused, match="count: expected integer, got inf"):
        check_answer([{"name": "count", "type": "integer"}], {"count": float("inf")})


def test_timeout_stops_a_slow_step_and_is_a_retried_system_exception() -> None:
    record = run(
        steps_workflow("""
        - test.effect: {seconds: 5}
          timeout: 0.2s
          retry: {attempts: 2, backoff: 0}
    """),
        sleep=lambda s: None,
    )
    assert record.status == "failed_system"
    assert [s.outcome for s in record.steps] == ["retrying", "failed"]
    assert "took longer than its timeout of 0.2s" in record.error
    assert all(s.duration_ms < 2000 for s in record.steps)


def test_nested_timeouts_report_the_step_whose_time_ran_out() -> None:
    record = run(
        steps_workflow("""
        - id: outer
          timeout: 0.2
          steps:
            - id: inner
              test.effect: {seconds: 3}
              timeout: 10
    """)
    )
    assert record.status == "failed_system"
    assert "step outer took longer" in record.error


def test_on_error_handles_the_failure_and_the_run_goes_on() -> None:
    record = run(
        steps_workflow("""
        - test.effect: {fail_times: 1, kind: business}
          on_error:
            - set: {note: "{{ error.kind }}: {{ error.message }}"}
        - output: {note: "{{ note }}"}
    """)
    )
    assert record.status == "done"
    assert record.outputs == {"note": "business: flaky failed #1"}
    assert record.steps[0].outcome == "handled"


def test_workflow_on_error_runs_and_the_failure_stands() -> None:
    record = run(
        workflow("""
        name: t
        steps:
          - fail: {message: "data missing", kind: business}
        on_error:
          - test.effect: {key: cleanup, value: "{{ error.message }}"}
    """)
    )
    assert record.status == "failed_business"
    assert [c["key"] for c in CALLS] == ["cleanup"]


def test_an_action_bug_becomes_a_system_exception_naming_the_action() -> None:
    record = run(steps_workflow("- test.crash: {}"))
    assert record.status == "failed_system"
    assert record.error == "test.crash failed: KeyError: 'oops'"


def test_an_undefined_name_at_run_time_names_the_step() -> None:
    record = run(
        steps_workflow(
            """
        - set: {a: 1}
        - output: {x: "{{ input.missing }}"}
    """,
        )  # without an input schema: with one, validate reports the undeclared field already
    )
    assert record.status == "failed_business"
    assert record.error.startswith("step 2 (output): ")
    assert "no attribute 'missing'" in record.error


def test_invalid_input_is_refused_before_anything_runs() -> None:
    record = run(
        steps_workflow("- test.effect: {}", header="input: {pc: {pattern: '[0-9]{5}'}}\n"), {"pc": "12"}
    )
    assert record.status == "failed_business" and "input.pc" in record.error and CALLS == []


# -- humans ------------------------------------------------------------------------------------------


def test_escalate_hands_the_case_to_a_queue_with_the_data() -> None:
    humans = InMemoryHumans()
    record = run(
        steps_workflow(
            """
        - set: {check: {plausible: false, reason: unknown city}}
        - escalate:
            queue: address_review
            reason: "{{ check.reason }}"
            data: {customer: "{{ input.customer }}"}
            priority: 5
        - test.effect: {}
    """,
            header="input: {customer: string}\n",
        ),
        {"customer": "C000001"},
        humans=humans,
    )
    assert record.status == "escalated" and CALLS == []
    task = humans.tasks[record.task_id]
    assert (task.request.queue, task.request.reason, task.request.priority) == (
        "address_review",
        "unknown city",
        5,
    )
    assert task.request.data == {"customer": "C000001"}


@pytest.mark.parametrize("kind", ["escalate", "await_human"])
def test_a_priority_expression_that_gives_no_whole_number_fails_the_case_clearly(kind: str) -> None:
    humans = InMemoryHumans()
    flow = steps_workflow(
        f"- {kind}: {{queue: q, reason: r, priority: '{{{{ input.p }}}}'}}", header="input: {p: string}\n"
    )
    record = run(flow, {"p": "high"}, humans=humans)
    assert record.status == "failed_business" and record.error_step == "1"
    assert "step 1: a priority is a whole number from -1000 to 1000" in record.error
    assert "got 'high'" in record.error
    answering = InMemoryHumans(auto_answer=lambda request: {})
    good = run(flow, {"p": "70"}, humans=answering)
    assert good.status == ("escalated" if kind == "escalate" else "done"), good.error
    [task] = answering.tasks.values()
    assert task.request.priority == 70


def test_await_human_suspends_and_resumes_with_the_answer_without_redoing_effects() -> None:
    humans = InMemoryHumans()
    flow = steps_workflow("""
        - test.effect: {key: before, value: 1}
          as: gathered
        - await_human:
            queue: appointments
            reason: pick a slot
            data: {gathered: "{{ gathered }}"}
            form:
              - {name: slot, type: choice, choices: ["08-12", "12-16"]}
              - {name: note, type: text, required: false}
          as: answer
        - test.effect: {key: after, value: "{{ answer.slot }}"}
          as: booked
        - output: {booked: "{{ booked }}"}
    """)
    first = run(flow, humans=humans, case_id="case-1")
    assert first.status == "waiting_human"
    assert humans.tasks[first.task_id].request.data == {"gathered": 1}
    with pytest.raises(Exception, match="not one of"):
        from robots.engine.human_steps import check_answer

        check_answer(humans.tasks[first.task_id].request.form, {"slot": "nonsense"})
    humans.complete(first.task_id, {"slot": "12-16"})
    second = run(flow, humans=humans, case_id="case-1", state=first.state)
    assert second.status == "done" and second.outputs == {"booked": "12-16"}
    assert [c["key"] for c in CALLS] == ["before", "after"]  # "before" was not done twice
    assert second.steps[0].outcome == "restored"
    assert len(humans.tasks) == 1


REBOOKING = """
    - id: agent
      await_human:
        queue: appointments
        reason: agree a slot
        form: [{name: slot, type: string}]
      as: agreed
    - test.effect: {key: book, value: "{{ agreed.slot }}"}
    - set: {booked: "{{ agreed.slot.startswith('free') }}"}
    - id: taken
      for_each: "{{ range(3) }}"
      as: round
      steps:
        - id: again
          when: "{{ not booked }}"
          steps:
            - id: ask_again
              await_human:
                reopen: agent
                queue: appointments
                reason: "{{ agreed.slot }} was taken (round {{ loop.number }})"
                form: [{name: slot, type: string}]
              as: agreed
            - test.effect: {key: book, value: "{{ agreed.slot }}"}
            - set: {booked: "{{ agreed.slot.startswith('free') }}"}
    - output: {slot: "{{ agreed.slot }}", booked: "{{ booked }}"}
"""


def test_a_reopen_in_each_round_of_a_for_each_brings_back_the_same_task() -> None:
    humans = InMemoryHumans()
    flow = steps_workflow(REBOOKING)
    record = run(flow, humans=humans, case_id="case-r")
    (task_id,) = humans.tasks
    for answer, reason in (
        ("taken-1", "taken-1 was taken (round 1)"),
        ("taken-2", "taken-2 was taken (round 2)"),
    ):
        humans.complete(task_id, {"slot": answer})
        record = run(flow, humans=humans, case_id="case-r", state=record.state)
        assert record.status == "waiting_human" and record.task_id == task_id
        assert humans.tasks[task_id].request.reason == reason
    humans.complete(task_id, {"slot": "free-3"})
    done = run(flow, humans=humans, case_id="case-r", state=record.state)
    assert done.status == "done" and done.outputs == {"slot": "free-3", "booked": True}
    assert list(humans.tasks) == [task_id]  # one task, three answers
    assert [c["key"] for c in CALLS] == ["book"] * 3  # each booking tried once, none repeated
    assert len({c["idem"] for c in CALLS}) == 3
    assert [r.outcome for r in done.steps if r.path == "taken[2].again"] == ["skipped"]


def test_a_resumed_run_reaching_a_reopen_again_keeps_the_answer_given_meanwhile() -> None:
    humans = InMemoryHumans()
    flow = steps_workflow(REBOOKING)
    record = run(flow, humans=humans, case_id="case-k")
    (task_id,) = humans.tasks
    humans.complete(task_id, {"slot": "taken-1"})
    waiting = run(flow, humans=humans, case_id="case-k", state=record.state)
    assert waiting.task_id == task_id
    # The robot was killed after reopening the task but before its checkpoint said so, and
    # the agent answered before another robot took the case on.
    lost = waiting.state.model_copy(deep=True)
    del lost.tasks["taken[0].again.ask_again"]
    humans.complete(task_id, {"slot": "free-2"})
    done = run(flow, humans=humans, case_id="case-k", state=lost)
    assert done.status == "done" and done.outputs == {"slot": "free-2", "booked": True}
    assert humans.tasks[task_id].status == "completed"


def test_a_wrong_answer_fails_the_case_with_the_reasons() -> None:
    humans = InMemoryHumans(auto_answer=lambda request: {"count": "many"})
    record = run(
        steps_workflow("- await_human: {queue: q, reason: r, form: [{name: count, type: integer}]}"),
        humans=humans,
    )
    assert record.status == "failed_business" and "count: expected integer, got 'many'" in record.error


def test_callouts_reach_the_humans_gateway() -> None:
    humans = InMemoryHumans()
    run(
        steps_workflow(
            """
        - callout:
            title: "Customer {{ input.id }}"
            queue: assist
            hints: ["pays late"]
            level: alert
    """,
            header="input: {id: string}\n",
        ),
        {"id": "C1"},
        humans=humans,
        case_id="k",
    )
    (callout,) = humans.callouts
    assert (callout.title, callout.queue, callout.hints, callout.level, callout.case_id) == (
        "Customer C1",
        "assist",
        ["pays late"],
        "alert",
        "k",
    )


# -- checkpoints -----------------------------------------------------------------------------------


def test_a_resumed_run_skips_completed_steps_and_restores_their_variables() -> None:
    flow = steps_workflow("""
        - test.effect: {key: one, value: 11}
          as: first
        - test.effect: {key: two, fail_times: 1}
        - output: {first: "{{ first }}"}
    """)
    crashed = run(flow, case_id="c", escalate_system_failures=False)
    assert crashed.status == "failed_system" and list(crashed.state.completed) == ["1"]
    resumed = run(flow, case_id="c", state=crashed.state, attempt=2)
    assert resumed.status == "done" and resumed.outputs == {"first": 11}
    assert [c["key"] for c in CALLS] == ["one", "two", "two"]


def test_checkpoints_are_written_before_the_next_effect_and_at_the_end() -> None:
    class Saves(RunListener):
        def __init__(self) -> None:
            self.saved: list[RunState] = []
            self.final: list[str] = []

        def checkpoint(self, run: RunRecord) -> None:
            self.saved.append(run.state.model_copy(deep=True))

        def finished(self, run: RunRecord) -> None:
            self.final = list(run.state.completed)

    flow = steps_workflow("""
        - set: {a: 1}
        - test.effect: {key: one, value: 2}
          as: b
        - set: {c: "{{ a + b }}"}
        - test.effect: {key: two, value: "{{ c }}", fail_times: 1}
          as: d
        - output: {d: "{{ d }}"}
    """)
    first = Saves()
    crashed = run(flow, case_id="p", listener=first, escalate_system_failures=False)
    # One write, just before the second effect began: everything completed until then.
    assert crashed.status == "failed_system"
    assert [list(state.completed) for state in first.saved] == [["1", "2", "3"]]
    assert first.final == ["1", "2", "3"]
    second = Saves()
    resumed = run(flow, case_id="p", state=first.saved[-1], attempt=2, listener=second)
    assert resumed.status == "done" and resumed.outputs == {"d": 3}
    # Nothing new to store before the second effect (the first was restored); the rest, the
    # second effect and the output included, goes with the end of the run.
    assert second.saved == [] and second.final == ["1", "2", "3", "4", "5"]
    assert [c["key"] for c in CALLS] == ["one", "two", "two"]


def test_idempotency_keys_depend_on_case_and_step_only() -> None:
    assert idempotency_key("c1", "2") == idempotency_key("c1", "2")
    assert idempotency_key("c1", "2") != idempotency_key("c2", "2")
    assert idempotency_key("c1", "2") != idempotency_key("c1", "3")


# -- masking ---------------------------------------------------------------------------------------


def test_personal_data_and_secrets_never_reach_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_SECRET_CRM_ROBOT_PASSWORD", "s3cret-Pa55")
    record = run(
        steps_workflow(
            """
        - set: {pw: "{{ secret('crm_robot.password') }}", who: "{{ input.name }}"}
        - test.effect: {value: "login {{ pw }} for {{ who }}"}
        - fail: "could not log in with {{ pw }} as {{ input.name }}"
    """,
            header="input: {name: {type: string, personal: true}}\n",
        ),
        {"name": "Erika Mustermann"},
    )
    dumped = record.model_dump_json()
    assert "s3cret-Pa55" not in dumped and "Erika Mustermann" not in dumped
    assert record.error == "could not log in with *** as E***"


def test_a_done_runs_outputs_never_hold_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_SECRET_CRM_PASSWORD", "Hunter2-xyz")
    record = run(
        workflow("""
        name: t
        input: {name: {type: string, personal: true}}
        steps:
          - set: {pw: "{{ secret('crm.password') }}"}
          - output: {login: "{{ input.name }} with {{ pw }}", booking: SX-1234}
        outputs:
          pw: "{{ pw }}"
          greeting: "Hello {{ input.name }}"
    """),
        {"name": "Erika Mustermann"},
    )
    assert record.status == "done"
    assert "Hunter2-xyz" not in record.model_dump_json()
    # The case's result keeps what the channel needs, the customer's data included.
    assert record.outputs == {
        "login": "Erika Mustermann with ***",
        "booking": "SX-1234",
        "pw": "***",
        "greeting": "Hello Erika Mustermann",
    }


def test_steps_holding_a_secret_are_not_checkpointed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_SECRET_API_TOKEN", "tok-998877")
    record = run(
        steps_workflow("""
        - set: {token: "{{ secret('api.token') }}"}
        - set: {plain: 1}
    """),
        case_id="s",
    )
    assert list(record.state.completed) == ["2"]
    assert "tok-998877" not in record.state.model_dump_json()


def test_the_process_masker_keeps_a_runs_personal_data_only_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from robots.masking import PROCESS_MASKER

    monkeypatch.setenv("TANDEM_SECRET_CRM_ROBOT_PASSWORD", "s3cret-Pa99")
    seen = _LOGGED
    seen.clear()
    before = len(PROCESS_MASKER)
    flow = steps_workflow(
        """
        - set: {pw: "{{ secret('crm_robot.password') }}"}
        - test.log_masked: {value: "{{ input.name }} / {{ pw }}"}
    """,
        header="input: {name: {type: string, personal: true}}\n",
    )
    for number in range(50):  # each case's personal data is new
        run(flow, {"name": f"Erika Mustermann {number}"})
    assert seen[0] == "log line about E*** / ***"  # masked in the log while the run lived
    assert len(PROCESS_MASKER) <= before + 1  # the personal data went with its run; the secret stays
    assert PROCESS_MASKER.mask_text("Erika Mustermann 3 s3cret-Pa99") == "Erika Mustermann 3 ***"


def test_a_value_two_runs_hold_stays_masked_until_both_have_ended() -> None:
    from robots.masking import Masker

    process = Masker()
    first, second = Masker(parent=process), Masker(parent=process)
    first.add_personal("Musterstraße 5")
    second.add_personal({"street": "Musterstraße 5", "city": "Berlin"})
    first.add_secret("tok-12345")
    first.release()
    assert process.mask_text("Musterstraße 5, Berlin, tok-12345") == "M***, B***, ***"
    second.release()
    assert process.mask_text("Musterstraße 5, Berlin, tok-12345") == "Musterstraße 5, Berlin, ***"
    process.add_personal("Hauptstraße 1")  # known to the process itself: kept for good
    third = Masker(parent=process)
    third.add_personal("Hauptstraße 1")
    third.release()
    assert process.mask_text("Hauptstraße 1") == "H***"


def test_a_call_cycle_stops_the_run_when_nobody_validated_it(project: Project) -> None:
    # The call target is fixed text, so validate finds every cycle; a robot loads workflows
    # one by one without that project-wide check, and the engine must stop the cycle itself.
    write(project.workflows_dir / "ping.yaml", "name: ping\nsteps:\n  - call: pong\n")
    write(project.workflows_dir / "pong.yaml", "name: pong\nsteps:\n  - call: ping\n")
    record = run(project.workflow("ping"), project=project)
    assert record.status == "failed_business"
    assert "step 1>pong.1: call cycle ping -> pong -> ping" in record.error


def test_a_short_personal_value_is_masked_like_a_secret_but_is_none() -> None:
    from robots.masking import Masker

    process = Masker()
    run_masker = Masker(parent=process)
    run_masker.add_personal("Ada")
    assert run_masker.mask_text("Hello Ada") == "Hello ***"
    assert run_masker.hide_secrets({"greeting": "Hello Ada"}) == {"greeting": "Hello Ada"}
    assert not run_masker.contains_secret("Hello Ada") and run_masker.secret_values() == []
    run_masker.release()
    assert process.mask_text("Hello Ada") == "Hello Ada"  # given back with its run, not kept for good


def test_list_defaults_of_the_input_reach_the_case_as_lists() -> None:
    flow = workflow("""
        name: t
        input:
          tags: {type: array, required: false, default: [a, b]}
          shape: {type: object, required: false, default: {sides: [1, 2]}}
        steps:
          - for_each: "{{ input.tags }}"
            steps:
              - core.log: "{{ item }}"
          - set: {more: "{{ input.tags + ['c'] }}", sides: "{{ input.shape.sides + [3] }}"}
        outputs: {more: "{{ more }}", sides: "{{ sides }}"}
    """)
    record = run(flow)
    assert record.status == "done", record.error
    assert record.outputs == {"more": ["a", "b", "c"], "sides": [1, 2, 3]}


def test_a_boolean_answer_is_a_yes_or_a_no_and_nothing_else() -> None:
    from robots.engine.human_steps import check_answer

    form = [{"name": "ok", "type": "boolean"}]
    assert check_answer(form, {"ok": "on"}) == {"ok": True}  # a checked checkbox
    assert check_answer(form, {"ok": " No "}) == {"ok": False}
    assert check_answer(form, {"ok": True}) == {"ok": True}
    with pytest.raises(DataError, match="ok: expected boolean, got 'maybe'"):
        check_answer(form, {"ok": "maybe"})


def test_a_text_parameter_takes_a_number_as_its_text() -> None:
    record = run(
        steps_workflow("""
        - set: {count: 5}
        - core.log: "{{ count }}"
          as: said
    """)
    )
    assert record.status == "done", record.error
    assert record.steps[-1].outputs == "5"
