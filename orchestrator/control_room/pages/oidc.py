"""Sign-in through the company's identity provider with OpenID Connect (an option).

::

    GET /login/oidc            -> 303 to the provider's authorization endpoint
    GET /login/oidc/callback   <- the provider sends the browser back with a code

Configured by ``ServerSettings.oidc_*`` (``TANDEM_OIDC_ISSUER``, ``TANDEM_OIDC_CLIENT_ID``,
the client secret from ``TANDEM_OIDC_CLIENT_SECRET`` or the vault entry
``TANDEM_OIDC_CLIENT_SECRET_NAME``, default ``oidc.client_secret``). Without an issuer the
routes answer 404 and the login page shows only the password form.

The authorization code flow with PKCE (Authlib's HTTPX client exchanges the code); the state,
nonce and code verifier travel in a short-lived cookie signed with the server's secret. The
ID token is verified against the provider's JWKS (joserfc): signature, issuer, audience,
expiry and nonce. Its ``oidc_username_claim`` (default ``preferred_username``) names the
Tandem user; a person without a Tandem user is refused, unless ``oidc_create_users_in`` names
a unit, where they are created as an agent. Local passwords keep working beside it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import anyio.to_thread
import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from loguru import logger

from connectors.vault import VaultError, default_vault
from orchestrator.control_room.constant_time import texts_equal
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.pages.rendering import render
from orchestrator.control_room.pages.sessions import safe_next, settings_secret, sign, start_session, store_of

router = APIRouter()
FLOW_COOKIE = "tandem_oidc"
FLOW_SECONDS = 600
DISCOVERY_SECONDS = 300.0


class OidcError(Exception):
    """The sign-in through the identity provider did not work; the message says why."""


def oidc_enabled(request: Request) -> bool:
    """Whether the server is configured to sign in through an identity provider."""
    return bool(request.app.state.settings.oidc_issuer)


def client_secret(settings: Any) -> str | None:
    """The client secret: the setting (``TANDEM_OIDC_CLIENT_SECRET``), else the vault's entry."""
    if settings.oidc_client_secret:
        return str(settings.oidc_client_secret)
    try:
        return default_vault().get(settings.oidc_client_secret_name)
    except VaultError:
        return None  # a public client (PKCE only)


async def discovery(request: Request) -> dict[str, Any]:
    """The provider's ``.well-known/openid-configuration`` (kept for five minutes)."""
    settings = request.app.state.settings
    cached = getattr(request.app.state, "oidc_discovery", None)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_SECONDS:
        return dict(cached[1])
    url = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(url)
            answer.raise_for_status()
            document = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise OidcError(f"the identity provider's discovery document {url} cannot be read: {error}") from None
    if document.get("issuer", "").rstrip("/") != settings.oidc_issuer.rstrip("/"):
        raise OidcError(f"the discovery document names issuer {document.get('issuer')!r}, not ours")
    request.app.state.oidc_discovery = (time.monotonic(), document)
    return dict(document)


def _client(request: Request) -> AsyncOAuth2Client:
    settings = request.app.state.settings
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=client_secret(settings),
        scope="openid profile email",
        redirect_uri=str(request.url_for("oidc_callback")),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if client_secret(settings) else "none",
        timeout=10,
    )


def _flow_cookie(secret: str, flow: dict[str, str]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(flow).encode()).decode()
    return f"{body}.{sign(secret, 'oidc:' + body)}"


def _read_flow(secret: str, value: str | None) -> dict[str, str] | None:
    body, _, signature = (value or "").rpartition(".")
    if not body or not texts_equal(signature, sign(secret, "oidc:" + body)):
        return None
    try:
        flow = json.loads(base64.urlsafe_b64decode(body))
    except ValueError:
        return None
    if not isinstance(flow, dict) or time.time() - float(flow.get("at", 0)) > FLOW_SECONDS:
        return None
    return {str(k): str(v) for k, v in flow.items()}


