"""The environment a robot's child processes get: everything but the secrets.

The env vault keeps robot credentials in ``TANDEM_SECRET_*`` variables, and a deployment may
hold database URLs with passwords or API tokens in others. A child process inherits all of
them and anyone who can read ``/proc/PID/environ`` of a Chromium (or a page that exploits it)
can too. Chromium, the Playwright driver and desktop programs need none of them, so they
start with :func:`clean_environment`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

#: Variable names that hold secrets: the vault's prefix and the usual words for credentials.
SECRET_NAME = re.compile(
    r"^TANDEM_SECRET_|SECRET|PASSW|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|SESSION_?KEY",
    re.IGNORECASE,
)
#: A URL with a password in it (``postgresql://user:password@host/db``).
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def is_secret(name: str, value: str) -> bool:
    """Whether the variable ``name=value`` looks like it holds a secret."""
    return bool(SECRET_NAME.search(name) or URL_WITH_PASSWORD.search(value))


def clean_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default: this process's) without the variables that hold secrets."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if not is_secret(name, value)}


def without_secrets(get_env: Any) -> Any:
    """``get_env`` (a function returning an environment) filtered by :func:`clean_environment`."""

    def filtered() -> dict[str, str]:
        return clean_environment(get_env())

    filtered.__wrapped__ = get_env  # type: ignore[attr-defined]
    return filtered


def keep_secrets_from_playwright_driver() -> None:
    """Make the Playwright driver (and so every browser it starts) start without secrets.

    Playwright builds the driver's environment from ``os.environ`` with no way to pass one;
    its transport module looks the builder up by name, so it is wrapped there (once).
    """
    try:
        from playwright._impl import transport
    except ImportError:  # pragma: no cover - Playwright is a dependency
        return
    current = getattr(transport, "get_driver_env", None)
    if current is None or hasattr(current, "__wrapped__"):
        return
    transport.get_driver_env = without_secrets(current)
