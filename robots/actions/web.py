"""Web actions (Playwright, Chromium): run inside an ``in:`` block of a web system.

Elements are found the way a person sees them — by role and name, label, placeholder,
text or test id — with CSS as a last resort, and Playwright's auto-waiting. A locator that
matches nothing, or several elements, fails with what the page had instead.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from robots.drivers.web_session import WebSession, WebSessions, default_timeout
from robots.errors import SystemException
from robots.language.model import MAX_DURATION, url_pattern
from robots.language.registry import ActionContext, ActionParams, action

_LOCATOR_KEYS = ("role", "label", "placeholder", "text", "test_id", "css")


class Target(ActionParams):
    """How to find an element: one of role (+ name), label, placeholder, text, test_id, css."""

    role: str | None = Field(None, description="ARIA role: button, link, textbox, row, cell, heading...")
    name: str | None = Field(
        None, description="Accessible name with role (a button's text, a field's label)."
    )
    label: str | None = Field(None, description="The text of the field's <label>.")
    placeholder: str | None = Field(None, description="The field's placeholder text.")
    text: str | None = Field(None, description="Visible text of the element.")
    test_id: str | None = Field(None, description="The data-testid attribute.")
    css: str | None = Field(None, description="A CSS selector (last resort: it breaks when markup changes).")
    exact: bool = Field(False, description="Match name, label or text exactly (not as a substring).")
    nth: int | None = Field(None, description="Take the n-th match (0-based) when several match on purpose.")
    within: str | None = Field(None, description="CSS selector of a container to search inside.")
    frame: str | None = Field(
        None, description="CSS selector of an iframe to search inside (this step only)."
    )
    timeout: float | None = Field(
        None, gt=0, le=MAX_DURATION, description="Seconds to wait for the element (default 10)."
    )

    def has_target(self) -> bool:
        """True when a locator was given."""
        return any(getattr(self, key) is not None for key in _LOCATOR_KEYS)

    def describe(self) -> str:
        """The locator as a person would say it: ``role=button name='Save'``."""
        parts = [
            f"{key}={getattr(self, key)!r}"
            for key in (*_LOCATOR_KEYS, "name")
            if getattr(self, key) is not None
        ]
        if self.nth is not None:
            parts.append(f"nth={self.nth}")
        return " ".join(parts)


class ElementParams(Target):
    """A locator that must be given."""

    @model_validator(mode="after")
    def _one_locator(self) -> ElementParams:
        given = [key for key in _LOCATOR_KEYS if getattr(self, key) is not None]
        if not given:
            raise ValueError(f"say which element: give one of {', '.join(_LOCATOR_KEYS)}")
        if len(given) > 1:
            raise ValueError(f"give one locator, not {' and '.join(given)} (use 'within' to narrow down)")
        if self.name is not None and self.role is None:
            raise ValueError("'name' goes with 'role' (e.g. role: button, name: Save)")
        return self


def _session(ctx: ActionContext, *, navigating: bool = False) -> WebSession:
    session = ctx.session
    if not isinstance(session, WebSession):
        raise SystemException(f"step {ctx.step}: web actions run inside an 'in:' block of a web system")
    if navigating:
        session.stale = False  # the navigation itself replaces the last case's screen
    else:
        session.ensure_clean()
    return session


def _timeout_ms(ctx: ActionContext, seconds: float | None) -> float:
    return ctx.remaining(seconds if seconds is not None else default_timeout()) * 1000


def _scope(session: WebSession, target: Target) -> Any:
    scope = session.scope
    if target.frame:
        scope = scope.frame_locator(target.frame)
    if target.within:
        scope = scope.locator(target.within)
    return scope


def _locator(session: WebSession, target: Target) -> Any:
    return _locator_in(_scope(session, target), target)


def _locator_in(scope: Any, target: Target) -> Any:
    """``target``'s locator inside ``scope`` (a page, frame, frame locator or element)."""
    if target.role is not None:
        found = scope.get_by_role(target.role, name=target.name, exact=target.exact or None)
    elif target.label is not None:
        found = scope.get_by_label(target.label, exact=target.exact)
    elif target.placeholder is not None:
        found = scope.get_by_placeholder(target.placeholder, exact=target.exact)
    elif target.text is not None:
        found = scope.get_by_text(target.text, exact=target.exact)
    elif target.test_id is not None:
        found = scope.get_by_test_id(target.test_id)
    else:
        found = scope.locator(target.css)
    return found.nth(target.nth) if target.nth is not None else found


