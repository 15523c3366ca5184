"""Login throttling: growing delays after failed sign-ins, per user name and per client address.

Each wrong password costs the server an argon2 hash (about 50 ms of a core) and gives an
attacker one guess. :class:`LoginThrottle` counts failures per user name and per client
address; after a few free failures each further one locks that key for a delay that doubles
(1 s, 2 s, 4 s ... up to 15 minutes). While a key is locked, a sign-in is answered 429 with
``Retry-After`` *before* the password is checked. A success clears the user name's count
(not the address's: one valid account must not reset an attacker's address). A key that has
been quiet for ``forget_after`` seconds starts again from zero.

=================  ===============  =====================================================
key                free failures    then
=================  ===============  =====================================================
user name          5                locked 1 s, 2 s, 4 s, ... at most 15 min per failure
client address     20               the same (an office behind one NAT has many agents)
=================  ===============  =====================================================

The counts live in the server process (several server processes each count their own: an
attacker gets at most that many times the guesses). Every lock is written to the log as an
audit entry (``audit=login_throttled``) with the user name (when it names a user), the
address and the delay — never the password.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


@dataclass(frozen=True)
class ThrottleRule:
    """How many failures a key has for free and how the delay grows after them."""

    free: int
    base_seconds: float = 1.0
    max_seconds: float = 900.0

    def delay(self, failures: int) -> float:
        """The lock after the ``failures``-th failure (0 while they are free)."""
        over = failures - self.free
        if over <= 0:
            return 0.0
        return float(min(self.max_seconds, self.base_seconds * 2 ** min(over - 1, 30)))


USER_RULE = ThrottleRule(free=5)
ADDRESS_RULE = ThrottleRule(free=20)


class LoginThrottle:
    """Failed sign-ins per user name and client address (thread-safe, bounded memory)."""

    def __init__(
        self,
        *,
        user_rule: ThrottleRule = USER_RULE,
        address_rule: ThrottleRule = ADDRESS_RULE,
        forget_after: float = 3600.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = {"user": user_rule, "address": address_rule}
        self.forget_after = forget_after
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("user", username.strip().lower()), ("address", address)]

    def _entry(self, key: tuple[str, str], now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and now - entry.last > self.forget_after and entry.locked_until <= now:
            del self._failures[key]
            return None
        return entry

    def wait_seconds(self, username: str, address: str) -> float:
        """How long this sign-in must wait (0: it may be checked now)."""
        now = self.clock()
        with self._lock:
            waits = [
                entry.locked_until - now
                for key in self._keys(username, address)
                if (entry := self._entry(key, now)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, username: str, address: str, *, known_user: bool) -> float:
        """Count a failed sign-in; the lock it causes now (0 while failures are free)."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            for key in self._keys(username, address):
                entry = self._entry(key, now) or _Failures()
                entry.count += 1
                entry.last = now
                delay = self.rules[key[0]].delay(entry.count)
                if delay:
                    entry.locked_until = max(entry.locked_until, now + delay)
                    longest = max(longest, delay)
                self._failures[key] = entry
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        if longest:
            logger.bind(audit="login_throttled").warning(
                "sign-in locked for {:.0f} s after repeated failures: user {}, address {}",
                longest,
                repr(username) if known_user else "(not a user name)",
                address,
            )
        return longest

    def succeeded(self, username: str) -> None:
        """Forget the user name's failures (the address keeps its count)."""
        with self._lock:
            self._failures.pop(("user", username.strip().lower()), None)


def login_throttle(app: Any) -> LoginThrottle:
    """The app's throttle (made on first use: one per server process)."""
    throttle = getattr(app.state, "login_throttle", None)
    if throttle is None:
        throttle = app.state.login_throttle = LoginThrottle()
    return throttle
