"""Web actions about the page as a whole and about values without a label of their own:
reload the page, read its address, keep a screenshot of it, run a script in it, read a
value by the header beside or above it.

Many back-office pages show a record as header/value pairs — ``<dt>Segment</dt><dd>A</dd>``,
``<th>Anschrift</th><td>…</td>`` — or as a table whose cells are named by their column and
their row's key. Those values have no label or role to read them by; ``web.read_field``
finds them the way a person does, by the words beside them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from robots.actions.web_elements import Target, _act, _frame_ready, _scope, _session, _timeout_ms
from robots.actions.web_reading import _clean
from robots.drivers.web_session import WebSessions
from robots.errors import SystemException
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams, action
from robots.masking import page_quote


class ReloadParams(ActionParams):
    """How to reload."""

    wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = Field(
        "domcontentloaded", description="What counts as reloaded."
    )
    timeout: float | None = Field(None, gt=0, le=MAX_DURATION, description="Seconds (default 10).")


@action("web.reload", needs="web")
def reload(ctx: ActionContext, params: ReloadParams) -> str:
    """Reload the current page (e.g. to see what another user or a background job changed);
    returns its URL. An error status (4xx/5xx) is a system exception; a page that says the
    session expired (``logged_out_url`` / ``logged_out``) logs the robot in and opens it again.

    Example: ``- web.reload``
    """
    from robots.actions.web_navigation import _looks_logged_out

    session = _session(ctx, navigating=True)
    session.leave_frame()
    url = str(session.page.url)
    try:
        response = session.page.reload(wait_until=params.wait_until, timeout=_timeout_ms(ctx, params.timeout))
    except Exception as error:
        raise SystemException(f"reloading {url} failed: {str(error).splitlines()[0]}") from None
    if _looks_logged_out(session) and session.relogin is not None:
        ctx.log.info("session of {} expired: logging in again", session.system)
        WebSessions.login_again(session)
        response = session.page.goto(
            url, wait_until=params.wait_until, timeout=_timeout_ms(ctx, params.timeout)
        )
    if response is not None and response.status >= 400:
        raise SystemException(f"{url} answered HTTP {response.status} {response.status_text}".strip())
    return str(session.page.url)


class ReadUrlParams(ActionParams):
    """Which part of the address to read."""

    part: Literal["url", "path", "query", "fragment"] = Field(
        "url", description="url (all of it), path, query (as a mapping), fragment."
    )
    frame: bool = Field(False, description="The address of the iframe chosen with web.frame, not the page's.")


@action("web.read_url", primary="part", needs="web")
def read_url(ctx: ActionContext, params: ReadUrlParams) -> Any:
    """Read the current page's address (after a redirect, the id a new record got in its URL).

    Example: ``- web.read_url: path`` with ``as: path`` gives ``/customers/C000007``
    """
    from urllib.parse import parse_qsl, urlsplit

    session = _session(ctx)
    url = str(session.page.url)
    if params.frame:
        from robots.actions.web_elements import _frame_of

        frame = _frame_of(session, session.frame_path)
        if isinstance(frame, str):
            raise SystemException(f"read the iframe's address: no iframe {frame!r} on {url}")
        url = str(frame.url)
    parts = urlsplit(url)
    if params.part == "path":
        return parts.path
    if params.part == "query":
        return dict(parse_qsl(parts.query, keep_blank_values=True))
    if params.part == "fragment":
        return parts.fragment
    return url


def _xpath_text(text: str) -> str:
    """A string literal for XPath 1.0 (which has no escapes): quoted, or a concat()."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    pieces = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{piece}'" for piece in pieces) + ")"


def _matches(expression: str, text: str, exact: bool) -> str:
    literal = _xpath_text(" ".join(text.split()))
    return (
        f"normalize-space({expression})={literal}"
        if exact
        else f"contains(normalize-space({expression}), {literal})"
    )


