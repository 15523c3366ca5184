"""Desktop actions (pyautogui on a real X display): run inside an ``in:`` block of a desktop system.

Coordinates are screen pixels; images are PNG files (relative to the project root) found on
screen with OpenCV at a ``confidence`` (0..1), optionally within a ``region``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from robots.drivers.desktop_session import DesktopSession, display_env, screenshot
from robots.errors import SystemException
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams, action

Region = tuple[int, int, int, int]


def _session(ctx: ActionContext) -> DesktopSession:
    if not isinstance(ctx.session, DesktopSession):
        raise SystemException(
            f"step {ctx.step}: desktop actions run inside an 'in:' block of a desktop system"
        )
    return ctx.session


def _gui(session: DesktopSession) -> Any:
    """pyautogui, bound to the session's display.

    pyautogui opens its X connection once, at import, from ``DISPLAY``. A process that
    works on a second display later (another robot's Xvfb, a test's own) would otherwise
    click and type on the first one, so the connection is swapped when the display changes.
    """
    os.environ["DISPLAY"] = session.display
    import pyautogui
    from pyautogui import _pyautogui_x11 as x11

    from robots.drivers import display

    # Keyed by name and by how many displays were stopped: a new Xvfb may get the name of
    # one that is gone, and the old connection would then fail with a broken pipe.
    binding = (session.display, display.stops)
    if getattr(x11, "_tandem_display", None) != binding:
        from Xlib.display import Display

        previous = x11._display
        x11._display = Display(session.display)
        x11._tandem_display = binding
        with contextlib.suppress(Exception):  # the old display may be gone with its Xvfb
            previous.close()
    pyautogui.FAILSAFE = False  # a virtual display has no corner the operator could slam the mouse into
    pyautogui.PAUSE = 0.02
    return pyautogui


def _locate(
    ctx: ActionContext, session: DesktopSession, image: str, confidence: float, region: Region | None
) -> tuple[int, int] | None:
    import pyscreeze

    needle = ctx.project_path(image)
    if not needle.is_file():
        raise SystemException(
            f"image {image!r} not found (looked at {needle}; relative paths are under the project folder)"
        )
    with tempfile.TemporaryDirectory() as scratch:
        shot = screenshot(session.display, Path(scratch) / "screen.png", region)
        try:
            box = pyscreeze.locate(str(needle), str(shot), confidence=confidence, grayscale=False)
        except pyscreeze.ImageNotFoundException:
            return None
    if box is None:
        return None
    left, top = (region[0], region[1]) if region else (0, 0)
    return left + box.left + box.width // 2, top + box.top + box.height // 2


INPUT_LOCK_TIMEOUT = 30.0
"""Seconds a desktop program may keep its input locked before typing fails."""


def _wait_unlocked(ctx: ActionContext, session: DesktopSession) -> None:
    """Wait while the system's ``input_locked`` sign (an image .png, or a text read by OCR in
    the program's window) is on screen: keys sent meanwhile would be lost."""
    sign = session.spec.input_locked
    if not sign:
        return
    from robots.drivers.desktop_session import sign_on_screen

    deadline = time.monotonic() + ctx.remaining(INPUT_LOCK_TIMEOUT)
    while sign_on_screen(session, sign, ctx.project_root):
        if time.monotonic() >= deadline:
            raise SystemException(
                f"{session.system} keeps its input locked ({sign!r} on screen) after "
                f"{INPUT_LOCK_TIMEOUT:g}s: no keys were sent"
            )
        time.sleep(0.1)


class ImageSearch(ActionParams):
    """An image to find on screen."""

    image: str | None = Field(
        None, description="PNG cut out of a screenshot, relative to the project folder."
    )
    confidence: float = Field(0.9, ge=0.1, le=1.0, description="How close the match must be (1 = exact).")
    region: Region | None = Field(None, description="Search only here: [left, top, width, height].")
    timeout: float = Field(
        10.0, gt=0, le=MAX_DURATION, description="Seconds to wait for the image to appear."
    )


class ImageTarget(ImageSearch):
    """Where on screen: coordinates, or an image to find."""

    x: int | None = Field(None, description="Screen x in pixels.")
    y: int | None = Field(None, description="Screen y in pixels.")
    image: str | None = Field(None, description="PNG of what to click, relative to the project folder.")


class ClickParams(ImageTarget):
    """What to click and how."""

    button: str = Field("left", description="left, right or middle.")
    clicks: int = Field(1, ge=1, le=3, description="2 for a double-click.")

    @model_validator(mode="after")
    def _target(self) -> ClickParams:
        if self.image is None and (self.x is None or self.y is None):
            raise ValueError("give x and y, or an image")
        return self


def _wait_for_image(ctx: ActionContext, params: ImageSearch) -> tuple[int, int]:
    session = _session(ctx)
    assert params.image is not None
    deadline = time.monotonic() + ctx.remaining(params.timeout)
    while True:
        found = _locate(ctx, session, params.image, params.confidence, params.region)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            evidence = ctx.artifacts_dir / f"step-{ctx.step}-screen.png"
            ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
            screenshot(session.display, evidence)
            raise SystemException(
                f"image {params.image!r} not on screen (confidence {params.confidence}) within "
                f"{params.timeout:g}s; the screen is saved at {evidence}"
            )
        time.sleep(0.2)


