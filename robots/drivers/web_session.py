"""Web sessions: one browser per robot, one logged-in context per system, a clean page per case.

A robot works like a clerk who stays logged in. The browser starts once; each system gets
a browser context that logs in once (the system's ``login`` sub-workflow) and keeps its
cookies across cases; each case gets a clean page, so nothing of the last case's screen
remains. After a system exception the system's context is closed and the next case logs in
afresh; every ``recycle_after`` cases (default 25) it is renewed anyway: a kept context
grows by a few MB per case (Chromium's renderer for its page and Playwright's objects for
every request) and closing it is the one thing that gives that back. Renewing every 25 cases
costs one login per 25 cases and halves the sawtooth the renderers' growth makes (robot
benchmark: about 690-820 MB, within 10 % over 500 cases after the first 100;
docs/benchmarks.md). A crashed browser is replaced.
On a failure the robot keeps a screenshot and a Playwright trace of the case. Where a
workflow asks for step screenshots, each web step leaves a small JPEG of the page
(``WebSession.thumbnail``).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from robots.drivers.browser import acquire_playwright, launch_options, release_playwright
from robots.drivers.systems import LoginRunner, SystemSessions
from robots.errors import BusinessException, SystemException
from robots.language import expressions
from robots.language.model import SystemSpec
from robots.masking import PROCESS_MASKER, scrub_zip


def default_timeout() -> float:
    """Seconds a web action waits for its element by default (``TANDEM_WEB_TIMEOUT``, 10)."""
    return float(os.environ.get("TANDEM_WEB_TIMEOUT", "10"))


TRACE_MODES = {
    "on-failure": "a trace of every action, request and console message, kept when a case fails; "
    "a case that failed before is traced with the page's DOM at each action too (as snapshots), "
    "so the trace of a failure that repeats shows the page at each step",
    "snapshots": "as on-failure, plus the page's DOM before and after every action (for "
    "debugging a workflow: about 15 % slower per case in the robot benchmark)",
    "screenshots": "as on-failure, plus Playwright's screencast: pictures of the page as it "
    "changes, which the trace viewer shows for each action and in its film strip",
    "off": "no trace (the failure's screenshot and page HTML are still kept)",
}


def trace_mode(value: str | None = None) -> str:
    """The trace mode to use: ``value``, else ``TANDEM_TRACE``, else ``on-failure``."""
    mode = (value or os.environ.get("TANDEM_TRACE") or "on-failure").strip().lower()
    if mode not in TRACE_MODES:
        raise ValueError(f"TANDEM_TRACE={mode!r} is not a trace mode: use one of {', '.join(TRACE_MODES)}")
    return mode


THUMBNAIL_WIDTH = 640
"""Width in pixels of a step screenshot (the page's viewport scaled down to it, never up)."""
THUMBNAIL_QUALITY = 50
"""JPEG quality of a step screenshot: text stays readable at ``THUMBNAIL_WIDTH``, 5-15 KB a page."""


def _log_in(session: WebSession, login: LoginRunner) -> None:
    """Run the login workflow; a failure on a login page that shows an error message is the
    app refusing the login (``LoginRefused``, quoting the page), not a missing element."""
    from robots.drivers.web_login import raise_if_refused
    from robots.errors import LoginRefused, RobotException

    session.logging_in = True
    try:
        login(session)
    except LoginRefused:
        raise
    except RobotException:
        raise_if_refused(session)
        raise
    finally:
        session.logging_in = False


@dataclass
class WebSession:
    """What web actions work with: the system's context, the case's page, the current frame."""

    system: str
    spec: SystemSpec
    base_url: str
    context: Any
    page: Any = None
    frame: Any = None  # a FrameLocator set by web.frame, or None for the page itself
    frame_path: tuple[str, ...] = ()  # the CSS selectors of the iframes leading to ``frame``
    frame_pending: bool = False  # ``frame`` was chosen and not yet found (web.frame does not wait)
    dialog_policy: str = "accept"
    dialog_prompt: str | None = None
    dialogs: list[str] = field(default_factory=list)
    cases: int = 0
    in_use: int = 0  # how many open 'in' blocks work in it (nested ones share it)
    case_id: str | None = None
    tracing: bool = False  # each case is traced (TANDEM_TRACE is not off)
    snapshots: bool = (
        False  # the case's trace keeps DOM snapshots (TANDEM_TRACE=snapshots, or it failed before)
    )
    screencast: bool = False  # the traces keep the screencast (TANDEM_TRACE=screenshots)
    trace_running: bool = False
    relogin: LoginRunner | None = None
    logging_in: bool = (
        False  # the system's login workflow runs (robots.drivers.web_login watches for a refusal)
    )
    stale: bool = False  # the page still shows the last case's screen (see fresh_case)
    cdp: Any = None  # a DevTools session on ``cdp_page``, for step screenshots
    cdp_page: Any = None

    @property
    def scope(self) -> Any:
        """Where locators are resolved: the current frame, else the page."""
        return self.frame if self.frame is not None else self.page

    def absolute(self, url: str) -> str:
        """``url`` resolved against the system's base URL."""
        if "://" in url or not self.base_url:
            return url
        return self.base_url.rstrip("/") + "/" + url.lstrip("/")

    def new_page(self) -> None:
        """Replace the page with a fresh one (a clean screen for a new case)."""
        if self.page is not None:
            with contextlib.suppress(Exception):
                self.page.close()
        self.page = self.context.new_page()
        self.page.set_default_timeout(default_timeout() * 1000)
        self.page.on("dialog", self._on_dialog)
        self.leave_frame()
        self.dialog_policy, self.dialog_prompt, self.dialogs = "accept", None, []
        self.stale = False

    def fresh_case(self) -> None:
        """Ready the kept page for a new case: nothing of the last case reaches this one.

        Cheaper than ``new_page``, which costs a new renderer process per case (the robot
        benchmark measured it as the biggest part of Tandem's overhead): windows the last
        case opened are closed, frame and dialog settings reset, and the page counts as
        stale until the case navigates — a first action other than ``web.goto`` gets a
        blank page (``ensure_clean``). The one round trip also tells whether the browser
        still answers or has crashed (reading the page's title did not raise for a crashed
        one in the e2e tests): a count of the document's root in Playwright's own world,
        which the last case's steps have set up on that document. A script in the page's
        world, as before, took longer, most of all in the slow tail (a probe of 30 each on a
        busy machine: median 5.5 against 4.2 ms, p90 31 against 10 ms).
        """
        for other in self.context.pages:
            if other != self.page:
                with contextlib.suppress(Exception):
                    other.close()
        self.page.locator(":root").count()
        self.leave_frame()
        self.dialog_policy, self.dialog_prompt, self.dialogs = "accept", None, []
        self.stale = True

    def thumbnail(self) -> bytes:
        """A small JPEG of what the page's viewport shows now (a step screenshot).

        Chromium's own capture, scaled while it encodes: Playwright's ``page.screenshot``
        cannot scale, so its JPEG of a 1280 px viewport is three times the bytes, for the
        same time (about 33 ms either way, most of it waiting for a fresh frame). The clip is
        the visual viewport where the page is scrolled to, so the picture is what a person
        at the robot's screen would see.
        """
        if self.cdp is None or self.cdp_page is not self.page:
            if self.cdp is not None:
                with contextlib.suppress(Exception):
                    self.cdp.detach()
            self.cdp, self.cdp_page = self.context.new_cdp_session(self.page), self.page
        view = self.cdp.send("Page.getLayoutMetrics")["cssVisualViewport"]
        width, height = view["clientWidth"], view["clientHeight"]
        clip = {
            "x": view["pageX"],
            "y": view["pageY"],
            "width": width,
            "height": height,
            "scale": min(1.0, THUMBNAIL_WIDTH / max(width, 1)),
        }
        shot = self.cdp.send(
            "Page.captureScreenshot",
            {"format": "jpeg", "quality": THUMBNAIL_QUALITY, "clip": clip, "optimizeForSpeed": True},
        )
        return base64.b64decode(shot["data"])

    def enter_frame(self, css: str) -> None:
        """Work inside the iframe ``css`` (of the current frame) from now on."""
        self.frame = (self.frame if self.frame is not None else self.page).frame_locator(css)
        self.frame_path = (*self.frame_path, css)
        self.frame_pending = True

    def leave_frame(self) -> None:
        """Work on the page itself again."""
        self.frame, self.frame_path, self.frame_pending = None, (), False

    def begin_trace(self, title: str) -> None:
        """Start a trace of its own for the case: actions, network, console (and DOM snapshots
        or the screencast when asked for: each costs about 11-14 % of a case, docs/benchmarks.md); a
        failure's screenshot and page HTML are saved apart.

        A whole trace per case, not a chunk of one long trace (which would save two round
        trips, about 1 ms): for a browser context Playwright keeps one network log from the
        trace's start and puts all of it, bodies included, into every chunk it saves, and it
        keeps recording requests between chunks. A failed case's trace would then hold the
        requests of the cases before it (other customers' data) and of a login in between.
        A running trace's state also grew the driver by about 50 MB over a kept context's
        cases (robot benchmark).
        """
        with contextlib.suppress(Exception):  # a trace that cannot be stopped is gone anyway
            self.end_trace()
        self.context.tracing.start(screenshots=self.screencast, snapshots=self.snapshots, title=title)
        skip_client_stacks(self.context.tracing)
        self.trace_running = True

    def end_trace(self, path: str | None = None) -> None:
        """Stop the running trace: written to ``path``, or dropped."""
        if self.trace_running:
            self.trace_running = False
            self.context.tracing.stop(path=path)

    def ensure_clean(self) -> None:
        """Blank the page if it still shows the last case (an action other than goto comes first)."""
        if self.stale:
            self.stale = False
            self.page.goto("about:blank")

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        try:
            if self.dialog_policy == "accept":
                dialog.accept(self.dialog_prompt) if self.dialog_prompt is not None else dialog.accept()
            else:
                dialog.dismiss()
        except Exception as error:  # the page may be gone already; nothing to answer then
            logger.debug("dialog could not be answered: {}", error)


def skip_client_stacks(tracing: Any) -> None:
    """Stop Playwright's Python client from sending its call stack for every call while
    ``tracing`` runs.

    The stacks feed the trace viewer's source tab, which would show Tandem's own Python, not
    the workflow (the trace's actions already name each step's locator and the step records
    name the YAML step). They cost a message to the driver per Playwright call: 25 per
    delivery case, about as many as all other messages together. Playwright offers no
    option, so this undoes what its ``Tracing.start`` did on the client's connection (a
    counter of running traces). Should a Playwright release change those internals, nothing
    is changed and the stacks are sent as before; an e2e test notices.
    """
    impl = getattr(tracing, "_impl_obj", None)
    release = getattr(getattr(impl, "_connection", None), "set_is_tracing", None)
    if impl is None or release is None or not getattr(impl, "_is_tracing", False):
        return
    impl._is_tracing = False  # its stop() then leaves the counter alone
    release(False)


RECYCLE_AFTER = 25
"""A system's context is renewed after this many of its cases unless the system says otherwise."""

DETAILED_CASES_KEPT = 1000
"""How many failed cases a robot remembers to trace with DOM snapshots when they run again."""


def _base_url(name: str, spec: SystemSpec) -> str:
    """The system's address with its ``${VARIABLES}`` resolved ("" without one)."""
    return expressions.resolve_env(spec.url, where=f"system {name} (url)") if spec.url else ""


def _declared_otherwise(session: WebSession, wanted: SystemSpec) -> bool:
    """Whether ``session`` is not one for ``wanted``: another address (as resolved: a
    ``${CRM_URL:-…}`` and the URL it names are the same), language, login or robot account
    (where the system was written does not matter)."""
    opened = session.spec
    if (opened.locale, opened.login, opened.credentials) != (wanted.locale, wanted.login, wanted.credentials):
        return True
    if opened.url == wanted.url:
        return False
    return _base_url(session.system, wanted) != session.base_url


class WebSessions(SystemSessions):
    """The web session provider of one robot (one Chromium for the robot's life)."""

    def __init__(
        self, *, headless: bool = True, recycle_after: int = RECYCLE_AFTER, trace: str | None = None
    ) -> None:
        self.headless = headless
        self.recycle_after = recycle_after
        self.trace = trace_mode(trace)
        self._playwright: Any = None
        self._browser: Any = None
        self._sessions: dict[str, WebSession] = {}
        self._detailed: OrderedDict[str, None] = OrderedDict()  # cases to trace with snapshots
        self.browser_starts = 0
        self._tag = uuid.uuid4().hex[:12]
        self._pid: int | None = None
        self.hang_timeout = float(os.environ.get("TANDEM_BROWSER_HANG_TIMEOUT", "30"))
        """Seconds a browser may take to open a page, close a context or save evidence before
        it counts as hung and is killed (and replaced on the next use)."""

    # -- the browser -----------------------------------------------------------------------

    def _ensure_browser(self) -> Any:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        if self._browser is not None:
            logger.warning("the browser is gone (crashed or closed): starting a new one")
            self._sessions.clear()
        try:
            if self._playwright is None:
                self._playwright = acquire_playwright()
            options = launch_options(headless=self.headless)
            # A switch Chromium ignores, so this robot's browser can be found in /proc.
            options["args"] = [*options["args"], f"--tandem-browser={self._tag}"]
            self._browser = self._playwright.chromium.launch(**options)
            self._pid = self._find_pid()
        except Exception as error:
            raise SystemException(
                f"cannot start Chromium: {error}. Install it with 'apt-get install chromium' "
                "(or 'python -m playwright install chromium'), or set TANDEM_CHROMIUM to its path"
            ) from error
        self.browser_starts += 1
        return self._browser

    @contextlib.contextmanager
    def _watchdog(self, what: str) -> Iterator[None]:
        """Kill the browser if ``what`` takes longer than ``hang_timeout``.

        Opening a page, closing a context or stopping a trace have no timeout of their own in
        Playwright: a hung browser would hold the robot for good. Killed, the call fails and
        the browser is replaced like a crashed one.
        """
        pid = self.browser_pid
        if pid is None:
            yield
            return

        def kill() -> None:
            logger.warning("the browser hung ({} took over {:g}s): killing it", what, self.hang_timeout)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(self.hang_timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _forget_browser(self) -> None:
        """Drop a browser that died: its contexts are gone with it, the next use starts a new one."""
        self._sessions.clear()
        if self._browser is not None:
            with contextlib.suppress(Exception), self._watchdog("closing a dead browser"):
                self._browser.close()
            self._browser = None

    @property
    def browser_pid(self) -> int | None:
        """The process id of this robot's browser (its main process), when it runs (Linux)."""
        return self._pid if self._browser is not None else None

    def _find_pid(self) -> int | None:
        tag = f"--tandem-browser={self._tag}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                words = (entry / "cmdline").read_bytes().split(b"\0")
                if tag in words and not any(word.startswith(b"--type=") for word in words):
                    return int(entry.name)
        return None

    # -- sessions --------------------------------------------------------------------------

    def _open(self, name: str, spec: SystemSpec, login: LoginRunner | None) -> WebSession:
        browser = self._ensure_browser()
        base_url = _base_url(name, spec)
        options: dict[str, Any] = {"base_url": base_url or None, "ignore_https_errors": True}
        if spec.locale:
            options["locale"] = spec.locale
        try:
            context = browser.new_context(**options)
        except Exception as error:
            logger.warning("the browser cannot open a context ({}): starting a new one", error)
            self._forget_browser()
            context = self._ensure_browser().new_context(**options)
        context.set_default_timeout(default_timeout() * 1000)
        session = WebSession(system=name, spec=spec, base_url=base_url, context=context)
        session.new_page()
        self._sessions[name] = session  # before the login, so a failed login leaves evidence too
        if login is not None:
            started = time.perf_counter()
            _log_in(session, login)
            logger.info("logged into {} in {:.0f} ms", name, (time.perf_counter() - started) * 1000)
        # Cases are traced from their first step (``session``), so never the login: a trace
        # keeps request bodies, and the login's hold the password.
        session.tracing = self.trace != "off"
        session.screencast = self.trace == "screenshots"
        return session

    def trace_in_detail(self, case_id: str) -> None:
        """Trace ``case_id``'s next runs with DOM snapshots (it failed before).

        DOM snapshots cost about 11 % of a case (docs/benchmarks.md, watch-bench): too much for
        every case, worth it for a case that failed, whose next failure's trace then shows the
        page at each step. Called after this robot kept a failure's evidence, and by the
        worker for a claimed case with failures on any robot.
        """
        self._detailed[case_id] = None
        self._detailed.move_to_end(case_id)
        while len(self._detailed) > DETAILED_CASES_KEPT:
            self._detailed.popitem(last=False)

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
        session = self._sessions.get(name)
        otherwise = session is not None and _declared_otherwise(session, spec)
        if session is not None and otherwise:
            if session.in_use:
                # An enclosing 'in' block still works in it: closing it would pull the page
                # from under that block's next step.
                raise BusinessException(
                    f"system {name} is declared otherwise here (another address, language, login "
                    f"or account) than in the enclosing 'in: {name}' block, which is still open; "
                    "give the two systems different names"
                )
            # Two workflows name different apps (or languages, or logins) alike: 'app' is what
            # every 'run.py record --url' writes. A session is for the app it was opened on.
            logger.info("system {} is declared otherwise in this workflow: a new session", name)
        if session is not None and (
            otherwise
            or not self._alive(session)
            or (session.cases >= (spec.recycle_after or self.recycle_after) and not session.in_use)
        ):
            self.discard(name)
            session = None
        if session is None:
            session = self._open(name, spec, login)
        elif session.case_id != case_id:
            try:
                with self._watchdog("opening a page"):
                    session.fresh_case()  # a clean screen for every case, the login kept
            except Exception as error:
                # A browser killed a moment ago (or just now, hung) still claims to be connected.
                logger.warning("{} cannot open a page ({}): starting a new browser", name, error)
                self._forget_browser()
                session = self._open(name, spec, login)
        if session.case_id != case_id:
            session.case_id = case_id
            session.cases += 1
            if session.tracing:
                session.snapshots = self.trace == "snapshots" or (
                    self.trace == "on-failure" and case_id in self._detailed
                )
                session.begin_trace(f"case {case_id}")
        session.relogin = login
        session.leave_frame()
        session.in_use += 1
        try:
            yield session
        finally:
            session.in_use -= 1

    @staticmethod
    def login_again(session: WebSession) -> None:
        """Log in again in the same context (the session expired); never recursively."""
        login, session.relogin = session.relogin, None
        tracing = session.tracing and login is not None
        try:
            if tracing:
                # The case's trace so far is dropped, not kept: the login must never be recorded.
                with contextlib.suppress(Exception):
                    session.end_trace()
            if login is not None:
                _log_in(session, login)
        finally:
            session.relogin = login
            if tracing:
                with contextlib.suppress(Exception):
                    session.begin_trace(f"case {session.case_id}")

    def _alive(self, session: WebSession) -> bool:
        return self._browser is not None and self._browser.is_connected() and not session.page.is_closed()

    def discard(self, name: str) -> None:
        session = self._sessions.pop(name, None)
        if session is None:
            return
        with contextlib.suppress(Exception), self._watchdog(f"closing {name}"):
            session.context.close()

    def capture_failure(self, name: str, directory: Path) -> list[str]:
        session = self._sessions.get(name)
        if session is None:
            return []
        directory.mkdir(parents=True, exist_ok=True)
        with self._watchdog(f"saving the evidence of {name}"):
            return self._save_evidence(session, name, directory)

    def step_screenshot(self, name: str, directory: Path, stem: str) -> str | None:
        session = self._sessions.get(name)
        # Never a login's page (it shows the robot's user name), never the last case's screen.
        if session is None or session.logging_in or session.stale or session.page is None:
            return None
        with self._watchdog(f"a step screenshot of {name}"):
            picture = session.thumbnail()
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{stem}.jpg"
        target.write_bytes(picture)
        return str(target)

    def _save_evidence(self, session: WebSession, name: str, directory: Path) -> list[str]:
        files: list[str] = []
        stamp = time.strftime("%H%M%S")
        with contextlib.suppress(Exception):
            shot = directory / f"{name}-{stamp}.png"
            session.page.screenshot(path=str(shot), full_page=True, timeout=5000)
            files.append(str(shot))
        with contextlib.suppress(Exception):
            html = directory / f"{name}-{stamp}.html"
            html.write_text(PROCESS_MASKER.mask_text(session.page.content()), encoding="utf-8")
            files.append(str(html))
        if session.trace_running:
            with contextlib.suppress(Exception):
                trace = directory / f"{name}-{stamp}-trace.zip"
                session.end_trace(path=str(trace))
                scrub_zip(trace, PROCESS_MASKER)  # secrets a step used are in it: never keep them
                files.append(str(trace))
                if session.case_id is not None and self.trace == "on-failure":
                    self.trace_in_detail(session.case_id)
                    session.snapshots = True
                session.begin_trace(f"case {session.case_id}")
        return files

    def close(self) -> None:
        for name in list(self._sessions):
            self.discard(name)
        if self._browser is not None:
            with contextlib.suppress(Exception), self._watchdog("closing the browser"):
                self._browser.close()
            self._browser = None
        if self._playwright is not None:
            release_playwright()
            self._playwright = None