_INVENTORY_SCRIPT = """(kind) => {
  const seen = new Set(); const out = [];
  const push = (t) => { t = (t || '').replace(/\\s+/g, ' ').trim(); if (t && !seen.has(t) && out.length < 15) { seen.add(t); out.push(t); } };
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  // The text as written, which locators match, where a style sheet only changed its case
  // ('LOG OUT' on screen for 'Log out'); else the text shown.
  const text = (e) => { const shown = (e.innerText || '').replace(/\\s+/g, ' ').trim(), written = (e.textContent || '').replace(/\\s+/g, ' ').trim();
    return shown !== written && shown.toUpperCase() === written.toUpperCase() ? written : shown; };
  if (kind === 'label') {
    document.querySelectorAll('label').forEach(e => visible(e) && push(text(e)));
    document.querySelectorAll('[aria-label]').forEach(e => visible(e) && push(e.getAttribute('aria-label')));
  } else if (kind === 'placeholder') {
    document.querySelectorAll('[placeholder]').forEach(e => visible(e) && push(e.getAttribute('placeholder')));
  } else if (kind === 'test_id') {
    document.querySelectorAll('[data-testid]').forEach(e => push(e.getAttribute('data-testid')));
  } else if (kind === 'button') {
    document.querySelectorAll('button, [role=button], input[type=submit], input[type=button]').forEach(e => visible(e) && push(text(e) || e.value || e.getAttribute('aria-label')));
  } else if (kind === 'link') {
    document.querySelectorAll('a[href], [role=link]').forEach(e => visible(e) && push(text(e)));
  } else if (kind === 'textbox') {
    document.querySelectorAll('input:not([type=hidden]):not([type=submit]):not([type=button]), textarea').forEach(e => {
      if (!visible(e)) return; const l = e.labels && e.labels[0]; push((l && text(l)) || e.getAttribute('aria-label') || e.placeholder || e.name);
    });
  } else if (kind === 'heading') {
    document.querySelectorAll('h1,h2,h3,h4,h5,h6,[role=heading]').forEach(e => visible(e) && push(text(e)));
  } else {
    document.querySelectorAll('button, a[href], label, h1, h2, h3, [role]').forEach(e => visible(e) && push(text(e)));
  }
  return out;
}"""


def _what_page_has(session: WebSession, target: Target) -> str:
    """A short inventory of what the page offers instead, for error messages."""
    kind = (
        "label"
        if target.label
        else "placeholder"
        if target.placeholder
        else "test_id"
        if target.test_id
        else (target.role or "any")
    )
    kind = (
        kind if kind in ("label", "placeholder", "test_id", "button", "link", "textbox", "heading") else "any"
    )
    names = {
        "label": "labels",
        "placeholder": "placeholders",
        "test_id": "test ids",
        "button": "buttons",
        "link": "links",
        "textbox": "text fields",
        "heading": "headings",
        "any": "elements",
    }
    try:
        frame_scope = _frame_of(session, _frame_path(session, target))
        if isinstance(frame_scope, str):
            return ""  # an iframe on the way is missing: _missing_frame says so
        found = frame_scope.evaluate(_INVENTORY_SCRIPT, kind)
    except Exception:
        return ""
    shown = ", ".join(repr(item[:60]) for item in found) if found else "none"
    return f"; the {_where_kind(session, target)} has these {names[kind]}: {shown}{_frames_having(session, target)}"


def _where_kind(session: WebSession, target: Target | None) -> str:
    return "iframe" if _frame_path(session, target) else "page"


def _frame_selector(frame: Any) -> str:
    """A CSS selector for the iframe element of ``frame``, as a workflow would write it."""
    try:
        element = frame.frame_element()
        for attribute in ("title", "name", "id"):
            value = element.get_attribute(attribute)
            if value:
                return "iframe#" + value if attribute == "id" else f"iframe[{attribute}='{value}']"
        source = element.get_attribute("src")
        if source:
            return f"iframe[src='{source}']"
    except Exception:
        pass
    return "iframe"


def _frames_having(session: WebSession, target: Target) -> str:
    """When the element is not where the step looked but inside an iframe: which iframes have
    it, and the ``web.frame`` step that goes there (a missing ``web.frame`` is a common slip)."""
    try:
        here = _frame_of(session, _frame_path(session, target))
        if isinstance(here, str):
            return ""
        having = []
        for frame in here.child_frames:
            inner = frame.locator(target.within) if target.within else frame
            if _locator_in(inner, target).count() > 0:
                having.append((_frame_selector(frame), frame.url))
        if not having:
            return ""
        shown = ", ".join(f"{css} ({url})" for css, url in having)
        return f'; an iframe has it: {shown}: add - web.frame: "{having[0][0]}" before this step'
    except Exception:
        return ""


def _location(session: WebSession, target: Target | None) -> str:
    """Where a step looked: " on <page URL>", or " in iframe <css> (<its URL>)" inside a frame."""
    try:
        path = _frame_path(session, target)
        if path:
            frame = _frame_of(session, path)
            if not isinstance(frame, str):
                return f" in iframe {path[-1]!r} ({frame.url})"
        return f" on {session.page.url}"
    except Exception:
        return ""


def _frame_path(session: WebSession, target: Target | None) -> tuple[str, ...]:
    """The iframes (CSS selectors, outermost first) a step's locator searches inside."""
    if target is not None and target.frame:
        return (*session.frame_path, target.frame)
    return session.frame_path


