"""``/docs`` in real Chromium with every request off this machine refused: it still renders."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from demo.processes import ControlRoomServer

pytestmark = pytest.mark.e2e


def _offline(page: Any, refused: list[str]) -> None:
    def route(handle: Any) -> None:
        if urlsplit(handle.request.url).hostname in ("127.0.0.1", "localhost"):
            handle.continue_()
        else:
            refused.append(handle.request.url)
            handle.abort()

    page.route("**/*", route)


def test_swagger_ui_renders_with_the_network_blocked(control_room: ControlRoomServer, browser: Any) -> None:
    page = browser.new_page(base_url=control_room.url)
    refused: list[str] = []
    _offline(page, refused)
    page.goto("/docs")
    # The operations of the channel API appear: Swagger UI ran and read /openapi.json.
    page.get_by_text("/api/channels/ivr").first.wait_for(timeout=15_000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Tandem control room")
    assert refused == []
    page.close()


def test_redoc_renders_with_the_network_blocked(control_room: ControlRoomServer, browser: Any) -> None:
    page = browser.new_page(base_url=control_room.url)
    refused: list[str] = []
    _offline(page, refused)
    page.goto("/redoc")
    page.get_by_role("heading", name="Tandem control room").first.wait_for(timeout=15_000)
    assert refused == []
    page.close()


def test_an_unknown_address_shows_a_page(control_room: ControlRoomServer, browser: Any) -> None:
    page = browser.new_page(base_url=control_room.url)
    response = page.goto("/inbox/nothing-here")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    page.close()
