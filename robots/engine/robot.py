"""A robot's equipment: the sessions for the systems a workflow uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from robots.drivers.systems import ByKind, SystemSessions
from robots.language.model import Workflow


def make_sessions(*, headed: bool = False) -> ByKind:
    """Session providers for every kind of system; each starts its browser or display lazily."""
    from robots.drivers.web_session import WebSessions

    providers: dict[str, SystemSessions] = {"web": WebSessions(headless=not headed)}
    try:
        from robots.drivers.desktop_session import DesktopSessions
    except ImportError:  # desktop support not installed in this checkout
        pass
    else:
        providers["desktop"] = DesktopSessions()
    from robots.drivers.terminal_session import TerminalSessions

    providers["terminal"] = TerminalSessions()
    return ByKind(providers)


@contextmanager
def robot_sessions(workflow: Workflow | None = None, *, headed: bool = False) -> Iterator[SystemSessions]:
    """Session providers for a robot's life, closed (browser and display too) at the end."""
    sessions = make_sessions(headed=headed)
    try:
        yield sessions
    finally:
        sessions.close()
