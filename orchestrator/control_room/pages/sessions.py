"""Who is asking: signed session cookies, CSRF tokens, and the signed-in agent of a request.

A session cookie is ``username.issued.nonce.signature``, HMAC-SHA256 signed with the server's
``secret_key``; the CSRF token is bound to the session's nonce. ``current_agent`` reads the
cookie and the store and gives the page an ``Agent``; ``start_session`` signs a user in
(password or identity provider).

Owns: signing (``sign``, ``encode_b64`` / ``decode_b64``), ``session_value``,
``read_session``, ``csrf_token``, ``csrf_ok``, ``Agent``, ``current_agent``, ``start_session``,
``to_login``, ``safe_next`` and the roles that see the supervisor and ops pages.

May import: ``orchestrator.control_room.i18n`` (the agent's time zone) and
``orchestrator.models``; the store only through ``request.app.state``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from orchestrator.control_room import i18n
from orchestrator.control_room.constant_time import texts_equal
from orchestrator.models import User

SESSION_COOKIE = "tandem_session"
SESSION_HOURS = 12
SUPERVISING = ("supervisor", "admin")
OPERATING = ("ops", "admin")


# -- signing: sessions, CSRF tokens and flash messages ----------------------------------------


def encode_b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_b64(text: str) -> bytes:
    """The bytes of ``encode_b64``'s text."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, text: str) -> str:
    """HMAC-SHA256 of ``text`` under ``secret``, URL-safe."""
    return encode_b64(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest())


def session_value(secret: str, username: str, *, now: float | None = None) -> str:
    """A signed session cookie value for ``username`` (a fresh nonce each login)."""
    issued = int(now if now is not None else time.time())
    body = f"{encode_b64(username.encode())}.{issued}.{secrets.token_hex(8)}"
    return f"{body}.{sign(secret, 'session:' + body)}"


def read_session(secret: str, value: str | None, *, now: float | None = None) -> tuple[str, str] | None:
    """``(username, nonce)`` of a valid, unexpired session cookie, else None."""
    if not value or value.count(".") != 3:
        return None
    body, _, signature = value.rpartition(".")
    if not texts_equal(signature, sign(secret, "session:" + body)):
        return None
    name, issued, nonce = body.split(".")
    try:
        username, issued_at = decode_b64(name).decode(), int(issued)
    except (ValueError, UnicodeDecodeError):
        return None
    moment = now if now is not None else time.time()
    if not 0 <= moment - issued_at <= SESSION_HOURS * 3600:
        return None
    return username, nonce


def csrf_token(secret: str, nonce: str) -> str:
    """The CSRF token of a session: forms and JSON requests must send it back."""
    return sign(secret, "csrf:" + nonce)


# -- who is asking -------------------------------------------------------------------------


@dataclass
class Agent:
    """The signed-in user of a request, with what the pages need to know about them."""

    user: User
    nonce: str
    csrf: str
    store: Any
    _queues: frozenset[str] | None = field(default=None, repr=False)
    time_zone: str = "UTC"  # where the user's clock is: their setting, else the server's

    @property
    def username(self) -> str:
        """The user name."""
        return self.user.username

    @property
    def role(self) -> str:
        """agent, supervisor, ops or admin."""
        return self.user.role

    @property
    def display_name(self) -> str:
        """The name shown in the header."""
        return self.user.display_name

    @property
    def units(self) -> list[str]:
        """The user's own unit (they see it and everything below)."""
        return [self.user.unit_id]

    @property
    def can_supervise(self) -> bool:
        """May reassign, escalate and see the supervisor view."""
        return self.user.role in SUPERVISING

    @property
    def can_operate(self) -> bool:
        """May see the ops dashboard and retry or cancel cases."""
        return self.user.role in OPERATING

    @property
    def queues(self) -> frozenset[str]:
        """Names of the queues the user may see (their units' queues)."""
        if self._queues is None:
            self._queues = frozenset(q.name for q in self.store.list_queues(self.username))
        return self._queues


def settings_secret(request: Request) -> str:
    secret: str = request.app.state.settings.secret_key
    return secret


def store_of(request: Request) -> Any:
    return request.app.state.store


def current_agent(request: Request) -> Agent | None:
    """The signed-in, active user of this request, or None."""
    secret = settings_secret(request)
    found = read_session(secret, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    username, nonce = found
    store = store_of(request)
    user = store.get_user(username)
    if user is None or not user.active:
        return None
    zone = i18n.for_request(request, user).time_zone
    return Agent(user, nonce, csrf_token(secret, nonce), store, time_zone=zone)


def csrf_ok(request: Request, agent: Agent, form: dict[str, Any] | None = None) -> bool:
    sent = request.headers.get("x-csrf-token") or (form or {}).get("csrf_token") or ""
    return texts_equal(str(sent), agent.csrf)


def from_another_site(request: Request) -> bool:
    """Whether the browser says another site's page sent this request: Fetch Metadata's
    ``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is ``null`` or names another host than
    this request's (``Host``, ``X-Forwarded-Host`` from a proxy, or the configured public URL).

    The sign-in form has no session to bind a CSRF token to; this keeps another site from
    posting its own user name and password there and signing a visitor's browser in as that
    user (login CSRF). Every browser in use sends one of the two headers on such a post; a
    request with neither (curl, a script) is no browser's and is let through.
    """
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    try:
        host = urlsplit(origin.strip()).netloc.lower()
    except ValueError:
        return True
    if not host:  # "null": a sandboxed frame, a redirect across sites, a data: page
        return True
    ours = {request.headers.get("host", "").lower(), request.headers.get("x-forwarded-host", "").lower()}
    public = request.app.state.settings.public_url
    if public:
        ours.add(urlsplit(public).netloc.lower())
    return host not in ours


def safe_next(target: str | None) -> str:
    # Only paths on this site: an attacker's ?next=https://evil.example must not redirect away.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/inbox"
    return target


def start_session(request: Request, response: Response, username: str) -> Response:
    """Sign ``username`` in: the session cookie on ``response`` (password or identity provider)."""
    response.set_cookie(
        SESSION_COOKIE,
        session_value(settings_secret(request), username),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.secure_cookies),
    )
    return response


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