class ReadFieldParams(ActionParams):
    """The value to read: by its header (a ``dt`` or a row's ``th``), or a table cell by column and row."""

    header: str | None = Field(
        None,
        description="The words beside the value: a <dt> (its <dd> is read) or a row's <th> "
        "(the <td> after it).",
    )
    column: str | None = Field(None, description="A table's column header: read the cell in this column ...")
    row: str | None = Field(
        None, description="... of the row that has a cell with this text (its key, e.g. an order number)."
    )
    key_column: str | None = Field(
        None, description="The column that holds the row's key (default: any cell of the row)."
    )
    exact: bool = Field(
        True, description="Match the header, column and row key exactly (false: as a substring)."
    )
    within: str | None = Field(None, description="CSS selector of a container to search inside.")
    frame: str | None = Field(
        None, description="CSS selector of an iframe to search inside (this step only)."
    )
    timeout: float | None = Field(
        None, gt=0, le=MAX_DURATION, description="Seconds to wait for the value (default 10)."
    )

    @model_validator(mode="after")
    def _header_or_cell(self) -> ReadFieldParams:
        if self.header is not None and (self.column is not None or self.row is not None):
            raise ValueError(
                "give header (a value beside its header), or column and row (a table cell), not both"
            )
        if self.header is None and self.column is None:
            raise ValueError("say which value: header: Segment, or column: Status with row: O-100007")
        if self.key_column is not None and self.row is None:
            raise ValueError("key_column goes with row (the row whose key_column cell is the row key)")
        return self

    def xpath(self) -> str:
        """The XPath of the value's element."""
        if self.header is not None:
            dt = f".//dt[{_matches('.', self.header, self.exact)}]/following-sibling::dd[1]"
            th = f".//tr/th[{_matches('.', self.header, self.exact)}]/following-sibling::td[1]"
            return f"{dt} | {th}"
        assert self.column is not None
        header = f"th[{_matches('.', self.column, self.exact)}]"
        position = f"count(ancestor::table[1]//tr/{header}/preceding-sibling::*) + 1"
        row = "tr[td]"
        if self.row is not None:
            if self.key_column is not None:
                key_header = f"th[{_matches('.', self.key_column, self.exact)}]"
                key_position = f"count(ancestor::table[1]//tr/{key_header}/preceding-sibling::*) + 1"
                row = f"tr[*[position() = {key_position}][{_matches('.', self.row, self.exact)}]]"
            else:
                key = _matches(".", self.row, self.exact)
                row = f"tr[td[{key}] or th[{key}]]"
        return f".//table[.//{header}]//{row}/*[position() = {position}]"

    def describe(self) -> str:
        """The value as a person would name it."""
        if self.header is not None:
            return f"the value beside {self.header!r}"
        where = f" in the row {self.row!r}" + (f" (column {self.key_column!r})" if self.key_column else "")
        return f"the {self.column!r} cell" + (where if self.row is not None else "")


_HEADERS_SCRIPT = """(root) => {
  const clean = (t) => (t || '').replace(/\\s+/g, ' ').trim();
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const rows = new Set(), columns = new Set();
  // textContent, as the match reads it: not innerText, which a style sheet may capitalise
  // ('STRASSE' for 'Straße'), so the listed header would not match when written as shown.
  root.querySelectorAll('dt').forEach(e => visible(e) && rows.add(clean(e.textContent)));
  root.querySelectorAll('tr').forEach(tr => {
    const cells = Array.from(tr.children);
    const named = cells.some(c => c.tagName === 'TD') ? rows : columns;
    cells.filter(c => named === columns || c.tagName === 'TH').forEach(c => named.add(clean(c.textContent)));
  });
  const first = (set) => Array.from(set).filter(Boolean).slice(0, 15);
  return {rows: first(rows), columns: first(columns)};
}"""


@action("web.read_field", needs="web")
def read_field(ctx: ActionContext, params: ReadFieldParams) -> str:
    """Read a value by the header beside or above it, for values that have no label or role:
    a definition list (``<dt>Segment</dt><dd>A</dd>``: ``header: Segment``), a row header
    (``<th>Anschrift</th><td>…</td>``: ``header: Anschrift``), or a table cell by its column
    and its row's key (``column: Status, row: O-100007``; ``key_column`` names the column the
    key is in). Returns the value's text. When nothing matches, the error lists the row and
    column headers the page has.

    Example: ``- web.read_field: {header: Annual revenue}`` with ``as: revenue``
    """
    session = _session(ctx)
    _frame_ready(ctx, session)
    doing = f"read {params.describe()}"

    def read(locator: Any, timeout: float) -> str:
        return _clean(locator.inner_text(timeout=timeout))

    target = _FieldTarget(params)
    try:
        result: str = _act(ctx, target, doing, read)  # type: ignore[arg-type]
    except SystemException as error:
        if "within the timeout" not in error.message:
            raise
        raise SystemException(
            f"{doing}: nothing matches{_page_url(session)}{_headers(session, params)}"
        ) from None
    return result


class _FieldTarget:
    """``ReadFieldParams`` as the locator the shared element helpers expect."""

    def __init__(self, params: ReadFieldParams) -> None:
        self.params = params
        self.css = f"xpath={params.xpath()}"
        self.role = self.label = self.placeholder = self.text = self.test_id = self.name = None
        self.nth = None
        self.exact = params.exact
        self.within = params.within
        self.frame = params.frame
        self.timeout = params.timeout

    def describe(self) -> str:
        return self.params.describe()

    def has_target(self) -> bool:
        return True


def _page_url(session: Any) -> str:
    try:
        return f" on {session.page.url}"
    except Exception:
        return ""


def _headers(session: Any, params: ReadFieldParams) -> str:
    """The row and column headers the page (or frame) has, for the error message."""
    try:
        scope = _scope(session, _FieldTarget(params))  # type: ignore[arg-type]
        root = scope.first if params.within else scope.locator("body").first
        found = root.evaluate(_HEADERS_SCRIPT, timeout=1000)
    except Exception:
        return ""
    parts = []
    if found.get("rows"):
        parts.append("row headers: " + page_quote(", ".join(repr(t[:40]) for t in found["rows"]), 1000))
    if found.get("columns"):
        parts.append("column headers: " + page_quote(", ".join(repr(t[:40]) for t in found["columns"]), 1000))
    return "; the page has " + "; ".join(parts) if parts else "; the page has no dt or th headers"


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