def _refused(request: Request, message: str, status: int = 403) -> Response:
    response = render(
        request, None, "login.html", status=status, next="/inbox", username="", error=message, error_values={}
    )
    response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return response


@router.get("/login/oidc", include_in_schema=False)
async def oidc_start(request: Request, next: str = "/inbox") -> Response:
    """Send the browser to the identity provider (code flow, PKCE, state and nonce)."""
    if not oidc_enabled(request):
        return _refused(request, N_("Sign-in with the company account is not configured."), 404)
    try:
        config = await discovery(request)
    except OidcError as error:
        logger.warning("OpenID Connect sign-in: {}", error)
        return _refused(request, N_("The company sign-in is not reachable right now. Try again later."), 502)
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
        "next": safe_next(next),
        "at": str(time.time()),
    }
    async with _client(request) as client:
        url, _ = client.create_authorization_url(
            config["authorization_endpoint"],
            state=flow["state"],
            nonce=flow["nonce"],
            code_verifier=flow["verifier"],
        )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _flow_cookie(settings_secret(request), flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=bool(request.app.state.settings.secure_cookies),
        path="/login/oidc",
    )
    return response


async def _verified_claims(request: Request, config: dict[str, Any], flow: dict[str, str]) -> dict[str, Any]:
    settings = request.app.state.settings
    code = request.query_params.get("code", "")
    try:
        async with _client(request) as client:
            token = await client.fetch_token(
                config["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=flow["verifier"],
            )
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(config["jwks_uri"])
            answer.raise_for_status()
            keys = KeySet.import_key_set(answer.json())
    except Exception as error:  # the provider's answers: HTTP, OAuth and JSON errors alike
        raise OidcError(f"the code could not be exchanged: {error}") from None
    if "id_token" not in token:
        raise OidcError("the token endpoint sent no id_token (is 'openid' an allowed scope?)")
    try:
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": config["issuer"]},
            aud={"essential": True, "value": settings.oidc_client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": flow["nonce"]},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as error:
        raise OidcError(f"the id_token is not valid: {error}") from None
    return dict(decoded.claims)


@router.get("/login/oidc/callback", name="oidc_callback", include_in_schema=False)
async def oidc_callback(request: Request) -> Response:
    """The provider's answer: verify it, find the Tandem user, start the session."""
    if not oidc_enabled(request):
        return _refused(request, N_("Sign-in with the company account is not configured."), 404)
    settings = request.app.state.settings
    flow = _read_flow(settings_secret(request), request.cookies.get(FLOW_COOKIE))
    state = request.query_params.get("state", "")
    if flow is None or not texts_equal(state, flow["state"]):
        return _refused(request, N_("The sign-in took too long or was not started here. Please try again."))
    if request.query_params.get("error"):
        logger.info("identity provider refused the sign-in: {}", request.query_params.get("error"))
        return _refused(request, N_("The company sign-in was cancelled or refused."))
    try:
        claims = await _verified_claims(request, await discovery(request), flow)
    except OidcError as error:
        logger.warning("OpenID Connect sign-in failed: {}", error)
        return _refused(request, N_("The company sign-in did not work. Please try again."), 502)
    username = str(claims.get(settings.oidc_username_claim) or "").strip()
    store = store_of(request)
    user = await anyio.to_thread.run_sync(lambda: store.get_user(username) if username else None)
    if user is None and username and settings.oidc_create_users_in:
        display_name = str(claims.get("name") or username)
        user = await anyio.to_thread.run_sync(
            lambda: store.create_user(
                username,
                secrets.token_urlsafe(32),  # never told to anyone: this user signs in through the provider
                role="agent",
                unit=settings.oidc_create_users_in,
                display_name=display_name,
            )
        )
        logger.info("created user {} at their first company sign-in", username)
    if user is None or not user.active:
        logger.info("company sign-in of {!r}: no active Tandem user", username)
        return _refused(
            request, N_("Your company account has no active user in Tandem. Ask an administrator.")
        )
    response = start_session(request, RedirectResponse(flow["next"], status_code=303), user.username)
    response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return response