def _frame_of(session: WebSession, path: tuple[str, ...]) -> Any:
    """The frame at the end of ``path``, or the selector of the first iframe that is not there."""
    frame = session.page.main_frame
    for css in path:
        handle = frame.query_selector(css)
        inner = handle.content_frame() if handle is not None else None
        if inner is None:
            return css
        frame = inner
    return frame


def _missing_frame(session: WebSession, target: Target | None) -> str | None:
    """Why nothing was found, when it is that an iframe on the way is missing (else None).

    ``web.frame`` does not wait for its iframe (that would cost a round trip to the browser
    per use): the next step's locator waits for it, and only when that fails is it looked at.
    """
    path = _frame_path(session, target)
    if not path:
        return None
    try:
        missing = _frame_of(session, path)
        if not isinstance(missing, str):
            return None
        frames = [f.name or f.url for f in session.page.frames[1:]]
        return f"no iframe {missing!r} on {session.page.url}; frames on the page: {frames or 'none'}"
    except Exception:
        return None


def _explain(session: WebSession, target: Target, error: Exception, doing: str) -> SystemException:
    """Turn a Playwright error into a message that says what was looked for and what was there."""
    text = str(error).split("\n")[0]
    url = _location(session, target)
    if "strict mode violation" in str(error):
        match = re.search(r"resolved to (\d+) elements", str(error))
        count = match.group(1) if match else "several"
        return SystemException(
            f"{doing}: {target.describe()} matches {count} elements{url}; make it unique with exact: true, "
            "a fuller name, 'within', or choose one with nth"
        )
    if "Timeout" in type(error).__name__ or "Timeout" in text:
        missing = _missing_frame(session, target)
        if missing:
            return SystemException(f"{doing}: {missing}")
        inventory = _what_page_has(session, target)
        return SystemException(f"{doing}: no element {target.describe()}{url} within the timeout{inventory}")
    return SystemException(f"{doing}: {text}{url}")


def _element(ctx: ActionContext, target: Target, doing: str, *, state: str = "visible") -> Any:
    """The one element ``target`` names, waited for; a clear SystemException otherwise."""
    session = _session(ctx)
    locator = _locator(session, target)
    try:
        locator.wait_for(state=state, timeout=_timeout_ms(ctx, target.timeout))
    except Exception as error:
        if "strict mode violation" in str(error):
            raise _ambiguous(locator, target, doing) from None
        raise _explain(session, target, error, doing) from None
    session.frame_pending = False  # found inside the frame, so the frame is there
    return locator


def _act(ctx: ActionContext, target: Target, doing: str, operation: Any) -> Any:
    """Do ``operation(locator, timeout_ms)`` on the element, explaining failures.

    One round trip to the browser: Playwright waits for the element and refuses several
    matches (strict mode) by itself; only a failure costs a second look at the page.
    """
    session = _session(ctx)
    locator = _locator(session, target)
    try:
        result = operation(locator, _timeout_ms(ctx, target.timeout))
    except SystemException:
        raise
    except Exception as error:
        if "strict mode violation" in str(error):
            raise _ambiguous(locator, target, doing) from None
        raise _explain(session, target, error, doing) from None
    session.frame_pending = False  # the element was found inside the frame
    return result


def _frame_ready(ctx: ActionContext, session: WebSession) -> None:
    """Wait for the iframe ``web.frame`` chose, before a step that would not wait for it.

    Steps that act on or read an element wait for it, and so for its iframe. A count, a
    check that something is hidden or gone, or an expectation would instead see nothing in
    an iframe that has not loaded yet, and pass or count 0 wrongly.
    """
    if not session.frame_pending:
        return
    scope = session.page
    for css in session.frame_path:
        try:
            scope.locator(css).first.wait_for(timeout=_timeout_ms(ctx, None))
        except Exception:
            raise SystemException(_missing_frame(session, None) or f"no iframe {css!r}") from None
        scope = scope.frame_locator(css)
    session.frame_pending = False


def _ambiguous(locator: Any, target: Target, doing: str) -> SystemException:
    try:
        count = locator.count()
        texts = [" ".join(t.split())[:40] for t in locator.all_inner_texts()[:5]]
    except Exception:
        count, texts = 0, []
    shown = f" ({', '.join(map(repr, texts))})" if texts else ""
    return SystemException(
        f"{doing}: {target.describe()} matches {count or 'several'} elements{shown}; "
        "make it unique with exact: true, a fuller name, 'within', or choose one with nth"
    )


# -- navigation ---------------------------------------------------------------------------------


class GotoParams(ActionParams):
    """Where to go."""

    url: str = Field(description="URL, absolute or relative to the system's url.")
    wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = Field(
        "domcontentloaded", description="What counts as arrived."
    )
    timeout: float | None = Field(None, gt=0, le=MAX_DURATION, description="Seconds (default 10).")


