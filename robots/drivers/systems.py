"""Sessions in the applications a robot works in (``in: crm``): the engine's side.

The engine asks a ``SystemSessions`` for a logged-in session of a declared system and
runs the ``in`` block's steps with it; actions reach it as ``ctx.session``. The web and
desktop implementations live with their actions; this module holds only the contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robots.errors import SystemException
from robots.language.model import SystemSpec

LoginRunner = Callable[[Any], None]
"""Runs the system's login sub-workflow inside the given (new) session."""


class SystemSessions(ABC):
    """Opens, keeps and recycles the sessions of a robot's systems.

    Contract: ``session`` yields a session that is logged in (calling ``login`` when a new
    one is opened or an old one expired) and clean for the case; a session stays open
    across cases; ``discard`` closes it after a system exception so the next ``session``
    opens a fresh one; ``close`` ends everything and leaves no process behind.
    """

    @abstractmethod
    @contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        """A logged-in, clean session of system ``name`` for the duration of a block.

        ``project_root`` is the folder of the project whose workflow uses the system: the
        images and files a system names (a desktop ``logged_out`` or ``input_locked`` image)
        are relative to it."""

    def discard(self, name: str) -> None:
        """Close the session of ``name`` (after a failure); the next use opens a new one."""

    def capture_failure(self, name: str, directory: Path) -> list[str]:
        """Keep evidence of a failure (screenshot, trace) in ``directory``; the files."""
        return []

    def trace_in_detail(self, case_id: str) -> None:
        """Case ``case_id`` failed before (on this robot or another): record its next runs in
        more detail, where a provider can (a web trace with the page at each step)."""

    def step_screenshot(self, name: str, directory: Path, stem: str) -> str | None:
        """Keep a small picture of what session ``name`` shows now, after a step, as
        ``directory/stem.<ext>``; the file, or None when this kind of system has none to give
        (the default) or is logging in. Not free (about 40 ms in a browser, most of it
        waiting for a fresh frame): the engine asks only where a workflow or the robot's
        setting wants them."""
        return None

    def close(self) -> None:
        """Close every session and the processes behind them."""


class Unavailable(SystemSessions):
    """Used when a robot was given no session provider for a system's kind."""

    @contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        raise SystemException(
            f"this robot cannot open {spec.kind} system {name!r}: no {spec.kind} session provider is "
            "configured (run it with 'run.py run', which starts the browser and display)"
        )
        yield  # pragma: no cover - makes this a generator


class ByKind(SystemSessions):
    """Dispatches to one provider per system kind (web, desktop)."""

    def __init__(self, providers: dict[str, SystemSessions]) -> None:
        self.providers = providers
        self._kinds: dict[str, str] = {}

    def _for(self, kind: str) -> SystemSessions:
        return self.providers.get(kind) or Unavailable()

    @contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        self._kinds[name] = spec.kind
        provider = self._for(spec.kind)
        with provider.session(name, spec, login=login, case_id=case_id, project_root=project_root) as session:
            yield session

    def discard(self, name: str) -> None:
        if name in self._kinds:
            self._for(self._kinds[name]).discard(name)

    def capture_failure(self, name: str, directory: Path) -> list[str]:
        if name in self._kinds:
            return self._for(self._kinds[name]).capture_failure(name, directory)
        return []

    def trace_in_detail(self, case_id: str) -> None:
        for provider in self.providers.values():
            provider.trace_in_detail(case_id)

    def step_screenshot(self, name: str, directory: Path, stem: str) -> str | None:
        if name in self._kinds:
            return self._for(self._kinds[name]).step_screenshot(name, directory, stem)
        return None

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()
