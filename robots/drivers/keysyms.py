"""Exact typing on an X display: every character as written, and keys by their X keysym names.

Typing goes through the XTEST extension, one key event per character, as a keyboard would send
it. A character the keyboard map holds (plain or with Shift) is typed with that key. Any other
character (``Ö`` on a US map, ``€``, ``ł``...) gets a spare keycode (one the map leaves empty)
mapped to its keysym **twice** — as the plain and as the shifted symbol. That is the fix for
capital umlauts arriving in lower case: a keycode mapped to ``Odiaeresis`` alone is read by Xlib
clients as the pair (``odiaeresis``, ``Odiaeresis``) — the lower-case letter without Shift.

A program learns of a map change some time after it was made and until then reads the key with
the old symbol (xdotool's way — remap, type, restore at once — lost characters so). So the spare
keycodes a text needs are mapped before it is typed, with one pause for all; they keep their
symbols until typing ends; a text needing more than there are reuses them least recently first,
pausing at each reuse; at the end they are emptied again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from robots.errors import SystemException

AFTER_KEYS_SECONDS = 0.02
"""A pause after each chord and each text, as pyautogui makes: the program handles the keys
before the next step looks at it (reads the clipboard it just filled, takes a screenshot)."""

SETTLE_SECONDS = 0.1
"""How long a program gets to read a key before the keycode that sent it is mapped anew."""

ALIASES = {
    # pyautogui's (and the docs') lower-case names -> X keysym names
    "enter": "Return",
    "return": "Return",
    "tab": "Tab",
    "esc": "Escape",
    "escape": "Escape",
    "space": "space",
    "backspace": "BackSpace",
    "delete": "Delete",
    "del": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pgup": "Prior",
    "pagedown": "Next",
    "pgdn": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "ctrl": "Control_L",
    "control": "Control_L",
    "ctrlleft": "Control_L",
    "ctrlright": "Control_R",
    "shift": "Shift_L",
    "shiftleft": "Shift_L",
    "shiftright": "Shift_R",
    "alt": "Alt_L",
    "altleft": "Alt_L",
    "altright": "Alt_R",
    "altgr": "ISO_Level3_Shift",
    "win": "Super_L",
    "super": "Super_L",
    "meta": "Meta_L",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "printscreen": "Print",
    "print": "Print",
    "pause": "Pause",
    "menu": "Menu",
    "apps": "Menu",
    "+": "plus",
    "plus": "plus",
    "-": "minus",
    "minus": "minus",
    **{f"f{n}": f"F{n}" for n in range(1, 25)},
}

_CONTROL_CHARACTERS = {"\n": "Return", "\r": "Return", "\t": "Tab", "\b": "BackSpace", "\x1b": "Escape"}


def keysym_of_character(character: str) -> int:
    """The X keysym that types ``character``: Latin-1 keysyms equal the code point, any other is
    the Unicode keysym 0x01000000 + the code point (Tk reads ``EuroSign`` as nothing, but the
    Unicode keysym of € as €)."""
    from Xlib import XK

    if character in _CONTROL_CHARACTERS:
        return int(XK.string_to_keysym(_CONTROL_CHARACTERS[character]))
    code = ord(character)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


def _load_keysym_names() -> None:
    """python-xlib knows only the Latin-1 and miscellany names until the other groups load."""
    import pkgutil

    from Xlib import XK, keysymdef

    for group in pkgutil.iter_modules(keysymdef.__path__):
        XK.load_keysym_group(group.name)


def keysym_of_name(name: str) -> int | None:
    """The keysym for a key name: an X keysym name (``odiaeresis``, ``Odiaeresis``, ``F5``,
    ``KP_Enter``, ``dead_acute``), an alias (``enter``, ``ctrl``, ``pageup``) or one character."""
    from Xlib import XK

    if not XK.string_to_keysym("EuroSign"):
        _load_keysym_names()
    name = name.strip()
    if not name:
        return None
    keysym = XK.string_to_keysym(name)
    if keysym:
        return int(keysym)
    alias = ALIASES.get(name.lower())
    if alias:
        return int(XK.string_to_keysym(alias))
    if len(name) == 1:
        return keysym_of_character(name)
    keysym = XK.string_to_keysym(name.capitalize())  # 'f5' was handled; e.g. 'return' -> 'Return'
    return int(keysym) or None


def _case_pair(keysym: int) -> tuple[int, int]:
    """The (plain, shifted) symbols a keycode for ``keysym`` should carry: (ö, Ö) for either."""
    character = _character_of(keysym)
    if character is None or character.lower() == character.upper():
        return keysym, keysym
    lower, upper = character.lower(), character.upper()
    if len(lower) != 1 or len(upper) != 1:  # ß upper-cases to 'SS': no pair
        return keysym, keysym
    return keysym_of_character(lower), keysym_of_character(upper)


def _character_of(keysym: int) -> str | None:
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if keysym & 0xFF000000 == 0x01000000:
        return chr(keysym & 0x00FFFFFF)
    return None


class Keyboard:
    """Key events on one X display through XTEST (see the module docstring)."""

    def __init__(self, display_name: str) -> None:
        from Xlib.display import Display

        try:
            self.connection: Any = Display(display_name)
        except Exception as error:
            raise SystemException(f"cannot open X display {display_name}: {error}") from None
        if not self.connection.has_extension("XTEST"):
            self.connection.close()
            raise SystemException(f"X display {display_name} has no XTEST extension: keys cannot be sent")
        first = self.connection.display.info.min_keycode
        last = self.connection.display.info.max_keycode
        self._first, self._count = first, last - first + 1
        mapping = self.connection.get_keyboard_mapping(first, self._count)
        self._width = max((len(row) for row in mapping), default=2)
        self._where: dict[int, tuple[int, bool]] = {}
        self._spare: list[int] = []
        for offset, row in enumerate(mapping):
            keycode = first + offset
            if not any(row):
                self._spare.append(keycode)
                continue
            for index, keysym in enumerate(row[:2]):
                if keysym and keysym not in self._where:
                    self._where[keysym] = (keycode, index == 1)
        if not self._spare:
            raise SystemException(f"X display {display_name} has no free keycode to type unusual characters")
        self._shift = self._keycode_of(int(_xk("Shift_L")))
        self._borrowed: OrderedDict[int, tuple[int, int]] = OrderedDict()  # keycode -> its pair
        self._used_at: dict[int, float] = {}

    def close(self) -> None:
        """Empty the borrowed keycodes again and close the connection."""
        try:
            if self._borrowed:
                time.sleep(SETTLE_SECONDS)  # the program may not have read the last key yet
                for keycode in self._borrowed:
                    self.connection.change_keyboard_mapping(keycode, [(0,) * self._width])
                self.connection.sync()
        finally:
            self.connection.close()

    def _keycode_of(self, keysym: int) -> int:
        found = self._where.get(keysym)
        if found is None:
            raise SystemException(f"the keyboard has no key for keysym {keysym:#x}")
        return found[0]

    def _key_for(self, keysym: int) -> tuple[int, bool]:
        """A keycode that sends ``keysym`` and whether Shift must be held for it."""
        found = self._where.get(keysym)
        if found is not None:
            return found
        for keycode, pair in self._borrowed.items():
            if keysym in pair:
                self._borrowed.move_to_end(keycode)
                return keycode, keysym != pair[0]
        keycode = self._borrow(keysym)
        # A program reads a map change some time after it was made (Tk on Xvfb: up to tens of
        # ms), and until then reads the key with the old symbol or none: give it that time.
        time.sleep(SETTLE_SECONDS)
        return keycode, keysym != self._borrowed[keycode][0]

    def _borrow(self, keysym: int) -> int:
        """Map a spare keycode (the least recently used once all are taken) to ``keysym``."""
        plain, shifted = _case_pair(keysym)
        if len(self._borrowed) < len(self._spare):
            keycode = self._spare[len(self._borrowed)]
        else:
            keycode, _previous = self._borrowed.popitem(last=False)
            wait = self._used_at.get(keycode, 0) + SETTLE_SECONDS - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        row = (plain, shifted) + (0,) * (self._width - 2)
        self.connection.change_keyboard_mapping(keycode, [row])
        self.connection.sync()
        self._borrowed[keycode] = (plain, shifted)
        return keycode

    def _prepare(self, text: str) -> None:
        """Borrow keys for the text's unusual characters up front, with one pause for all."""
        missing: list[int] = []
        for character in dict.fromkeys(text):
            keysym = keysym_of_character(character)
            if keysym in self._where or any(keysym in pair for pair in self._borrowed.values()):
                continue
            if any(keysym in _case_pair(other) for other in missing):
                continue
            missing.append(keysym)
        free = len(self._spare) - len(self._borrowed)
        for keysym in missing[:free]:
            self._borrow(keysym)
        if missing[:free]:
            time.sleep(SETTLE_SECONDS)

    def _send(self, keycode: int, press: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self.connection, X.KeyPress if press else X.KeyRelease, keycode)
        self._used_at[keycode] = time.monotonic()

    def type(self, text: str, *, interval: float = 0.0) -> None:
        """Type ``text`` character by character, each exactly as written."""
        self._prepare(text)
        for character in text:
            keycode, shifted = self._key_for(keysym_of_character(character))
            if shifted:
                self._send(self._shift, True)
            self._send(keycode, True)
            self._send(keycode, False)
            if shifted:
                self._send(self._shift, False)
            self.connection.sync()
            if interval:
                time.sleep(interval)
        time.sleep(AFTER_KEYS_SECONDS)

    def chord(self, keysyms: Sequence[int]) -> None:
        """Press keys in order and release them in reverse (``ctrl+s``, ``shift+Odiaeresis``).

        The last key's own Shift need (``Odiaeresis`` on its keycode) is honoured too."""
        held: list[int] = []
        for keysym in keysyms:
            keycode, shifted = self._key_for(keysym)
            if shifted and self._shift not in held:
                self._send(self._shift, True)
                held.append(self._shift)
            self._send(keycode, True)
            held.append(keycode)
        for keycode in reversed(held):
            self._send(keycode, False)
        self.connection.sync()
        time.sleep(AFTER_KEYS_SECONDS)


def _xk(name: str) -> int:
    from Xlib import XK

    return int(XK.string_to_keysym(name))


def parse_keys(keys: str) -> list[int]:
    """The keysyms of a chord written ``ctrl+s`` / ``shift+Odiaeresis`` / ``F5`` / ``+``."""
    names = ["+"] if keys.strip() == "+" else [part for part in keys.split("+") if part.strip()]
    if keys.strip().endswith("++"):
        names.append("+")
    keysyms, unknown = [], []
    for name in names:
        keysym = keysym_of_name(name)
        if keysym is None:
            unknown.append(name.strip())
        else:
            keysyms.append(keysym)
    if unknown or not keysyms:
        raise SystemException(
            f"unknown key(s) {unknown or [keys]}: use X keysym names (odiaeresis, Odiaeresis, F5, "
            "KP_Enter, Prior) or enter, tab, esc, ctrl, alt, shift, pageup, f1..f24, a single character"
        )
    return keysyms


@contextmanager
def keyboard(display_name: str) -> Iterator[Keyboard]:
    """A ``Keyboard`` on the display, its borrowed keys emptied at the end."""
    board = Keyboard(display_name)
    try:
        yield board
    finally:
        board.close()