def _looks_logged_out(session: WebSession) -> bool:
    """Does the page say the session expired? By its address (``logged_out_url``: known here,
    no round trip), else by an element (``logged_out``: one round trip to the browser)."""
    spec = session.spec
    if spec.logged_out_url and url_pattern(spec.logged_out_url).search(session.page.url):
        return True
    if not spec.logged_out:
        return False
    try:
        return bool(session.page.locator(spec.logged_out).count() > 0)
    except Exception:
        return False


@action("web.goto", primary="url", needs="web")
def goto(ctx: ActionContext, params: GotoParams) -> str:
    """Open a page of the system. Relative URLs are resolved against the system's ``url``.

    If the page is one the system's ``logged_out_url`` or ``logged_out`` names (the session
    expired), the robot logs in again and opens the page once more. An error status (4xx/5xx) or an
    unreachable app is a system exception.

    Example: ``- web.goto: "/customers/{{ input.customer_id }}"``
    """
    session = _session(ctx, navigating=True)
    url = session.absolute(params.url)

    def navigate() -> Any:
        try:
            return session.page.goto(
                url, wait_until=params.wait_until, timeout=_timeout_ms(ctx, params.timeout)
            )
        except Exception as error:
            text = str(error).split("\n")[0]
            if "ERR_CONNECTION_REFUSED" in text or "ERR_NAME_NOT_RESOLVED" in text:
                raise SystemException(
                    f"cannot reach {url}: the application is not answering (is it running?)"
                ) from None
            raise SystemException(f"opening {url} failed: {text}") from None

    response = navigate()
    if _looks_logged_out(session) and session.relogin is not None:
        ctx.log.info("session of {} expired: logging in again", session.system)
        WebSessions.login_again(session)
        response = navigate()
    if response is not None and response.status >= 400:
        raise SystemException(f"{url} answered HTTP {response.status} {response.status_text}".strip())
    return str(session.page.url)


# -- element actions -----------------------------------------------------------------------------


class ClickParams(ElementParams):
    """What to click."""

    button: Literal["left", "right", "middle"] = "left"
    double: bool = Field(False, description="Double-click.")
    expect_response: str | None = Field(
        None,
        description="Wait for a response whose URL matches this glob (e.g. '**/save') after the click; "
        "an error status (4xx/5xx) fails the step.",
    )
    expect_navigation: bool = Field(False, description="Wait until the click has led to a new page.")


@action("web.click", needs="web", side_effect=True)
def click(ctx: ActionContext, params: ClickParams) -> Any:
    """Click an element. With ``expect_response`` the step ends when the app has answered, and
    fails (a system exception) when the answer has an error status (4xx or 5xx). With
    ``expect_navigation`` it ends on the new page; in a system's login workflow, a new page
    that still asks for the password and shows an error message fails the login at once,
    quoting the message.

    Example: ``- web.click: {role: button, name: Save, expect_response: "**/api/address"}``
    """
    session = _session(ctx)

    def do(locator: Any, timeout: float) -> Any:
        def press() -> None:
            if params.double:
                locator.dblclick(button=params.button, timeout=timeout)
            else:
                locator.click(button=params.button, timeout=timeout)

        if params.expect_response:
            with session.page.expect_response(params.expect_response, timeout=timeout) as info:
                press()
            response = info.value
            if response.status >= 400:
                raise SystemException(f"the app answered HTTP {response.status} to {response.url}")
            return {"status": response.status, "url": response.url}
        if params.expect_navigation:
            # The new page's DOM is enough (as web.goto's default): its stylesheets and images
            # need not be in, and the next step auto-waits for what it needs.
            with session.page.expect_navigation(wait_until="domcontentloaded", timeout=timeout):
                press()
            if session.logging_in:
                from robots.drivers.web_login import raise_if_refused

                raise_if_refused(session)
            return {"url": session.page.url}
        press()
        return None

    return _act(ctx, params, f"click {params.describe()}", do)


class FillParams(ElementParams):
    """What to type where."""

    value: str = Field(description="The text to put in the field (replaces what is there).")


@action("web.fill", needs="web", side_effect=True)
def fill(ctx: ActionContext, params: FillParams) -> None:
    """Fill a text field, replacing its content.

    Example: ``- web.fill: {label: Street, value: "{{ input.street }}"}``
    """
    _act(ctx, params, f"fill {params.describe()}", lambda loc, t: loc.fill(str(params.value), timeout=t))


class SelectParams(ElementParams):
    """Which option to choose."""

    value: str | None = Field(None, description="The option's value attribute.")
    option: str | None = Field(None, description="The option's visible text.")
    index: int | None = Field(None, description="The option's position (0-based).")

    @model_validator(mode="after")
    def _one_choice(self) -> SelectParams:
        if sum(x is not None for x in (self.value, self.option, self.index)) != 1:
            raise ValueError("give exactly one of value, option or index")
        return self


