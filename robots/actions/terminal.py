"""Terminal actions: run inside an ``in:`` block of a terminal system (``robots.drivers.terminal_session``).

Rows and columns count from 1, as host screens do. A text to find may be ``re:`` and a regular
expression. Every action that sends keys first waits out the input lock (the screen unchanged
for the system's ``settle_ms`` and its ``input_locked`` text gone).
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import Field, model_validator

from robots.drivers.screen_session import ScreenSession
from robots.errors import BusinessException, SystemException
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams, action

DEFAULT_TIMEOUT = 10.0


def _session(ctx: ActionContext) -> ScreenSession:
    if not isinstance(ctx.session, ScreenSession):
        raise SystemException(
            f"step {ctx.step}: terminal actions run inside an 'in:' block of a terminal system"
        )
    return ctx.session


def _timeout() -> Any:
    return Field(DEFAULT_TIMEOUT, gt=0, le=MAX_DURATION, description="Seconds to wait at most.")


class TypeParams(ActionParams):
    """Text to type at the cursor (into the field it is in)."""

    text: str = Field(description="The text, sent as the keyboard would (UTF-8).")
    length: int | None = Field(
        None,
        ge=1,
        description="The field's length: a longer text is refused (a business exception: the data "
        "does not fit) instead of running on into the next field.",
    )
    pad: bool = Field(
        False,
        description="Fill the field up to 'length' with spaces, so whatever it held is overwritten "
        "(a field that auto-skips then moves on by itself).",
    )
    auto_skip: bool = Field(
        True,
        description="The program moves to the next field by itself once a field is full (as 3270 "
        "and 5250 fields do): next_field then sends no Tab after a full field.",
    )
    next_field: bool = Field(
        False, description="Move on to the next field afterwards (Tab, unless the field auto-skipped)."
    )
    enter: bool = Field(False, description="Press Enter afterwards.")
    secret: bool = Field(
        False, description="A password: not checked on screen (the program does not echo it)."
    )
    verify: bool = Field(
        True,
        description="Check that the screen shows the text where it was typed (keys lost in an "
        "input lock are then a system exception, not a wrong value saved).",
    )
    timeout: float = _timeout()


@action("terminal.type", primary="text", needs="terminal", side_effect=True)
def type_text(ctx: ActionContext, params: TypeParams) -> dict[str, int]:
    """Type text at the cursor, knowing the field's length; checks it arrived; returns where.

    Example: ``- terminal.type: {text: "{{ input.postal_code }}", length: 5, next_field: true}``
    """
    session = _session(ctx)
    text = params.text
    if params.length is not None:
        if len(text) > params.length:
            raise BusinessException(
                f"{len(text)} characters do not fit the field of {params.length}: {text[:40]!r}"
            )
        if params.pad:
            text = text.ljust(params.length)
    session.settle(ctx.remaining(params.timeout))
    row, column = session.cursor()
    session.send(text)
    # Trailing spaces are not compared: programs show an empty field's rest as '_' or '.'.
    expected = text.rstrip()[: max(0, session.spec.columns - column + 1)]

    def arrived() -> bool:
        return session.read(row, column, len(expected)) == expected

    if (
        params.verify
        and not params.secret
        and expected
        and not session.wait_until(arrived, ctx.remaining(params.timeout))
    ):
        shown = session.read(row, column, len(expected))
        arrived_chars = next(
            (n for n, (a, b) in enumerate(zip(expected, shown, strict=False)) if a != b), len(expected)
        )
        raise SystemException(
            f"typed {expected!r} at row {row}, column {column}, but the screen shows other characters "
            f"there (the first {arrived_chars} of {len(expected)} arrived: keys lost in an input lock, "
            "or the cursor was not in a field)"
        )
    full = params.length is not None and len(text) >= params.length
    if params.next_field and not (full and params.auto_skip):
        session.press("tab")
    if params.enter:
        session.settle(ctx.remaining(params.timeout))
        session.press("enter")
    return {"row": row, "column": column}


class KeyParams(ActionParams):
    """Keys to press."""

    keys: str = Field(
        description="A key, or several separated by spaces: enter, tab, backtab, esc, f1..f12, "
        "shift+f1..f12, pf1..pf24, pageup, pagedown, up/down/left/right, home, end, delete, ctrl+c, "
        "or one character (a program's one-key command: w, q, /)."
    )
    times: int = Field(1, ge=1, le=80, description="How often to press them.")
    timeout: float = _timeout()


@action("terminal.key", primary="keys", needs="terminal", side_effect=True)
def key(ctx: ActionContext, params: KeyParams) -> None:
    """Press keys (function keys, Enter, Tab...), each after the input lock is over.

    Example: ``- terminal.key: f5`` or ``{keys: tab, times: 2}``
    """
    session = _session(ctx)
    sequence = [session.key_code(name) for name in params.keys.split()]
    if not sequence:
        raise SystemException("terminal.key: say which key (e.g. enter, f5, tab)")
    for _ in range(params.times):
        for code in sequence:
            session.settle(ctx.remaining(params.timeout))
            session.send_key(code)


class ReadParams(ActionParams):
    """Where to read: a position, or the value beside a label; nothing = the whole screen."""

    row: int | None = Field(None, ge=1, description="Row (1 = top); alone: the whole row.")
    column: int = Field(1, ge=1, description="Column (1 = left).")
    length: int | None = Field(None, ge=1, description="How many characters (default: to the row's end).")
    label: str | None = Field(
        None,
        description="Read the value right of this label on its row (after its dots, colons and "
        "spaces), up to 'length' characters or two spaces in a row.",
    )
    strip: bool = Field(True, description="Remove spaces (and '_' field fillers) at both ends.")

    @model_validator(mode="after")
    def _one_way(self) -> ReadParams:
        if self.label is not None and self.row is not None:
            raise ValueError("give a label or a row, not both")
        return self


def _read(session: ScreenSession, params: ReadParams) -> str:
    if params.label is not None:
        value = session.beside(params.label, params.length)[2]
    elif params.row is not None:
        value = session.read(params.row, params.column, params.length)
    else:
        return session.text()
    return value.strip(" _") if params.strip else value


@action("terminal.read", needs="terminal")
def read(ctx: ActionContext, params: ReadParams) -> str:
    """Read text from the screen: at a row and column, beside a label, or all of it.

    Example: ``- terminal.read: {label: "POSTAL CODE", length: 5}`` with ``as: postal_code``
    """
    return _read(_session(ctx), params)


class WaitParams(ActionParams):
    """What to wait for: a text, any of several texts, or a text to go away."""

    text: str | None = Field(None, description="Text (or re:regex) that must appear.")
    any: list[str] | None = Field(None, description="Several texts: wait for the first of them to appear.")
    gone: str | None = Field(None, description="Text (or re:regex) that must disappear.")
    row: int | None = Field(None, ge=1, description="Look only in this row.")
    timeout: float = _timeout()

    @model_validator(mode="after")
    def _one_thing(self) -> WaitParams:
        if sum(x is not None for x in (self.text, self.any, self.gone)) != 1:
            raise ValueError("give one of text, any or gone")
        if self.any is not None and not self.any:
            raise ValueError("'any' needs at least one text")
        return self


@action("terminal.wait_for", primary="text", needs="terminal")
def wait_for(ctx: ActionContext, params: WaitParams) -> dict[str, Any]:
    """Wait until a text appears (or one of several: says which) or is gone; fails after the timeout.

    Then it waits until the new screen is drawn whole (quiet for the system's ``settle_ms``, no
    ``input_locked`` text), so a read in the next step sees all of it, not the half a program
    has written when the text appeared.

    Returns ``{text, index, found, row, column}``: the text given (for ``any``, which one and its
    index), what is on screen there (for a ``re:`` text, what the expression matched: a whole
    message with ``re:KSE0[0-9]+.*``) and where it is.
    Example: ``- terminal.wait_for: {any: [KSM020, KSE011], timeout: 5}``
    """
    session = _session(ctx)
    timeout = ctx.remaining(params.timeout)
    if params.gone is not None:
        gone = params.gone
        if not session.wait_until(lambda: session.find(gone, params.row) is None, timeout):
            raise SystemException(f"{gone!r} is still on the screen after {params.timeout:g}s")
        _drawn(ctx, session, params.timeout)
        return {"text": gone, "index": 0, "found": None, "row": None, "column": None}
    texts = params.any if params.any is not None else [params.text or ""]
    found: dict[str, Any] = {}
    # A sign-on screen instead of the one waited for: the host signed the robot off in the
    # middle of a case. Fail at once (a system exception: the 'in' block's retry signs on
    # again) instead of waiting out the timeout. Not while the login itself runs (relogin is
    # None then): the sign-on screen is where it starts.
    signed_off = session.spec.logged_out if session.relogin is not None else None
    if signed_off in texts:
        signed_off = None

    def appeared() -> bool:
        for index, text in enumerate(texts):
            where = session.find(text, params.row)
            if where is not None:
                found.update(text=text, index=index, found=where[2].rstrip(), row=where[0], column=where[1])
                return True
        return bool(signed_off) and session.find(signed_off or "") is not None

    if not session.wait_until(appeared, timeout):
        wanted = " or ".join(repr(t) for t in texts)
        raise SystemException(
            f"{wanted} did not appear on the screen within {params.timeout:g}s; {_shows(session)}"
        )
    if not found:
        raise SystemException(
            f"{session.system} signed the robot off ({signed_off!r} is on the screen) while it "
            f"waited for {' or '.join(repr(t) for t in texts)}"
        )
    if found["text"] != session.spec.input_locked:
        _drawn(ctx, session, params.timeout)
    return found


def _shows(session: ScreenSession) -> str:
    """Which screen is up, for an error: its first line (a host's screen id and title), not
    its fields. An error is logged and shown in task reasons, and a screen's fields hold
    customer data; the whole screen, cursor included, is kept with the failure's evidence."""
    return f"the screen's first line reads {session.heading()} (the whole screen is kept with the failure)"


def _drawn(ctx: ActionContext, session: ScreenSession, timeout: float) -> None:
    """Let the screen whose sign was just seen be drawn whole before the next step reads it.

    A program in a terminal draws a new screen in several writes (its id in the corner first,
    the fields after), so a read right after the id appeared may meet half of it. This waits
    as typing does (the screen quiet for ``settle_ms``, no ``input_locked`` text); a screen that
    does not settle in time is left to the next step, which settles or fails itself.
    """
    with contextlib.suppress(SystemException):
        session.settle(ctx.remaining(timeout))


class ExistsParams(ActionParams):
    """The text to look for."""

    text: str = Field(description="Text (or re:regex).")
    row: int | None = Field(None, ge=1, description="Look only in this row.")


@action("terminal.exists", primary="text", needs="terminal")
def exists(ctx: ActionContext, params: ExistsParams) -> bool:
    """Is the text on the screen now? true or false, never a failure.

    Example: ``- terminal.exists: "SESSION EXPIRED"`` with ``as: expired``
    """
    return _session(ctx).find(params.text, params.row) is not None


class ExpectParams(ReadParams):
    """What must be on screen: a text somewhere, or a value at a place / beside a label."""

    text: str | None = Field(None, description="Text (or re:regex) that must be on the screen.")
    equals: str | None = Field(
        None, description="The value read (row/column/length or label) must equal this (both stripped)."
    )
    timeout: float = Field(2.0, gt=0, le=MAX_DURATION, description="Seconds to wait for it.")

    @model_validator(mode="after")
    def _what(self) -> ExpectParams:
        if (self.text is None) == (self.equals is None):
            raise ValueError("give text (anywhere on screen) or equals (with a label or row)")
        if self.equals is not None and self.label is None and self.row is None:
            raise ValueError("equals needs a label or a row to read")
        return self


@action("terminal.expect", primary="text", needs="terminal")
def expect(ctx: ActionContext, params: ExpectParams) -> str:
    """Check the screen: a text is there, or a field holds a value (e.g. after saving); returns it.

    Example: ``- terminal.expect: {label: "POSTAL CODE", length: 5, equals: "{{ input.postal_code }}"}``
    """
    session = _session(ctx)
    timeout = ctx.remaining(params.timeout)
    if params.text is not None:
        text = params.text
        if not session.wait_until(lambda: session.find(text) is not None, timeout):
            raise SystemException(f"expected {text!r} on the screen; {_shows(session)}")
        return text
    wanted = (params.equals or "").strip()
    if not session.wait_until(lambda: _read(session, params).strip() == wanted, timeout):
        where = f"beside {params.label!r}" if params.label else f"at row {params.row}, column {params.column}"
        raise SystemException(
            f"expected {wanted!r} {where}, the screen shows another value; {_shows(session)}"
        )
    return wanted


class CursorParams(ActionParams):
    """No parameters needed."""


@action("terminal.cursor", needs="terminal")
def cursor(ctx: ActionContext, params: CursorParams) -> dict[str, int]:
    """Where the cursor is: ``{row, column}`` (1-based).

    Example: ``- terminal.cursor`` with ``as: at``
    """
    row, column = _session(ctx).cursor()
    return {"row": row, "column": column}
