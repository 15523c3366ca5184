"""Finding and launching Chromium: Debian's system Chromium first, Playwright's own after."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from typing import Any

from robots.drivers.clean_env import clean_environment, keep_secrets_from_playwright_driver

# Flags that keep Chromium from reaching out to the network on its own (updates, sync,
# first-run pages) and make it run as root in containers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


def system_chromium() -> str | None:
    """Path of an installed system Chromium (``TANDEM_CHROMIUM`` wins), or None."""
    configured = os.environ.get("TANDEM_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_options(*, headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch`` (an environment without secrets)."""
    options: dict[str, Any] = {"headless": headless, "args": list(CHROMIUM_ARGS), "env": clean_environment()}
    executable = system_chromium()
    if executable:
        options["executable_path"] = executable
    return options


# Playwright's sync API allows one driver per thread: a second ``sync_playwright().start()``
# in the same thread fails ("using Playwright Sync API inside the asyncio loop"). Every
# browser a thread launches therefore shares that thread's driver, counted by its users.
_drivers: dict[int, list[Any]] = {}


def acquire_playwright() -> Any:
    """This thread's Playwright driver, started on first use; pair with ``release_playwright``."""
    key = threading.get_ident()
    entry = _drivers.get(key)
    if entry is None:
        from playwright.sync_api import sync_playwright

        keep_secrets_from_playwright_driver()
        entry = _drivers[key] = [sync_playwright().start(), 0]
    entry[1] += 1
    return entry[0]


def release_playwright() -> None:
    """Give back this thread's driver; the last user stops it."""
    key = threading.get_ident()
    entry = _drivers.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _drivers[key]
        with contextlib.suppress(Exception):
            entry[0].stop()
