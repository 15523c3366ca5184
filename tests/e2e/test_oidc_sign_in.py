"""Sign-in through the company's identity provider (OpenID Connect) in real Chromium.

The provider is a small one written here and served on loopback: a discovery document, its
JWKS, an authorize page where the person signs in, and a token endpoint that checks the
client secret and PKCE and issues a signed id_token (joserfc). The control room's client
secret comes from the vault (here: its environment variable)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import RSAKey

from demo.processes import ControlRoomServer
from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.service import Orchestrator

pytestmark = pytest.mark.e2e
CLIENT_ID = "tandem-control-room"
CLIENT_SECRET = "s3cret-from-the-vault"


@dataclass
class Provider:
    """A minimal OpenID Connect provider; ``forge`` signs id_tokens with a key it does not publish."""

    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    forge: bool = False
    issuer: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize", response_class=HTMLResponse)
        def authorize_page(request: Request) -> str:
            hidden = "".join(
                f'<input type="hidden" name="{k}" value="{v}">' for k, v in request.query_params.items()
            )
            return (
                "<!doctype html><title>ACME ID</title><h1>ACME ID</h1>"
                f'<form method="post" action="/authorize">{hidden}'
                '<label for="who">Company user</label><input id="who" name="who">'
                "<button>Sign in at ACME ID</button></form>"
            )

        @app.post("/authorize")
        def authorize(
            who: str = Form(),
            client_id: str = Form(),
            redirect_uri: str = Form(),
            state: str = Form(),
            nonce: str = Form(),
            code_challenge: str = Form(),
            code_challenge_method: str = Form(),
        ) -> Response:
            assert client_id == CLIENT_ID and code_challenge_method == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "who": who,
                "redirect_uri": redirect_uri,
                "nonce": nonce,
                "challenge": code_challenge,
            }
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 303)

        @app.post("/token")
        def token(
            code: str = Form(),
            redirect_uri: str = Form(),
            client_id: str = Form(),
            client_secret: str = Form(""),
            code_verifier: str = Form(),
        ) -> Response:
            grant = self.codes.pop(code, None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
            if (
                grant is None
                or client_id != CLIENT_ID
                or client_secret != CLIENT_SECRET
                or redirect_uri != grant["redirect_uri"]
                or challenge.rstrip(b"=").decode() != grant["challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "sub": f"acme-{grant['who']}",
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                "preferred_username": grant["who"],
                "name": grant["who"].replace(".", " ").title(),
            }
            signer = self.other_key if self.forge else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, signer)
            return JSONResponse(
                {"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
            )

        return app


@pytest.fixture
def provider() -> Iterator[Provider]:
    provider = Provider()
    server = ControlRoomServer(provider.app())
    provider.issuer = server.url
    with server:
        yield provider


@pytest.fixture
def sso_control_room(
    store: Orchestrator, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ControlRoomServer]:
    monkeypatch.setenv("TANDEM_SECRET_OIDC_CLIENT_SECRET", CLIENT_SECRET)  # the vault's entry
    store.load_organisation()
    settings = ServerSettings(
        secret_key="control-room-test-secret-0123456789",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
    )
    with ControlRoomServer(create_app(settings, store=store)) as server:
        yield server


def sign_in_at_provider(browser: Any, control_room: ControlRoomServer, who: str) -> Any:
    page = browser.new_context(base_url=control_room.url, locale="en-US").new_page()
    page.goto("/ops")
    page.get_by_role("link", name="Sign in with your company account").click()
    page.get_by_label("Company user").fill(who)
    page.get_by_role("button", name="Sign in at ACME ID").click()
    return page


def test_a_person_signs_in_through_the_identity_provider(
    browser: Any, sso_control_room: ControlRoomServer
) -> None:
    page = sign_in_at_provider(browser, sso_control_room, "olaf.ops")
    page.wait_for_url(re.compile(r"/ops$"))  # back where they wanted to go, signed in
    assert "olaf.ops" not in page.url
    assert page.get_by_role("button", name="Log out").is_visible()
    # The local password form stays for the demo.
    assert page.context.new_page().goto(f"{sso_control_room.url}/login").ok


def test_a_company_account_without_a_tandem_user_is_refused(
    browser: Any, sso_control_room: ControlRoomServer, store: Orchestrator
) -> None:
    page = sign_in_at_provider(browser, sso_control_room, "eve.outsider")
    page.wait_for_url(re.compile(r"/login/oidc/callback"))
    assert "has no active user in Tandem" in page.get_by_role("alert").inner_text()
    assert store.get_user("eve.outsider") is None  # no one is created unless configured
    page.goto("/inbox")
    assert "/login" in page.url


def test_an_id_token_not_signed_by_the_provider_is_refused(
    browser: Any, sso_control_room: ControlRoomServer, provider: Provider
) -> None:
    provider.forge = True
    page = sign_in_at_provider(browser, sso_control_room, "olaf.ops")
    page.wait_for_url(re.compile(r"/login/oidc/callback"))
    assert "did not work" in page.get_by_role("alert").inner_text()
    page.goto("/inbox")
    assert "/login" in page.url


def test_unknown_people_become_agents_only_where_configured(
    browser: Any, store: Orchestrator, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_SECRET_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    store.load_organisation()
    settings = ServerSettings(
        secret_key="control-room-test-secret-0123456789",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_create_users_in="munich",
    )
    with ControlRoomServer(create_app(settings, store=store)) as server:
        page = sign_in_at_provider(browser, server, "nina.new")
        page.wait_for_url(re.compile(r"/ops$"))  # signed in (an agent: the page says 403)
        user = store.get_user("nina.new")
        assert user is not None and (user.role, user.unit_id, user.display_name) == (
            "agent",
            "munich",
            "Nina New",
        )
        assert page.get_by_role("button", name="Log out").is_visible()
