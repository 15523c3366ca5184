"""The JSON Schema ``run.py schema`` writes accepts what the loader accepts, and no more.

Editors check workflows against it: a valid workflow marked wrong, or a mistake left
unmarked, is what a user would notice.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from robots.language.loader import parse_workflow
from robots.language.yamlsource import load_yaml
from tests.conftest import ROOT
from tests.unit.test_cli import cli
from tests.unit.test_docs_examples import as_workflow, examples

WORKFLOWS = sorted(path for path in (ROOT / "workflows").rglob("*") if path.suffix in (".yaml", ".yml"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    result = cli("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def as_json(text: str) -> Any:
    """The YAML document as an editor checks it: JSON values, keys as text."""
    data, _, problems = load_yaml(text, "<test>")
    assert not problems, problems
    return json.loads(json.dumps(data, default=str))


def schema_errors(validator: Draft202012Validator, text: str) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(as_json(text))]


@pytest.mark.parametrize("path", WORKFLOWS, ids=[str(p.relative_to(ROOT)) for p in WORKFLOWS])
def test_every_workflow_file_matches_the_schema(path: Path, validator: Draft202012Validator) -> None:
    assert not schema_errors(validator, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("where", "kind", "body"), examples(), ids=[e[0] for e in examples()])
def test_every_doc_example_matches_the_schema(
    where: str, kind: str, body: str, validator: Draft202012Validator
) -> None:
    assert not schema_errors(validator, as_workflow(kind, body))


def test_the_workflows_and_both_workflow_docs_were_found() -> None:
    assert {"logins", "examples"} <= {path.parent.name for path in WORKFLOWS}
    documents = {where.split(":")[0] for where, _, _ in examples()}
    assert {"workflow-language.md", "writing-workflows.md"} <= documents


def _steps(body: str) -> str:
    # runs_in lets web actions pass the loader without a system: the schema knows no systems.
    return "name: example\nruns_in: web\nsteps:\n" + textwrap.indent(textwrap.dedent(body), "  ")


SHORT_FORMS = {
    "retry as attempts": "- core.log: hi\n  retry: 3",
    "duration text for a parameter": "- core.sleep: 100ms",
    "duration text in retry": "- core.log: hi\n  retry: {attempts: 2, backoff: 500ms, max_delay: 1m}",
    "fail as text": "- fail: no contract found",
    "callout as text": "- callout: Robot finished",
    "when inside escalate": "- escalate: {when: 'true', queue: backoffice, reason: check}",
    "when inside callout": "- callout: {when: 'true', title: done}",
    "when inside the parameters": "- core.log: {message: hi, when: 'true'}",
    "expression for a typed parameter": "- web.click: {label: Save, timeout: '{{ 2 * 3 }}'}",
    "env reference for a typed parameter": "- web.click: {label: Save, timeout: '${CLICK_TIMEOUT}'}",
    "one expression for all parameters": '- core.log: \'{{ {"message": "hi"} }}\'',
    "one address as text": "- mail.send: {to: a@example.com, cc: b@example.com, body: hi}",
    "action name alone": "- web.screenshot",
    "action name alone in a branch": "- if: 'true'\n  then: [web.screenshot]",
    "empty step lists": "- if: 'true'\n  then:\n  else:\n- steps:\n  on_error:",
    "empty timeout": "- core.log: hi\n  timeout: null",
    "a number for a text parameter": "- core.log: 5\n- web.fill: {label: Zip, value: 10115}",
}


@pytest.mark.parametrize("body", SHORT_FORMS.values(), ids=SHORT_FORMS.keys())
def test_short_forms_the_loader_reads_match_the_schema(body: str, validator: Draft202012Validator) -> None:
    text = _steps(body)
    assert not parse_workflow(text)[1]
    assert not schema_errors(validator, text)


def test_input_fields_by_type_name_match_the_schema(validator: Draft202012Validator) -> None:
    text = "name: example\ninput: {postal_code: string, note: , count: integer}\nsystems:\nsteps:\n"
    assert not parse_workflow(text)[1]
    assert not schema_errors(validator, text)


MISTAKES = {
    "unknown step kind": "- frobnicate: 3",
    "unknown action": "- core.lg: hi",
    "unknown step key": "- core.log: hi\n  colour: red",
    "retry as a word": "- core.log: hi\n  retry: three",
    "retry of no attempts": "- core.log: hi\n  retry: 0",
    "duration that is no duration": "- core.sleep: soon",
    "duration text where seconds are wanted": "- web.click: {label: Save, timeout: 2s}",
    "value outside a parameter's choices": "- core.log: {message: hi, level: loud}",
    "a number for a parameter's choices": "- core.log: {message: hi, level: 5}",
    "unknown parameter": "- core.log: {message: hi, colour: red}",
    "when where it is not read": "- fail: {message: stop, when: 'true'}",
    "escalate as text": "- escalate: check this",
    "action name alone with a required parameter": "- mail.send",
    "two kinds in one step": "- core.log: hi\n  set: {a: 1}",
    "key of another step kind": "- set: {a: 1}\n  then: []",
}


@pytest.mark.parametrize("body", MISTAKES.values(), ids=MISTAKES.keys())
def test_mistakes_the_loader_refuses_are_marked_by_the_schema(
    body: str, validator: Draft202012Validator
) -> None:
    text = _steps(body)
    assert parse_workflow(text)[1]
    assert schema_errors(validator, text)


def test_wrong_input_type_and_unknown_workflow_key_are_marked(validator: Draft202012Validator) -> None:
    for text in (
        "name: example\ninput: {postal_code: strng}\nsteps: []\n",
        "name: example\ncolour: red\nsteps: []\n",
    ):
        assert parse_workflow(text)[1]
        assert schema_errors(validator, text)