@action("web.select", needs="web", side_effect=True)
def select(ctx: ActionContext, params: SelectParams) -> list[str]:
    """Choose an option of a ``<select>``; returns the selected values.

    Example: ``- web.select: {label: Time slot, option: "08:00-12:00"}``
    """

    def do(locator: Any, timeout: float) -> Any:
        if params.value is not None:
            return locator.select_option(value=params.value, timeout=timeout)
        if params.option is not None:
            return locator.select_option(label=params.option, timeout=timeout)
        return locator.select_option(index=params.index, timeout=timeout)

    try:
        result: list[str] = _act(ctx, params, f"select in {params.describe()}", do)
    except SystemException as error:
        if "did not find some options" in error.message or "options" in error.message:
            options = _element(ctx, params, "read options").locator("option").all_inner_texts()
            raise SystemException(
                f"{error.message}; the options are: {', '.join(map(repr, options))}"
            ) from None
        raise
    return result


class CheckParams(ElementParams):
    """A checkbox or radio button and the state it should have."""

    checked: bool = Field(True, description="true to tick, false to untick.")


@action("web.check", needs="web", side_effect=True)
def check(ctx: ActionContext, params: CheckParams) -> None:
    """Tick (or untick) a checkbox or radio button.

    Example: ``- web.check: {label: I confirm the booking}``
    """
    _act(ctx, params, f"check {params.describe()}", lambda loc, t: loc.set_checked(params.checked, timeout=t))


class PressParams(Target):
    """A key and, optionally, the element that should receive it."""

    key: str = Field(description="Key or chord: Enter, Tab, Escape, Control+A, ArrowDown...")


@action("web.press", primary="key", needs="web", side_effect=True)
def press(ctx: ActionContext, params: PressParams) -> None:
    """Press a key, in an element or on the page.

    Example: ``- web.press: {label: Search, key: Enter}``
    """
    if params.has_target():
        _act(
            ctx,
            params,
            f"press {params.key} in {params.describe()}",
            lambda loc, t: loc.press(params.key, timeout=t),
        )
    else:
        _session(ctx).page.keyboard.press(params.key)


@action("web.hover", needs="web")
def hover(ctx: ActionContext, params: ElementParams) -> None:
    """Move the mouse over an element (to open a menu or a tooltip).

    Example: ``- web.hover: {role: menuitem, name: Customers}``
    """
    _act(ctx, params, f"hover {params.describe()}", lambda loc, t: loc.hover(timeout=t))


# -- waiting and checking --------------------------------------------------------------------------


class WaitParams(Target):
    """What to wait for: an element (in a state), a text, a URL or the network going idle."""

    state: Literal["visible", "hidden", "attached", "detached"] = Field(
        "visible", description="The element's state to wait for (hidden: e.g. a spinner gone)."
    )
    url: str | None = Field(
        None,
        description="Wait until the page's URL matches this glob (the whole URL, e.g. '**/customers/*') "
        "or regular expression (re:..., found anywhere in it).",
    )
    load_state: Literal["load", "domcontentloaded", "networkidle"] | None = Field(
        None, description="Wait for the page's load state (networkidle: no requests for 500 ms)."
    )


@action("web.wait_for", needs="web")
def wait_for(ctx: ActionContext, params: WaitParams) -> None:
    """Wait for what matters: an element, a text, a URL or network idle (never a fixed sleep).

    Example: ``- web.wait_for: {text: Address saved}`` or ``{css: .spinner, state: hidden}``
    """
    session = _session(ctx)
    timeout = _timeout_ms(ctx, params.timeout)
    try:
        if params.url is not None:
            session.page.wait_for_url(url_pattern(params.url), timeout=timeout)
        if params.load_state is not None:
            session.page.wait_for_load_state(params.load_state, timeout=timeout)
    except Exception as error:
        raise SystemException(
            f"waiting for {params.url or params.load_state} failed on {session.page.url}: "
            f"{str(error).splitlines()[0]}"
        ) from None
    if params.has_target():
        _frame_ready(ctx, session)
        locator = _locator(session, params)
        try:
            locator.first.wait_for(state=params.state, timeout=timeout)
        except Exception as error:
            raise _explain(
                session, params, error, f"wait for {params.describe()} to be {params.state}"
            ) from None


class ExpectParams(Target):
    """What must be true now (after auto-waiting up to the timeout)."""

    equals: str | None = Field(None, description="The element's text must be exactly this.")
    contains: str | None = Field(
        None, description="The element's (or, without locator, the page's) text contains this."
    )
    value: str | None = Field(None, description="The field's value must be this.")
    count: int | None = Field(None, description="The locator must match this many elements.")
    url: str | None = Field(
        None,
        description="The page URL must match this glob (the whole URL, e.g. '**/customers/*') "
        "or regular expression (re:..., found anywhere in it).",
    )
    visible: bool | None = Field(None, description="The element must be (or not be) visible.")


