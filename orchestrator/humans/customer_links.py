"""A customer's signed link to the status page of their case.

A case id alone shows a customer nothing: the status page (``/webform/status/<case>/<sig>``,
``orchestrator.control_room.webform``) answers only under the link signed for that case with
the server's secret key (``TANDEM_SECRET_KEY``). Whoever hands the link out signs it the same
way: the webform's redirect, the channel API's ``customer_status_url``, and the mails a case
sends the customer — a robot's ``mail.send`` (the engine gives templates ``case.status_url``)
and an outcome's mail (``OutcomeStore.notify_customer``).

A mail needs the whole address, so these links exist only where the server's public address
is configured (``TANDEM_PUBLIC_URL``, ``ServerSettings.public_url``): without it a mail has no
link (``case.status_url`` is empty) and the channel API hands out the path alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

PUBLIC_URL_VARIABLE = "TANDEM_PUBLIC_URL"
SECRET_KEY_VARIABLE = "TANDEM_SECRET_KEY"


def sign(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``purpose:value`` under ``secret`` (hex, 40 characters)."""
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:40]


def status_path(secret: str, case_id: str) -> str:
    """The signed status link of a case (only the one who started it gets it)."""
    return f"/webform/status/{case_id}/{sign(secret, 'status', case_id)}"


def public_url_problem(value: str) -> str | None:
    """Why ``value`` cannot be the server's public address (None when it can)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{value!r} is not an http(s) address: give it like https://service.example.com"
    if parts.query or parts.fragment:
        return f"{value!r} has a query or fragment: give the address alone, like https://service.example.com"
    return None


@dataclass(frozen=True)
class CustomerLinks:
    """Signs status links with ``secret`` and puts them under ``public_url``."""

    secret: str = field(repr=False)
    public_url: str

    def __post_init__(self) -> None:
        problem = public_url_problem(self.public_url)
        if problem is not None:
            raise ValueError(f"public URL {problem}")
        if len(self.secret) < 16:
            raise ValueError("the secret key that signs status links needs at least 16 characters")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))

    def status_url(self, case_id: str) -> str:
        """The whole address of the case's status page, for a mail."""
        return self.public_url + status_path(self.secret, case_id)

    @classmethod
    def from_environment(cls) -> CustomerLinks | None:
        """Links from ``TANDEM_PUBLIC_URL`` and ``TANDEM_SECRET_KEY``; None without a public URL.

        ``ValueError`` when the public URL is set without the secret key: a link signed with
        a key of this process alone would not open on the server."""
        public_url = os.environ.get(PUBLIC_URL_VARIABLE, "").strip()
        if not public_url:
            return None
        secret = os.environ.get(SECRET_KEY_VARIABLE, "")
        if not secret:
            raise ValueError(
                f"{PUBLIC_URL_VARIABLE} is set but {SECRET_KEY_VARIABLE} is not: set it to the control "
                "room's key, so the status links in customers' mails open on the server"
            )
        return cls(secret, public_url)
