"""schemathesis with all its checks over every operation of the API, on SQLite and PostgreSQL.

Every phase runs (the schema's examples, coverage of its boundaries, fuzzing, stateful
sequences such as "create a case, then read it") with every check: no server error, each
answer a status, content type, header set and body the schema documents, schema-violating
requests refused, schema-valid ones accepted, authentication not ignored. The channel
requests carry a token that may start every workflow and the agents' requests an admin's
session and CSRF token, so they reach the stores, not only the authentication.

One rule the schema cannot state exactly is configured below, with its reason. Bounded
(``EXAMPLES`` per operation and phase) so it runs with the rest of the suite.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from orchestrator.control_room.pages.sessions import csrf_token, read_session, session_value
from robots.errors import HumanTaskRequest

EXAMPLES = 15

#: Whether a request is valid depends, for these operations, on more than the OpenAPI schema
#: can say: a case's payload (and the IVR's and webform's fields that become it) is checked
#: against the input schema of the workflow it names, read from the project's files when the
#: request arrives (a workflow added or changed is used at once, without a new OpenAPI
#: document; GET /api/workflows publishes each one's schema); a task's answer and corrected
#: input against the task's own form and its case's workflow. So a schema-valid request may
#: rightly get 422 there (with every problem listed); everything else about them must hold.
DEPENDS_ON_THE_WORKFLOW = (
    "^/api/cases$|^/api/channels/(ivr|webform)$|^/api/tasks/\\{task_id\\}/(outcome|complete|return)$"
)

CONFIG = {
    # The credentials are real ones, sent as headers (below); schemathesis does not make up
    # security parameters of its own (ignored_auth still sends requests without them).
    "generation": {"max-examples": EXAMPLES, "database": "none", "with-security-parameters": False},
    "checks": {"enabled": True},
    "operations": [
        {
            "include-path-regex": DEPENDS_ON_THE_WORKFLOW,
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                }
            },
        }
    ],
}


#: The seeded task's form: one required field, so answers can be right or wrong.
FORM = [{"name": "slot", "label": "Agreed slot", "type": "string", "required": True}]


def _failures(stream: Any) -> list[str]:
    found: list[str] = []
    for event in stream:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status.value != "failure":
                        continue
                    case = recorder.cases[case_id].value
                    interaction = recorder.interactions.get(case_id)
                    answer = interaction.response if interaction else None
                    title = check.failure_info.failure.title if check.failure_info else ""
                    status = answer.status_code if answer else None
                    body = (answer.content or b"")[:300] if answer else b""
                    found.append(
                        f"{check.name} {case.method} {case.path} {title}: {case.path_parameters} "
                        f"{case.query} headers {sorted(case.headers or {})} {str(case.body)[:200]} "
                        f"-> {status} {body!r}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"schemathesis could not run: {event}")
    return found


def _schema(client: TestClient, **parameters: str) -> Any:
    """The app's schema with every check configured, sending a token for every workflow and an
    admin's session; ``parameters`` fix a parameter's value in every request."""
    app: Any = client.app
    _, secret = app.state.store.create_token("fuzz", ["*"])
    key = app.state.settings.secret_key
    session = session_value(key, "admin")
    found = read_session(key, session)
    assert found is not None
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))
    schema.config.update(
        headers={
            "Authorization": f"Bearer {secret}",
            "Cookie": f"tandem_session={session}",
            "X-CSRF-Token": csrf_token(key, found[1]),
        },
        parameters=parameters or None,
    )
    return schema


def test_the_schema_matches_what_the_server_accepts_and_answers(client: TestClient) -> None:
    schema = _schema(client)
    assert len(list(schema.get_all_operations())) >= 12

    failures = _failures(from_schema(schema).execute())

    assert not failures, "\n".join(failures)


def test_the_task_api_matches_its_schema_on_a_real_task(client: TestClient) -> None:
    # Generated task ids name no task (404); this run fixes the id to one that exists, so
    # claims, outcomes, comments and escalations reach it, succeed once and then conflict.
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    request = HumanTaskRequest(queue="address_review", reason="fuzzed", step="s", form=FORM)
    task_id = store.create_task(request, case_id=None, run_id=None, key="fuzz:task")
    schema = _schema(client, task_id=task_id).include(path_regex="^/api/tasks/")

    failures = _failures(from_schema(schema).execute())

    assert not failures, "\n".join(failures)
    actions = {event.action for event in store.task_events(task_id)}
    assert "comment" in actions  # the requests reached the task
