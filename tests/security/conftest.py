"""The security suite: each attack from the hardening probe, against a real app on SQLite
and on PostgreSQL.

PostgreSQL is the server named by ``TANDEM_TEST_POSTGRES_URL`` (default: the local one); each
module gets a schema of its own. Without a reachable server those tests are skipped with a
message that says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from tests.conftest import ROOT, postgres_schema


class Channel:
    """A client that sends one channel's token."""

    def __init__(self, client: TestClient, secret: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {secret}"}

    def post(self, path: str, body: Any = None, **options: Any) -> Any:
        headers = {**self.headers, **options.pop("headers", {})}
        if body is not None:
            # json.dumps escapes what httpx would refuse to encode (lone surrogates): the
            # server must see exactly what an attacker can send.
            options["content"] = json.dumps(body)
            headers["Content-Type"] = "application/json"
        return self.client.post(path, headers=headers, **options)

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)


def make_client(database_url: str, **settings: Any) -> TestClient:
    """A test client of the control room on ``database_url`` with the repository's workflows."""
    options: dict[str, Any] = {
        "database_url": database_url,
        "project_root": ROOT,
        "token_cache_seconds": 0,
        "rate_limit": "10000/second",
        "webform_rate_limit": "10000/second",
    }
    options.update(settings)
    return TestClient(create_app(ServerSettings(**options)), raise_server_exceptions=False)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database of each backend for the module."""
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("security")
        yield f"sqlite:///{folder / 'tandem.db'}"
        return
    with postgres_schema("tandem_security") as schema:
        yield schema.url


@pytest.fixture(scope="module")
def client(database_url: str) -> Iterator[TestClient]:
    """The control room on the backend under test, with the demo organisation loaded."""
    with make_client(database_url) as test_client:
        test_client.app.state.store.load_organisation()  # type: ignore[attr-defined]
        yield test_client


def channel(client: TestClient, name: str, workflows: list[str]) -> Channel:
    """A new token of channel ``name`` for ``workflows``."""
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    _, secret = store.create_token(name, workflows)
    return Channel(client, secret)


@pytest.fixture
def ivr(client: TestClient) -> Channel:
    return channel(client, "ivr", ["delivery_appointment", "appointment_failed"])


@pytest.fixture
def webform_api(client: TestClient) -> Channel:
    return channel(client, "webform", ["address_change"])
