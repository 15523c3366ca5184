"""Headers every answer of the control room carries unless its route set its own.

- ``X-Frame-Options: SAMEORIGIN``: no other site may show a page in a frame and trick a
  signed-in agent into clicking its buttons (claim, cancel, issue a token...);
- ``X-Content-Type-Options: nosniff``: a file is what its type says (a screenshot or trace
  is never run as a script or page);
- ``Referrer-Policy: same-origin``: a customer's signed status link (``/webform/status/...``)
  and the control room's addresses are not sent to other sites.
"""

from __future__ import annotations

from orchestrator.control_room.limits import ASGIApp, Message, Receive, Scope, Send

DEFAULT_HEADERS = (
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds :data:`DEFAULT_HEADERS` to every HTTP answer that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend((name, value) for name, value in DEFAULT_HEADERS if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
