"""What the control room refuses before any route sees a request: too big, or holding
characters that must never be stored.

:class:`RequestGuard` is an ASGI middleware in front of every route (API, webform, agent
pages):

- a body larger than ``ServerSettings.max_body_bytes`` (1 MB by default) -> 413, whether the
  client announced its length or streams it; nothing larger is ever held in memory;
- a path or query parameter with a NUL byte or another control character -> 422;
- a JSON or form body with one in any text (keys included), or a lone surrogate -> 422;
- a multipart body (no route takes uploads) -> 422.

API answers (``/api``, ``/metrics``) use the API's error shape
``{"error": ..., "problems": [{"field", "message"}]}``; pages get a short HTML page.
Error answers are bounded too: :func:`bounded_problems` keeps the first
``MAX_PROBLEMS`` problems and says how many more there were.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from connectors.fields import payload_problems, text_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The default limit of a request body: far above any case payload or form, far below what
#: would hurt the server's memory.
DEFAULT_MAX_BODY_BYTES = 1_000_000
#: How many problems an error answer lists at most (a request with a million wrong keys
#: must not produce an answer of many megabytes).
MAX_PROBLEMS = 20
#: The highest page number a paged list shows (``?page=``): far beyond any real list, small
#: enough that its offset stays a number every database takes.
MAX_PAGE = 100_000


def bounded_problems(problems: list[dict[str, str]], limit: int = MAX_PROBLEMS) -> list[dict[str, str]]:
    """The first ``limit`` problems, and one more entry saying how many were left out."""
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    return [*problems[:limit], {"field": "body", "message": f"and {rest} more problem(s) not listed"}]


def page_number(page: int) -> int:
    """``?page=`` as a page to show: 1 to :data:`MAX_PAGE` (past the end a list is empty)."""
    return min(max(page, 1), MAX_PAGE)


def problem_count_text(problems: list[dict[str, str]]) -> str:
    """'the request has N problem(s)' for the error sentence."""
    return f"the request has {len(problems)} problem(s); nothing was stored"


def _is_api(path: str) -> bool:
    return path.startswith("/api") or path == "/metrics"


def url_problems(scope: Scope) -> list[dict[str, str]]:
    """Problems of the path and the query string (both percent-decoded)."""
    problems = []
    path_problem = text_problem(str(scope.get("path", "")), allow_newlines=False)
    if path_problem:
        problems.append({"field": "path", "message": f"the address {path_problem}"})
    # Bytes that are not UTF-8 become lone surrogates, which text_problem reports.
    query = bytes(scope.get("query_string", b"")).decode("utf-8", "surrogateescape")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        for text in (name, value):
            problem = text_problem(text, allow_newlines=False)
            if problem:
                problems.append({"field": name if text is value else "query", "message": problem})
                break
    if not problems:
        raw = unquote(query, errors="surrogateescape")
        problem = text_problem(raw, allow_newlines=False)
        if problem:
            problems.append({"field": "query", "message": problem})
    return problems


def body_problems(content_type: str, body: bytes) -> list[dict[str, str]]:
    """Problems of a JSON or form body's texts; other bodies may not hold a NUL byte."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return []  # not JSON: the route answers that (422 naming the body)
        return [{"field": f, "message": m} for f, m in payload_problems(value, "body", limit=MAX_PROBLEMS)]
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "surrogateescape")
        problems = []
        for name, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape"):
            problem = text_problem(name, allow_newlines=False) or text_problem(value)
            if problem:
                problems.append({"field": name if text_problem(name) is None else "form", "message": problem})
            if len(problems) >= MAX_PROBLEMS:
                break
        return problems
    if kind.startswith("multipart/"):
        # No route takes uploads, but the form parser would read a multipart body like any
        # form: unchecked, its fields would bring NUL bytes to the store.
        return [{"field": "body", "message": "multipart bodies are not accepted: send the form URL-encoded"}]
    if b"\x00" in body:
        return [{"field": "body", "message": "contains a NUL byte: send text"}]
    return []


class RequestGuard:
    """Refuses oversized bodies (413) and control characters in paths, queries and bodies (422)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with its body replayed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = url_problems(scope)
        if problems:
            await self._refuse(scope, send, 422, "the address of the request is not valid", problems)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and not declared:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problems = body_problems(headers.get("content-type", ""), body)
        if problems:
            await self._refuse(scope, send, 422, problem_count_text(problems), problems)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        limit = self.max_body_bytes
        message = (
            f"the request body is larger than {limit} bytes; send less (the limit is "
            "ServerSettings.max_body_bytes / TANDEM_MAX_BODY_BYTES)"
        )
        await self._refuse(scope, send, 413, message, None)

    async def _refuse(
        self, scope: Scope, send: Send, status: int, message: str, problems: list[dict[str, str]] | None
    ) -> None:
        if _is_api(str(scope.get("path", ""))):
            body: dict[str, Any] = {"error": message}
            if problems is not None:
                body["problems"] = bounded_problems(problems)
            content = json.dumps(body).encode()
            content_type = b"application/json"
        else:
            details = "".join(
                f"<li>{html.escape(p['field'])}: {html.escape(p['message'])}</li>" for p in problems or []
            )
            content = (
                "<!doctype html><title>Request refused</title><h1>Request refused</h1>"
                f"<p>{html.escape(message)}</p><ul>{details}</ul>"
            ).encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})