@action("web.expect", needs="web")
def expect(ctx: ActionContext, params: ExpectParams) -> None:
    """Check the page; a failed expectation is a system exception saying what was seen.

    With only ``text`` it checks that the text is on the page; with only a target, that the
    element is visible; with ``equals``, ``contains`` or ``value``, the element's text or
    value (add ``visible: true`` to require it shown as well). Examples:
    ``- web.expect: {text: Address saved}``, ``- web.expect: {label: City, value: Berlin}``,
    ``- web.expect: {role: row, count: 3, within: "#results"}``
    """
    from playwright.sync_api import expect as playwright_expect

    session = _session(ctx)
    _frame_ready(ctx, session)
    timeout = _timeout_ms(ctx, params.timeout)
    try:
        if params.url is not None:
            playwright_expect(session.page).to_have_url(url_pattern(params.url), timeout=timeout)
        if not params.has_target():
            if params.contains is not None:
                playwright_expect(_scope(session, params).locator("body")).to_contain_text(
                    params.contains, timeout=timeout
                )
            return
        locator = _locator(session, params)
        if params.count is not None:
            playwright_expect(locator).to_have_count(params.count, timeout=timeout)
        elif params.visible is False:
            playwright_expect(locator.first).to_be_hidden(timeout=timeout)
        else:
            target = locator if params.nth is not None else locator.first
            if params.visible or (params.equals is None and params.contains is None and params.value is None):
                # A text or value check waits for the element by itself: one round trip, not two.
                playwright_expect(target).to_be_visible(timeout=timeout)
            if params.equals is not None:
                playwright_expect(target).to_have_text(params.equals, timeout=timeout)
            if params.contains is not None:
                playwright_expect(target).to_contain_text(params.contains, timeout=timeout)
            if params.value is not None:
                playwright_expect(target).to_have_value(params.value, timeout=timeout)
    except AssertionError:
        seen = _seen(session, params)
        raise SystemException(f"expected {_expectation(params)}, but {seen}") from None
    except SystemException:
        raise
    except Exception as error:
        raise _explain(session, params, error, f"expect {_expectation(params)}") from None


def _expectation(params: ExpectParams) -> str:
    parts = [params.describe()] if params.has_target() else []
    for key in ("equals", "contains", "value", "count", "url", "visible"):
        if getattr(params, key) is not None:
            parts.append(f"{key}={getattr(params, key)!r}")
    return " ".join(parts) or "the page"


def _seen(session: WebSession, params: ExpectParams) -> str:
    try:
        if params.url is not None and not params.has_target():
            return f"the page is at {session.page.url}"
        if not params.has_target():
            body = session.page.inner_text("body", timeout=1000)
            return f"the page shows: {' '.join(body.split())[:300]!r}"
        locator = _locator(session, params)
        count = locator.count()
        if count == 0:
            return f"nothing matches{_location(session, params)}{_what_page_has(session, params)}"
        if params.count is not None:
            return f"{count} elements match"
        first = locator if params.nth is not None else locator.first
        if params.value is not None:
            return f"the value is {first.input_value(timeout=1000)!r}"
        if params.visible is False:
            return "it is visible"
        return f"the element shows {' '.join(first.inner_text(timeout=1000).split())[:200]!r}"
    except Exception as error:
        return f"the page could not be read ({str(error).splitlines()[0]})"


class ReadParams(ElementParams):
    """What to read from an element."""

    what: Literal["text", "value", "attribute", "table", "texts", "count", "checked"] = Field(
        "text",
        description="text, value (of a field), attribute, table (rows as dicts), texts (all matches), count, checked.",
    )
    attribute: str | None = Field(None, description="The attribute's name, for what: attribute.")


@action("web.read", needs="web")
def read(ctx: ActionContext, params: ReadParams) -> Any:
    """Read text, a field's value, an attribute, or a whole table (a list of dicts by header).

    Example: ``- web.read: {css: "table#slots", what: table}`` with ``as: slots``
    """
    session = _session(ctx)
    doing = f"read {params.what} of {params.describe()}"
    if params.what in ("texts", "count"):
        _frame_ready(ctx, session)
        locator = _locator(session, params)
        try:
            if params.what == "count":
                return locator.count()
            locator.first.wait_for(state="attached", timeout=_timeout_ms(ctx, params.timeout))
            return [_clean(t) for t in locator.all_inner_texts()]
        except Exception as error:
            raise _explain(session, params, error, doing) from None
    if params.what == "table":
        return _act(ctx, params, doing, _read_table)
    if params.what == "value":
        return _act(ctx, params, doing, lambda loc, t: loc.input_value(timeout=t))
    if params.what == "checked":
        return _act(ctx, params, doing, lambda loc, t: loc.is_checked(timeout=t))
    if params.what == "attribute":
        if not params.attribute:
            raise SystemException(f"{doing}: say which attribute (attribute: href)")
        return _act(ctx, params, doing, lambda loc, t: loc.get_attribute(params.attribute, timeout=t))
    return _act(ctx, params, doing, lambda loc, t: _clean(loc.inner_text(timeout=t)))


