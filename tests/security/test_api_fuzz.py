"""schemathesis over every operation of the API, on SQLite and PostgreSQL: no server errors.

Bounded (a few examples per operation) so it runs with the rest of the suite; the channel
token allows every workflow, so requests get past authentication into the handlers.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES = 25


def test_no_operation_answers_a_server_error(client: TestClient) -> None:
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    _, secret = store.create_token("fuzz", ["*"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def no_server_error(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {secret}"})
            case.validate_response(response, checks=(not_a_server_error,))

        no_server_error()
