"""Web actions that wait for, check and read what a page shows.

``web.wait_for`` waits for an element, a text, a URL or the network to go idle;
``web.expect`` checks the page and, when it fails, says what was seen instead;
``web.read`` reads an element's text, value, attribute, whether it is checked, the texts
or count of every match, or a whole table as a list of dicts by header (``_read_table``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from robots.actions.web_elements import (
    ElementParams,
    Target,
    _act,
    _explain,
    _frame_ready,
    _location,
    _locator,
    _scope,
    _session,
    _timeout_ms,
    _what_page_has,
)
from robots.drivers.web_session import WebSession
from robots.errors import SystemException
from robots.language.model import url_pattern
from robots.language.registry import ActionContext, action
from robots.masking import page_quote


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
            return f"the page shows: {page_quote(body)}"
        locator = _locator(session, params)
        count = locator.count()
        if count == 0:
            return f"nothing matches{_location(session, params)}{_what_page_has(session, params)}"
        if params.count is not None:
            return f"{count} elements match"
        first = locator if params.nth is not None else locator.first
        if params.value is not None:
            return f"the value is {page_quote(repr(first.input_value(timeout=1000)))}"
        if params.visible is False:
            return "it is visible"
        return f"the element shows {page_quote(first.inner_text(timeout=1000), 200)}"
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