def _read_table(table: Any, timeout: float) -> list[Any]:
    """A table's body rows as dicts by header (``_TABLE_SCRIPT``), read without a script when it can.

    A script runs in the page's main world, and the first use of that world on a new document
    costs 30-40 ms (Playwright injects its helpers there); everything else a workflow does runs
    in Playwright's own world, which the step before has usually paid for already. So the
    table's text is read there (its innerText has a line per row and a tab between cells) and
    split, when two counts prove the text has the table's shape: one header row of at least two
    ``th``, then a line per body row, every line with as many cells as the header. The second
    count adds to the number of rows one for each thing that would make the lines lie: a
    footer, a further or misplaced header row, a hidden row, a row outside any section. So it
    equals the number of lines only when the rows, all shown, and nothing else make them; a
    caption or a line break in a cell adds a line with another number of cells, which a
    single-column table could not tell from a row: those go to the script as well. Anything
    else (no header row, hidden cells, cells spanning columns) is read by the script too.
    """
    text = table.inner_text(timeout=timeout)
    headers = table.locator(":scope > thead > tr > th").count()
    rows = table.locator(_ROWS_AND_ODDITIES).count()
    lines = [[_clean(cell) for cell in line.split("\t")] for line in text.strip("\n").split("\n")]
    if headers > 1 and rows == len(lines) and all(len(line) == headers for line in lines):
        names = [name or f"column {i}" for i, name in enumerate(lines[0], start=1)]
        return [dict(zip(names, line, strict=True)) for line in lines[1:]]
    result: list[Any] = table.evaluate(_TABLE_SCRIPT)
    return result


_ROWS_AND_ODDITIES = ", ".join(
    (
        ":scope > * > tr",
        ":scope > tfoot",
        ":scope > tbody ~ thead",  # a header after the body: its line would not come first
        ":scope > tr",
        ":scope > tr > :first-child",
        ":scope > thead > tr ~ tr > :first-child",
        ":scope > * > tr:not(:visible) > :first-child",
    )
)


def _clean(text: str) -> str:
    return " ".join(text.split())


_TABLE_SCRIPT = """(table) => {
  const clean = (t) => (t || '').replace(/\\s+/g, ' ').trim();
  let headers = Array.from(table.querySelectorAll('thead th')).map(th => clean(th.innerText));
  let rows = Array.from(table.querySelectorAll('tbody tr'));
  if (!headers.length) {
    const all = Array.from(table.querySelectorAll('tr'));
    if (all.length && all[0].querySelector('th')) { headers = Array.from(all[0].querySelectorAll('th,td')).map(c => clean(c.innerText)); rows = all.slice(1); }
    else { rows = all; }
  }
  return rows.map(r => {
    const cells = Array.from(r.querySelectorAll('td,th')).map(c => clean(c.innerText));
    if (!headers.length) return cells;
    const row = {}; headers.forEach((h, i) => { row[h || ('column ' + (i + 1))] = cells[i] ?? null; }); return row;
  });
}"""


# -- files, screenshots, frames, dialogs, tabs, scripts ---------------------------------------------


class UploadParams(ElementParams):
    """The file input and the files to put in it."""

    files: list[str] = Field(description="Paths of the files to upload (relative to the project folder).")


