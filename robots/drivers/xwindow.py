"""Windows on an X display without a window manager (Xvfb): raise and focus one, check it.

``xdotool windowactivate`` asks a window manager (``_NET_ACTIVE_WINDOW``); on a bare Xvfb
there is none, so it does nothing and keys go wherever the focus happens to be. Here the
window is raised and given the input focus directly (``XSetInputFocus``), and the focus is
read back: a step fails clearly instead of typing into another window.
"""

from __future__ import annotations

import time

from robots.errors import SystemException


def focus(display_name: str, window_id: str, *, what: str, timeout: float = 2.0) -> None:
    """Raise ``window_id`` and give it the keyboard focus; fail when it cannot have it."""
    from Xlib import X, error
    from Xlib.display import Display
    from Xlib.error import BadMatch, BadWindow

    connection = Display(display_name)
    try:
        window = connection.create_resource_object("window", int(window_id, 0))
        deadline = time.monotonic() + timeout
        while True:
            try:
                attributes = window.get_attributes()
            except BadWindow:
                raise SystemException(
                    f"the window of {what} ({window_id}) is gone: the program closed it"
                ) from None
            if attributes.map_state == X.IsViewable:
                break
            if time.monotonic() > deadline:
                raise SystemException(
                    f"the window of {what} ({window_id}) is not shown (minimised or unmapped): "
                    "keys and clicks cannot reach it"
                )
            time.sleep(0.05)
        window.configure(stack_mode=X.Above, onerror=error.CatchError())
        try:
            window.set_input_focus(X.RevertToParent, X.CurrentTime)
            connection.sync()
        except (BadMatch, BadWindow) as problem:
            raise SystemException(f"the window of {what} cannot take the keyboard focus: {problem}") from None
        while not _has_focus(connection, window):
            if time.monotonic() > deadline:
                raise SystemException(
                    f"the window of {what} ({window_id}) did not take the keyboard focus within "
                    f"{timeout:g}s: keys would go to another window"
                )
            window.set_input_focus(X.RevertToParent, X.CurrentTime)
            connection.sync()
            time.sleep(0.05)
    finally:
        connection.close()


def _has_focus(connection: object, window: object) -> bool:
    """Is the focus on ``window`` or inside it (a toolkit focuses its child widgets)?"""
    focused = connection.get_input_focus().focus  # type: ignore[attr-defined]
    target = window.id  # type: ignore[attr-defined]
    for _ in range(64):  # walk up to the root
        if not hasattr(focused, "id"):
            return False
        if focused.id == target:
            return True
        tree = focused.query_tree()
        if tree.parent is None or tree.parent.id == 0 or focused.id == tree.root.id:
            return False
        focused = tree.parent
    return False


def region_of(display_name: str, window_id: str) -> tuple[int, int, int, int]:
    """The window's place on the screen: (left, top, width, height)."""
    from Xlib.display import Display
    from Xlib.error import BadDrawable, BadWindow

    connection = Display(display_name)
    try:
        window = connection.create_resource_object("window", int(window_id, 0))
        try:
            geometry = window.get_geometry()
            origin = window.translate_coords(connection.screen().root, 0, 0)
        except (BadWindow, BadDrawable):
            raise SystemException(f"the window {window_id} is gone") from None
        return -origin.x, -origin.y, geometry.width, geometry.height
    finally:
        connection.close()
