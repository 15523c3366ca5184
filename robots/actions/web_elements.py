"""How web actions find an element, and what they say when it is not there.

Elements are found the way a person sees them — by role and name, label, placeholder,
text or test id — with CSS as a last resort, and Playwright's auto-waiting. A locator that
matches nothing, or several elements, fails with what the page had instead.

Owns the locator parameters every element action shares (``Target``, ``ElementParams``),
the web session of a step, finding and acting on one element (``_element``, ``_act``), the
iframes a step looks in (``_frame_path``, ``_frame_of``, ``_frame_ready``) and the messages
of a miss (``_explain``: the page's inventory, an iframe that has the element, an iframe
that is missing). The actions are ``web_navigation``, ``web_input``, ``web_reading`` and
``web_page``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from robots.drivers.web_session import WebSession, default_timeout
from robots.errors import SystemException
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams
from robots.masking import page_quote

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
    shown = page_quote(", ".join(repr(item[:60]) for item in found), 1000) if found else "none"
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
    shown = f" ({page_quote(', '.join(map(repr, texts)))})" if texts else ""
    return SystemException(
        f"{doing}: {target.describe()} matches {count or 'several'} elements{shown}; "
        "make it unique with exact: true, a fuller name, 'within', or choose one with nth"
    )