@action("desktop.click", needs="desktop", side_effect=True)
def click(ctx: ActionContext, params: ClickParams) -> dict[str, int]:
    """Click at coordinates, or on an image once it appears on screen.

    Example: ``- desktop.click: {x: 200, y: 140}`` or ``{image: images/save.png, confidence: 0.8}``
    """
    session = _session(ctx)
    gui = _gui(session)
    if params.image is not None:
        x, y = _wait_for_image(ctx, params)
    else:
        assert params.x is not None and params.y is not None
        x, y = params.x, params.y
    gui.click(x=x, y=y, clicks=params.clicks, button=params.button)
    return {"x": x, "y": y}


class TypeParams(ActionParams):
    """Text to type into the focused field."""

    text: str = Field(
        description="The text, typed exactly as written: capitals with umlauts, ß, €, accents, any "
        "Unicode letter (a key the keyboard lacks is mapped for the moment); newline = Enter, tab = Tab."
    )
    enter: bool = Field(False, description="Press Enter afterwards.")
    clear: bool = Field(
        False, description="Replace what the (single-line) field holds: End, Shift+Home, Backspace first."
    )
    interval: float = Field(0.0, ge=0, description="Seconds between keys, for slow programs.")


@action("desktop.type", primary="text", needs="desktop", side_effect=True)
def type_text(ctx: ActionContext, params: TypeParams) -> None:
    """Type text into the focused field of the program, every character as written.

    Example: ``- desktop.type: {text: "{{ input.street }}", clear: true}``
    """
    from robots.drivers.keysyms import keyboard, parse_keys

    session = _session(ctx)
    session.activate()
    _wait_unlocked(ctx, session)
    with keyboard(session.display) as keys:
        if params.clear:
            # End, then Shift+Home selects the line in Tk, GTK, Qt, Motif and browsers alike;
            # Ctrl+A does not (in Tk and Emacs-style fields it only jumps to the start).
            keys.chord(parse_keys("End"))
            keys.chord(parse_keys("shift+Home"))
            keys.chord(parse_keys("BackSpace"))
        keys.type(params.text, interval=params.interval)
        if params.enter:
            keys.chord(parse_keys("Return"))


class HotkeyParams(ActionParams):
    """A key or chord."""

    keys: str = Field(
        description="Keys joined by '+': X keysym names (Return, F5, odiaeresis, shift+Odiaeresis, "
        "KP_Enter, Prior) or the short names enter, tab, esc, ctrl, alt, shift, pageup, f1..f24."
    )
    times: int = Field(1, ge=1, le=50, description="How often to press it.")


@action("desktop.hotkey", primary="keys", needs="desktop", side_effect=True)
def hotkey(ctx: ActionContext, params: HotkeyParams) -> None:
    """Press a key or a key chord (any X keysym name).

    Example: ``- desktop.hotkey: ctrl+s`` or ``{keys: tab, times: 3}`` or ``shift+Odiaeresis``
    """
    from robots.drivers.keysyms import keyboard, parse_keys

    session = _session(ctx)
    chord = parse_keys(params.keys)
    session.activate()
    _wait_unlocked(ctx, session)
    with keyboard(session.display) as keys:
        for _ in range(params.times):
            keys.chord(chord)


class WaitImageParams(ImageSearch):
    """The image to wait for (or to wait until it is gone)."""

    image: str = Field(description="PNG cut out of a screenshot, relative to the project folder.")
    gone: bool = Field(False, description="Wait until the image is no longer on screen instead.")


@action("desktop.wait_for_image", primary="image", needs="desktop")
def wait_for_image(ctx: ActionContext, params: WaitImageParams) -> dict[str, int]:
    """Wait until an image appears on screen (returns its centre) or, with ``gone``, disappears.

    Example: ``- desktop.wait_for_image: {image: images/saved.png, timeout: 5}``
    """
    if params.gone:
        session = _session(ctx)
        deadline = time.monotonic() + ctx.remaining(params.timeout)
        while _locate(ctx, session, params.image, params.confidence, params.region) is not None:
            if time.monotonic() >= deadline:
                raise SystemException(f"image {params.image!r} is still on screen after {params.timeout:g}s")
            time.sleep(0.2)
        return {}
    x, y = _wait_for_image(ctx, params)
    return {"x": x, "y": y}


class ClipboardParams(ActionParams):
    """Which selection to read."""

    selection: Literal["clipboard", "primary"] = Field(
        "clipboard",
        description="clipboard (what Ctrl+C / a program's copy command put there) or primary (the "
        "text last selected with the mouse, which terminals such as xterm copy to).",
    )


