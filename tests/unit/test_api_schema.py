"""Schemathesis against the API's OpenAPI schema: generated requests never get a 500.

The requests carry a token that may start every workflow (so they reach the case store,
not just the scope check) and, in the negative phase, malformed bodies of every kind. Every
answer must be one the schema documents, in the documented shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from orchestrator.control_room.app import ServerSettings, create_app
from tests.conftest import ROOT

_state: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = create_app(
        ServerSettings(
            database_url=f"sqlite:///{tmp_path_factory.mktemp('schema') / 'tandem.db'}",
            project_root=ROOT,
            rate_limit="100000/second",
        )
    )
    _, _state["token"] = app.state.store.create_token("fuzz", ["*"])
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.store.close()


CHANNEL_API = ("/api/cases", "/api/channels", "/api/health", "/metrics")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _fuzz(
    operation: Any, mode: GenerationMode, checks: list[Any], headers: dict[str, str], examples: int
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing in this operation can be made invalid (no body, no parameters).
        assert mode is GenerationMode.NEGATIVE, f"{operation.path}: no valid request could be generated"


def test_no_generated_request_gets_a_server_error(api_schema: Any) -> None:
    headers = {"Authorization": f"Bearer {_state['token']}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/cases", "/api/cases/{case_id}", "/api/channels/ivr"}
    for operation in operations:
        # The channel API's answers must match the schema exactly; the agents' JSON API
        # (session cookies, orchestrator.control_room.pages) is reached here without a session, so for it
        # only "never a 500" is asserted.
        ours = operation.path.startswith(CHANNEL_API)
        checks = CHECKS if ours else [not_a_server_error]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, checks, headers, examples=30 if ours else 8)


def test_the_schema_says_how_each_operation_authenticates(tmp_path_factory: pytest.TempPathFactory) -> None:
    app = create_app(
        ServerSettings(
            database_url=f"sqlite:///{tmp_path_factory.mktemp('security') / 'tandem.db'}", project_root=ROOT
        )
    )
    paths = app.openapi()["paths"]
    assert paths["/api/cases"]["post"]["security"] == [{"channel token": []}]
    assert paths["/api/tasks"]["get"]["security"] == [{"agent session": []}]
    # Writing needs both at once (one requirement with two schemes), not either of them.
    assert paths["/api/tasks/{task_id}/claim"]["post"]["security"] == [
        {"agent session": [], "CSRF token": []}
    ]
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["agent session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "tandem_session",
        "description": schemes["agent session"]["description"],
    }
    assert (schemes["CSRF token"]["in"], schemes["CSRF token"]["name"]) == ("header", "X-CSRF-Token")
    app.state.store.close()
