"""The control room works offline: API docs from a package, a favicon, HTML pages for wrong addresses."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = Orchestrator(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.db'}", project=Project(ROOT))
    yield TestClient(create_app(ServerSettings(secret_key="offline-docs-secret-0123456789"), store=store))
    store.close()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_this_server(client: TestClient, page: str) -> None:
    html = client.get(page).text
    addresses = re.findall(r"""(?:src|href)=["']([^"']+)""", html) + re.findall(r"url: '([^']+)'", html)
    assert addresses, html
    assert [a for a in addresses if a.startswith(("http:", "https:", "//"))] == []
    for address in addresses:
        assert client.get(address).status_code == 200, address


def test_the_swagger_bundle_is_javascript(client: TestClient) -> None:
    response = client.get("/docs-assets/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert client.get("/docs-assets/..%2Fcore.py").status_code == 404


def test_there_is_a_favicon(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/login").text


def test_an_unknown_page_is_an_html_page_and_an_unknown_api_path_json(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and "<header" in page.text
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404
    assert api.json() == {"error": "Not Found"}


def test_docs_can_be_switched_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    store = Orchestrator(f"sqlite:///{tmp_path_factory.mktemp('nodocs') / 'n.db'}", project=Project(ROOT))
    try:
        app = TestClient(
            create_app(
                ServerSettings(secret_key="offline-docs-secret-0123456789", public_docs=False), store=store
            )
        )
        assert app.get("/docs").status_code == 404
        assert app.get("/openapi.json").status_code == 404
        assert app.get("/favicon.ico").status_code == 200
    finally:
        store.close()


def test_an_unexpected_failure_on_a_page_is_an_html_page_with_its_incident_id(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    store = Orchestrator(f"sqlite:///{tmp_path_factory.mktemp('boom') / 'b.db'}", project=Project(ROOT))
    app = create_app(ServerSettings(secret_key="offline-docs-secret-0123456789"), store=store)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("broken on purpose")

    @app.get("/api/boom")
    def api_boom() -> None:
        raise RuntimeError("broken on purpose")

    client = TestClient(app, raise_server_exceptions=False)
    try:
        page = client.get("/boom")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert re.search(r"internal error [0-9a-f]{12}", page.text)
        assert "broken on purpose" not in page.text
        assert client.get("/api/boom").json()["error"].startswith("internal error")
    finally:
        store.close()
