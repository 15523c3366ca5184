"""Who may call the channel API, and how often: channel tokens and rate limits.

Every call except health needs ``Authorization: Bearer <token>``; a token is checked against
the store (``TokenCache`` keeps recently verified ones for ``ServerSettings.token_cache_seconds``)
and counted against its channel's rate limit (``RateLimiter``, a sliding window per key). The
webform counts its submissions per client address with the same limiter (``enforce_rate``).

Owns: ``RateLimiter``, ``enforce_rate``, ``TokenCache``, ``channel_token`` and the ``Token``
dependency of the API's routes.

May import: ``orchestrator.control_room.api_metrics`` (refusals are counted) and
``orchestrator.models``; the store only through ``request.app.state``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse_many, storage, strategies
from limits.errors import ConfigurationError as LimitsConfigurationError

from orchestrator.control_room.api_metrics import ApiMetrics
from orchestrator.models import ApiToken


class RateLimiter:
    """Counts requests per key (token, client address) against limits like ``50/second``."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        try:
            self._storage = storage.storage_from_string(storage_uri)
        except (LimitsConfigurationError, ValueError) as error:
            raise ValueError(
                f"rate_limit_storage {storage_uri!r} cannot be used ({error}); "
                "use 'memory://' or 'redis://host:6379'"
            ) from None
        # A sliding window counter: smooth like a moving window, but O(1) memory per key.
        self._limiter = strategies.SlidingWindowCounterRateLimiter(self._storage)
        self._parsed: dict[str, list[RateLimitItem]] = {}

    @staticmethod
    def parse(notation: str) -> list[RateLimitItem]:
        """The limits of ``notation`` ('50/second;1000/minute'); ValueError saying how to write one."""
        try:
            items = parse_many(notation)
        except ValueError:
            raise ValueError(
                f"rate limit {notation!r} is not valid: write e.g. '50/second' or '50/second;1000/minute'"
            ) from None
        if not items:
            raise ValueError(f"rate limit {notation!r} names no limit: write e.g. '50/second'")
        return items

    def hit(self, notation: str, key: str) -> float | None:
        """Count one request for ``key``; None when allowed, else seconds until the next is."""
        items = self._parsed.get(notation)
        if items is None:
            items = self._parsed[notation] = self.parse(notation)
        for item in items:
            if not self._limiter.hit(item, key):
                reset_at = self._limiter.get_window_stats(item, key).reset_time
                return max(1.0, reset_at - time.time())
        return None


def enforce_rate(request: Request, notation: str, key: str) -> None:
    """Raise 429 (with Retry-After) when ``key`` is over ``notation``."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.hit(notation, key)
    if wait is not None:
        raise HTTPException(
            status_code=429,
            detail=f"rate limit {notation} exceeded; retry in {wait:.0f} s",
            headers={"Retry-After": str(int(wait + 0.999))},
        )


class TokenCache:
    """Recently verified tokens, so a busy channel does not cost a database read per request.

    Only valid tokens are kept, for ``seconds`` (``ServerSettings.token_cache_seconds``): a
    revoked token stops working within that time on every server process. 0 turns it off.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, ApiToken]] = {}

    def verify(self, plaintext: str, store: Any) -> ApiToken | None:
        """The token's record if it is valid (from the cache or the store), else None."""
        if self.seconds <= 0:
            return store.verify_token(plaintext)
        key = hashlib.sha256(plaintext.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        token: ApiToken | None = store.verify_token(plaintext)
        with self._lock:
            if token is None:
                self._tokens.pop(key, None)
            else:
                if len(self._tokens) > 10_000:  # bounded: tokens are few, this only guards memory
                    self._tokens.clear()
                self._tokens[key] = (now + self.seconds, token)
        return token


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="channel token",
    description="The channel's API token (issued with `run.py token create`).",
)


def channel_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The caller's token, checked and counted against its rate limit; 401/429 otherwise."""
    metrics: ApiMetrics = request.app.state.metrics
    presented = credentials.credentials if credentials is not None else ""
    token = request.app.state.token_cache.verify(presented, request.app.state.store) if presented else None
    if token is None:
        metrics.rejected.labels("auth").inc()
        raise HTTPException(
            status_code=401,
            detail=(
                "the API token is not valid or was revoked; ask the operators for a new one"
                if presented
                else "an API token is required: send 'Authorization: Bearer <token>'"
            ),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"' if presented else "Bearer"},
        )
    settings = request.app.state.settings
    limit = settings.channel_rate_limits.get(token.channel, settings.rate_limit)
    try:
        enforce_rate(request, limit, f"token:{token.id}")
    except HTTPException:
        metrics.rejected.labels("rate").inc()
        raise
    return token


Token = Annotated[ApiToken, Depends(channel_token)]
