"""The browser side of ``run.py record``: a visible Chromium that reports what a person does.

A script added to every page and iframe (``context.add_init_script``) listens to clicks,
typing, ticks, choices and Enter, works out how a robot would find the element — the
locators docs/writing-workflows.md teaches, best first, each checked to match only that
element on the page — and reports it through a binding (``context.expose_binding``). A
password field's value is never reported, only that it is a password. The Python side
adds dialogs (accepted, as robots do), page loads and new tabs, and hands everything to a
``robots.language.recording.Recording``.

``RecorderSessions`` lets the engine log the robot in (the system's login workflow) in the
recorder's own browser before the recording starts, so the login is never recorded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from loguru import logger

from robots.drivers.browser import acquire_playwright, launch_options, release_playwright
from robots.drivers.systems import LoginRunner, SystemSessions
from robots.drivers.web_session import WebSession, default_timeout
from robots.language import expressions
from robots.language.model import SystemSpec
from robots.language.recording import Recording

BINDING = "__tandemRecord"

RECORDER_JS = (Path(__file__).parent / "recorder.js").read_text(encoding="utf-8")
"""The listener added to every page and iframe: reports events with their locators."""

FRAME_SELECTOR_JS = """(element) => {
  const title = element.getAttribute('title'), name = element.getAttribute('name');
  if (title) return `iframe[title=${JSON.stringify(title)}]`;
  if (name) return `iframe[name=${JSON.stringify(name)}]`;
  const src = element.getAttribute('src');
  return src ? `iframe[src=${JSON.stringify(src)}]` : 'iframe';
}"""


class RecorderBrowser:
    """A visible Chromium for one system: the context the person works in."""

    def __init__(self, *, debug_port: int | None = None) -> None:
        options = launch_options(headless=False)
        if debug_port:
            options["args"] = [*options["args"], f"--remote-debugging-port={debug_port}"]
        self.playwright = acquire_playwright()
        try:
            self.browser = self.playwright.chromium.launch(**options)
        except Exception:
            release_playwright()
            raise
        self.session: WebSession | None = None

    def open(self, name: str, spec: SystemSpec, base_url: str) -> WebSession:
        """The system's session (one context, one page) in this browser."""
        if self.session is None:
            context = self.browser.new_context(
                base_url=base_url or None,
                ignore_https_errors=True,
                no_viewport=True,
                **({"locale": spec.locale} if spec.locale else {}),
            )
            context.set_default_timeout(default_timeout() * 1000)
            self.session = WebSession(system=name, spec=spec, base_url=base_url, context=context)
            self.session.new_page()
        return self.session

    def close(self) -> None:
        """Close the browser and give back the Playwright driver."""
        with contextlib.suppress(Exception):
            self.browser.close()
        release_playwright()


class RecorderSessions(SystemSessions):
    """The engine's sessions during ``run.py record``: the recorder's one browser context,
    logged in by the system's login workflow."""

    def __init__(self, browser: RecorderBrowser) -> None:
        self.browser = browser
        self.logged_in = False

    @contextlib.contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        base_url = expressions.resolve_env(spec.url, where=f"system {name} (url)") if spec.url else ""
        session = self.browser.open(name, spec, base_url)
        if login is not None and not self.logged_in:
            session.logging_in = True
            try:
                login(session)
            finally:
                session.logging_in = False
            self.logged_in = True
        session.relogin = login
        session.leave_frame()
        yield session


class Recorder:
    """Records what a person does in ``session``'s context into ``recording``."""

    def __init__(self, session: WebSession, recording: Recording, on_change: Callable[[], None]) -> None:
        self.session = session
        self.recording = recording
        self.on_change = on_change
        self.lock = threading.Lock()
        self.closed = False
        context = session.context
        context.expose_binding(BINDING, self._reported)
        context.add_init_script(RECORDER_JS)
        context.on("page", self._new_page)
        self._watch(session.page)

    def start(self, url: str) -> None:
        """Open ``url`` (relative to the system) and record from there."""
        self.session.page.goto(self.session.absolute(url))  # recorded as a web.goto by _navigated

    def wait(self, stop: threading.Event) -> None:
        """Let the browser's events arrive until ``stop`` is set or the person closed every page."""
        while not stop.is_set():
            pages = [page for page in self.session.context.pages if not page.is_closed()]
            if not pages or not self.session.context.browser.is_connected():
                return
            try:
                pages[0].wait_for_timeout(100)
            except Exception:  # the page closed while waiting
                with contextlib.suppress(Exception):
                    if not [p for p in self.session.context.pages if not p.is_closed()]:
                        return

    # -- events ---------------------------------------------------------------------------

    def _watch(self, page: Any) -> None:
        page.on("dialog", self._dialog)
        page.on("framenavigated", lambda frame: self._navigated(page, frame))

    def _new_page(self, page: Any) -> None:
        self._watch(page)
        with self.lock:
            self.recording.new_tab()
        self.on_change()

    def _dialog(self, dialog: Any) -> None:
        with self.lock:
            self.recording.dialog(dialog.message)
        self.on_change()
        with contextlib.suppress(Exception):
            dialog.accept(dialog.default_value or None)

    def _navigated(self, page: Any, frame: Any) -> None:
        if frame != page.main_frame:
            return
        with self.lock:
            self.recording.navigated(frame.url)
        self.on_change()

    def _reported(self, source: dict[str, Any], event: dict[str, Any]) -> None:
        if not isinstance(event, dict):
            return
        if event.get("frames") is None:  # an iframe of another site: ask the browser
            event["frames"] = self._frames_of(source.get("frame"))
        with self.lock:
            self.recording.event(event)
        logger.debug("recorded {}", self.recording.steps[-1] if self.recording.steps else event)
        self.on_change()

    @staticmethod
    def _frames_of(frame: Any) -> list[str]:
        chain: list[str] = []
        with contextlib.suppress(Exception):
            while frame is not None and frame.parent_frame is not None:
                chain.insert(0, frame.frame_element().evaluate(FRAME_SELECTOR_JS))
                frame = frame.parent_frame
        return chain