@action("desktop.read_clipboard", needs="desktop")
def read_clipboard(ctx: ActionContext, params: ClipboardParams) -> str:
    """Read the text on the clipboard or in the PRIMARY selection (e.g. after the program copied a field).

    Example: ``- desktop.read_clipboard`` with ``as: phone``, or ``{selection: primary}``
    """
    session = _session(ctx)
    if not shutil.which("xclip"):
        raise SystemException("reading the clipboard needs xclip: apt-get install xclip")
    result = subprocess.run(
        ["xclip", "-o", "-selection", params.selection],
        env=display_env(session.display),
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    if result.returncode != 0:
        raise SystemException(
            f"the {params.selection} selection is empty or unreadable: {result.stderr.strip() or 'no text'}"
        )
    return result.stdout


class ScreenshotParams(ActionParams):
    """What to capture."""

    path: str | None = Field(None, description="File name in the case's artifacts.")
    region: Region | None = Field(None, description="Only this part: [left, top, width, height].")


@action("desktop.screenshot", needs="desktop")
def take_screenshot(ctx: ActionContext, params: ScreenshotParams) -> str:
    """Save a screenshot of the display (or a region) with the case; returns its path.

    Example: ``- desktop.screenshot: {region: [0, 0, 800, 600]}``
    """
    session = _session(ctx)
    ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
    target = ctx.artifacts_dir / (params.path or f"step-{ctx.step}-desktop.png")
    return str(screenshot(session.display, target, params.region))


class LaunchParams(ActionParams):
    """A program to start on the robot's display."""

    command: str = Field(description="The command line (run in the project folder).")
    window: str | None = Field(None, description="Wait for a window titled like this (regex).")
    timeout: float = Field(20.0, gt=0, le=MAX_DURATION, description="Seconds to wait for the window.")


@action("desktop.launch", primary="command", needs="desktop", side_effect=True)
def launch(ctx: ActionContext, params: LaunchParams) -> dict[str, Any]:
    """Start another program on the robot's display (besides the system's own program).

    Example: ``- desktop.launch: {command: "xcalc", window: Calculator}``
    """
    import shlex

    from robots.drivers.desktop_session import find_window

    session = _session(ctx)
    try:
        process = subprocess.Popen(
            shlex.split(params.command),
            cwd=ctx.project_root,  # relative paths in the command line are the project's
            env=display_env(session.display),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as error:
        raise SystemException(f"cannot start {params.command!r}: {error}") from None
    session.launched.append(process)  # stopped with the session, so it cannot outlive the robot
    window = (
        find_window(session.display, params.window, ctx.remaining(params.timeout)) if params.window else None
    )
    return {"pid": process.pid, "window": window}


class CloseParams(ActionParams):
    """Which program to close."""

    window: str | None = Field(
        None, description="Close the window titled like this (regex); default: the system's."
    )
    timeout: float = Field(
        5.0, gt=0, le=MAX_DURATION, description="Seconds the program gets to close its window."
    )


def _request_close(display: str, window: str) -> None:
    """Send WM_DELETE_WINDOW, as a window manager does for the close button.

    A program that does not take part in that protocol gets its window destroyed instead.
    """
    from Xlib import X, error, protocol
    from Xlib.display import Display
    from Xlib.error import BadWindow

    connection = Display(display)
    try:
        target = connection.create_resource_object("window", int(window, 0))
        delete = connection.intern_atom("WM_DELETE_WINDOW")
        if delete in (target.get_wm_protocols() or []):
            message = protocol.event.ClientMessage(
                window=target,
                client_type=connection.intern_atom("WM_PROTOCOLS"),
                data=(32, [delete, X.CurrentTime, 0, 0, 0]),
            )
            target.send_event(message, event_mask=X.NoEventMask, onerror=error.CatchError())
        else:
            target.destroy(onerror=error.CatchError())
        connection.sync()
    except BadWindow:
        pass  # closed already
    finally:
        connection.close()


def _window_exists(display: str, window: str) -> bool:
    from Xlib.display import Display
    from Xlib.error import BadWindow

    connection = Display(display)
    try:
        connection.create_resource_object("window", int(window, 0)).get_attributes()
        return True
    except BadWindow:
        return False
    finally:
        connection.close()


@action("desktop.close", primary="window", needs="desktop", side_effect=True)
def close(ctx: ActionContext, params: CloseParams) -> None:
    """Close a window politely (WM_DELETE_WINDOW, like its close button) and wait until it is gone.

    Example: ``- desktop.close: Calculator``
    """
    from robots.drivers.desktop_session import find_window

    session = _session(ctx)
    window = find_window(session.display, params.window, 2.0) if params.window else session.window_id
    if window is None:
        raise SystemException("desktop.close: say which window (window: <title>)")
    _request_close(session.display, window)
    started = time.monotonic()
    deadline, asked = started + ctx.remaining(params.timeout), 1
    while _window_exists(session.display, window):
        if time.monotonic() - started > asked:
            # Tk (and others) can miss a close request that arrives while the window is
            # still being set up; like a user, ask again, once a second.
            _request_close(session.display, window)
            asked += 1
        if time.monotonic() >= deadline:
            raise SystemException(
                f"the window {params.window or session.system!r} is still open {params.timeout:g}s after "
                "it was asked to close (is the program asking something, e.g. to save?)"
            )
        time.sleep(0.05)
