"""Web actions that choose where the following steps work: a page, an iframe, a tab.

``web.goto`` opens a page of the system (and logs in again when the page says the session
expired), ``web.frame`` goes into an iframe or back to the page, ``web.tab`` switches tab or
window, and ``web.dialog`` says how the page's JavaScript dialogs are answered from now on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from robots.actions.web_elements import (
    _session,
    _timeout_ms,
)
from robots.drivers.web_session import WebSession, WebSessions
from robots.errors import SystemException
from robots.language.model import url_pattern
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams, action


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
