"""What every demo app shares: login sessions, an audit log, failure switches, page layout.

Each app keeps an audit log (what was changed, when, by which login), readable at
``GET /_control/audit``, and can be told to fail through ``POST /_control`` with
``{"slow_ms": 800, "error_rate": 0.5, "down": true, "markup": "v2", "session_ttl_s": 5}``
(plus app-specific switches such as ``no_slots``). ``POST /_control/reset`` restores the
seed data and the defaults. Element ids change on every render, as in many legacy apps, so
robots must find things by role, label and text.
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from demo import data

DEFAULTS: dict[str, Any] = {
    "slow_ms": 0,
    "error_rate": 0.0,
    "down": False,
    "markup": "v1",
    "session_ttl_s": 3600,
}


def esc(value: Any) -> str:
    """HTML-escaped text (data in the apps may contain markup)."""
    return html.escape(str(value), quote=True)


def rid() -> str:
    """A fresh element id: ids are not stable here, as in many legacy apps."""
    return "f-" + secrets.token_hex(4)


@dataclass
class LoginForm:
    """How an app's login page is worded."""

    heading: str = "Sign in"
    user_label: str = "Username"
    password_label: str = "Password"
    button: str = "Sign in"


@dataclass
class DemoApp:
    """One demo application: its FastAPI app, state, audit log and failure switches."""

    name: str
    title: str
    css: str
    login_form: LoginForm
    home: str
    data_dir: Path | None = None
    extra_defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.app = FastAPI(title=f"{self.title} (demo)", docs_url=None, redoc_url=None, openapi_url=None)
        self.reset()
        self._requests = 0
        self._install()

    # -- state -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Seed data back, switches back to defaults, audit log and sessions cleared."""
        with self.lock:
            self.customers = data.customers()
            self.settings: dict[str, Any] = {**DEFAULTS, **self.extra_defaults}
            self.audit_log: list[dict[str, Any]] = []
            self.sessions: dict[str, tuple[str, float]] = {}
            self.extra: dict[str, Any] = {}
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            (self.data_dir / f"{self.name}.jsonl").write_text("", encoding="utf-8")

    def audit(self, login: str, action: str, entity: str, before: Any = None, after: Any = None) -> None:
        """Append to the audit log (in memory and, with a data dir, as a JSON line)."""
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "app": self.name,
            "login": login,
            "action": action,
            "entity": entity,
            "before": before,
            "after": after,
        }
        with self.lock:
            self.audit_log.append(entry)
        if self.data_dir is not None:
            with (self.data_dir / f"{self.name}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")

    @property
    def v2(self) -> bool:
        """True when the app was told to change its markup (labels and buttons renamed)."""
        return self.settings.get("markup") == "v2"

    async def work(self, base_ms: int = 0) -> None:
        """A slow operation: ``base_ms`` plus the ``slow_ms`` switch."""
        delay = (base_ms + int(self.settings.get("slow_ms", 0))) / 1000
        if delay > 0:
            await asyncio.sleep(delay)

    # -- sessions ----------------------------------------------------------------------------

    def login_of(self, request: Request) -> str | None:
        """The logged-in user of a request, or None (also when the session expired)."""
        token = request.cookies.get(f"{self.name}_session")
        if not token:
            return None
        with self.lock:
            entry = self.sessions.get(token)
            if entry is None:
                return None
            login, started = entry
            if time.time() - started > float(self.settings["session_ttl_s"]):
                del self.sessions[token]
                request.state.expired = True
                return None
        return login

    def to_login(self, request: Request) -> RedirectResponse:
        """Redirect to the login page (saying so when the session expired)."""
        expired = (
            "?expired=1"
            if getattr(request.state, "expired", False) or request.cookies.get(f"{self.name}_session")
            else ""
        )
        return RedirectResponse(f"/login{expired}", status_code=303)

    # -- pages -------------------------------------------------------------------------------

    def page(self, title: str, body: str, *, login: str | None = None, status: int = 200) -> HTMLResponse:
        """A whole page in the app's look."""
        user = (
            (
                f'<span class="user">{esc(login)}</span> <form method="post" action="/logout" class="inline">'
                f'<button type="submit">Log out</button></form>'
            )
            if login
            else ""
        )
        return HTMLResponse(
            f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{esc(title)} - {esc(self.title)}</title><style>{self.css}</style></head>
<body><header><span class="brand">{esc(self.title)}</span>{user}</header>
<main id="{rid()}">{body}</main></body></html>""",
            status_code=status,
        )

    def _install(self) -> None:
        app = self.app

        @app.middleware("http")
        async def failures(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if request.url.path.startswith("/_control"):
                return await call_next(request)
            settings = self.settings
            if settings.get("down"):
                return HTMLResponse(
                    "<h1>503 Service Unavailable</h1><p>The system is down for maintenance.</p>",
                    status_code=503,
                )
            with self.lock:
                self._requests += 1
                count = self._requests
            rate = float(settings.get("error_rate") or 0)
            if rate > 0 and count % max(1, round(1 / rate)) == 0:
                return HTMLResponse(
                    "<h1>500 Internal Server Error</h1><p>ORA-03113: end-of-file on channel</p>",
                    status_code=500,
                )
            if settings.get("slow_ms"):
                await asyncio.sleep(int(settings["slow_ms"]) / 1000 / 4)  # every page is a bit slow too
            return await call_next(request)

        @app.get("/_control")
        def get_control() -> dict[str, Any]:
            return self.settings

        @app.post("/_control")
        async def set_control(request: Request) -> Response:
            try:
                changes = await request.json()
            except ValueError:
                return JSONResponse({"error": "send a JSON object"}, status_code=400)
            if not isinstance(changes, dict):
                return JSONResponse({"error": "send a JSON object"}, status_code=400)
            unknown = set(changes) - set(self.settings)
            if unknown:
                return JSONResponse(
                    {"error": f"unknown settings {sorted(unknown)}", "known": sorted(self.settings)},
                    status_code=422,
                )
            with self.lock:
                self.settings.update(changes)
            return JSONResponse(self.settings)

        @app.post("/_control/reset")
        def reset() -> dict[str, str]:
            self.reset()
            return {"status": "reset"}

        @app.get("/_control/audit")
        def audit() -> list[dict[str, Any]]:
            return self.audit_log

        @app.post("/_control/expire-sessions")
        def expire() -> dict[str, int]:
            with self.lock:
                count = len(self.sessions)
                self.sessions.clear()
            return {"expired": count}

        @app.get("/login", response_class=HTMLResponse)
        def login_page(request: Request, expired: int = 0, error: int = 0) -> HTMLResponse:
            form = self.login_form
            notice = ""
            if expired:
                notice = '<p class="notice" role="alert">Your session has expired. Please sign in again.</p>'
            if error:
                notice = '<p class="error" role="alert">Invalid user or password.</p>'
            user_id, password_id = rid(), rid()
            return self.page(
                form.heading,
                f"""<h1>{esc(form.heading)}</h1>{notice}
<form method="post" action="/login" class="login">
<label for="{user_id}">{esc(form.user_label)}</label><input id="{user_id}" name="user" autocomplete="off">
<label for="{password_id}">{esc(form.password_label)}</label><input id="{password_id}" name="password" type="password">
<button type="submit">{esc(form.button)}</button></form>""",
            )

        @app.post("/login")
        async def login(request: Request) -> Response:
            values = await request.form()
            user, password = str(values.get("user", "")), str(values.get("password", ""))
            if data.LOGINS[self.name].get(user) != password or not password:
                return RedirectResponse("/login?error=1", status_code=303)
            token = secrets.token_urlsafe(16)
            with self.lock:
                self.sessions[token] = (user, time.time())
            self.audit(user, "login", user)
            response = RedirectResponse(self.home, status_code=303)
            response.set_cookie(f"{self.name}_session", token, httponly=True, samesite="lax")
            return response

        @app.post("/logout")
        def logout(request: Request) -> Response:
            with self.lock:
                self.sessions.pop(request.cookies.get(f"{self.name}_session", ""), None)
            response = RedirectResponse("/login", status_code=303)
            response.delete_cookie(f"{self.name}_session")
            return response

        @app.get("/")
        def root() -> RedirectResponse:
            return RedirectResponse(self.home, status_code=303)