@action("web.upload", needs="web", side_effect=True)
def upload(ctx: ActionContext, params: UploadParams) -> list[str]:
    """Put files into a file input.

    Example: ``- web.upload: {label: Attachment, files: ["{{ letter }}"]}``
    """
    paths = [ctx.project_path(f) for f in params.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemException(f"upload: no such file: {', '.join(missing)}")
    _act(
        ctx,
        params,
        f"upload into {params.describe()}",
        lambda loc, t: loc.set_input_files(paths, timeout=t),
    )
    return params.files


class DownloadParams(ElementParams):
    """What to click to download, and where to keep the file."""

    save_as: str | None = Field(
        None, description="File name in the case's artifacts (default: the suggested name)."
    )


@action("web.download", needs="web")
def download(ctx: ActionContext, params: DownloadParams) -> str:
    """Click something that downloads a file; returns the saved file's path.

    Example: ``- web.download: {role: link, name: Invoice PDF}`` with ``as: invoice``
    """
    session = _session(ctx)

    def do(locator: Any, timeout: float) -> str:
        with session.page.expect_download(timeout=timeout) as info:
            locator.click(timeout=timeout)
        file = info.value
        ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
        target = ctx.artifacts_dir / (params.save_as or file.suggested_filename)
        file.save_as(str(target))
        return str(target)

    result: str = _act(ctx, params, f"download via {params.describe()}", do)
    return result


class ScreenshotParams(Target):
    """What to capture."""

    path: str | None = Field(None, description="File name in the case's artifacts (default: step-based).")
    full_page: bool = Field(True, description="The whole page, not only the visible part.")


@action("web.screenshot", needs="web")
def screenshot(ctx: ActionContext, params: ScreenshotParams) -> str:
    """Save a screenshot of the page (or of one element) with the case; returns its path.

    Example: ``- web.screenshot`` or ``- web.screenshot: {test_id: booking-summary}``
    """
    session = _session(ctx)
    ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
    target = ctx.artifacts_dir / (params.path or f"step-{ctx.step.replace('/', '_')}.png")
    if params.has_target():
        _act(ctx, params, "screenshot", lambda loc, t: loc.screenshot(path=str(target), timeout=t))
    else:
        session.page.screenshot(path=str(target), full_page=params.full_page)
    return str(target)


class FrameParams(ActionParams):
    """Which iframe to work in from now on (or back to the page)."""

    css: str | None = Field(
        None, description="CSS selector of the iframe, e.g. 'iframe[title=\"Edit address\"]'."
    )
    main: bool = Field(False, description="Go back to the page itself.")

    @model_validator(mode="after")
    def _one(self) -> FrameParams:
        if (self.css is None) == (not self.main):
            raise ValueError("give css (an iframe) or main: true")
        return self


@action("web.frame", primary="css", needs="web")
def frame(ctx: ActionContext, params: FrameParams) -> None:
    """Work inside an iframe for the following steps of this ``in`` block (``main: true`` leaves it).

    The iframe is not waited for here: the next step waits for its element inside it, and
    when that times out because the iframe is missing, the error names the iframe and the
    frames the page has. Several ``web.frame`` steps in a row go into nested iframes.

    Example: ``- web.frame: "iframe[title='Edit address']"``
    """
    session = _session(ctx)
    if params.main:
        session.leave_frame()
        return
    assert params.css is not None
    session.enter_frame(params.css)


class DialogParams(ActionParams):
    """How to answer the page's JavaScript dialogs (alert, confirm, prompt) from now on."""

    action: Literal["accept", "dismiss"] = "accept"
    prompt_text: str | None = Field(None, description="Text to type into a prompt().")


@action("web.dialog", primary="action", needs="web")
def dialog(ctx: ActionContext, params: DialogParams) -> list[str]:
    """Accept or dismiss JavaScript dialogs from now on; returns the messages seen so far.

    Robots accept dialogs by default; use this to dismiss, or to answer a prompt.
    Example: ``- web.dialog: dismiss``
    """
    session = _session(ctx)
    session.dialog_policy = params.action
    session.dialog_prompt = params.prompt_text
    return list(session.dialogs)


class TabParams(ActionParams):
    """Which tab (window) to work in."""

    switch: Literal["newest", "first"] | int = Field(
        "newest", description="newest, first, or a 0-based index."
    )
    close_current: bool = Field(False, description="Close the current tab before switching.")
    wait: bool = Field(True, description="For 'newest': wait up to the timeout for a new tab to appear.")


@action("web.tab", primary="switch", needs="web")
def tab(ctx: ActionContext, params: TabParams) -> str:
    """Switch to another tab or window (e.g. one a click opened); returns its URL.

    Example: after ``web.click`` on a link with target=_blank, ``- web.tab: newest``
    """
    session = _session(ctx)
    pages = session.context.pages
    current = session.page
    if params.switch == "newest" and params.wait:
        deadline_ms = _timeout_ms(ctx, None)
        waited = 0.0
        while len(session.context.pages) <= 1 and waited < deadline_ms:
            session.page.wait_for_timeout(50)  # the event loop must turn for the new page to arrive
            waited += 50
        pages = session.context.pages
    if params.switch == "newest":
        target = pages[-1]
    elif params.switch == "first":
        target = pages[0]
    else:
        if not 0 <= params.switch < len(pages):
            raise SystemException(f"no tab {params.switch}: {len(pages)} tab(s) open")
        target = pages[params.switch]
    if params.close_current and target is not current:
        current.close()
    session.page = target
    session.leave_frame()
    target.wait_for_load_state("domcontentloaded")
    return str(target.url)


class EvaluateParams(ActionParams):
    """A JavaScript function or expression to run in the page."""

    script: str = Field(description="e.g. 'document.title' or '(arg) => arg * 2'.")
    arg: Any = Field(None, description="Passed to the function.")


@action("web.evaluate", primary="script", needs="web")
def evaluate(ctx: ActionContext, params: EvaluateParams) -> Any:
    """Run JavaScript in the page and return its result: the escape hatch, use sparingly.

    Example: ``- web.evaluate: "document.title"`` with ``as: title``
    """
    session = _session(ctx)
    try:
        return (
            session.scope.evaluate(params.script, params.arg)
            if session.frame is None
            else (session.page.evaluate(params.script, params.arg))
        )
    except Exception as error:
        raise SystemException(f"web.evaluate failed: {str(error).splitlines()[0]}") from None
