"""Web actions that do what a person does to an element: click, type, choose, press, move files.

``web.click``, ``web.fill``, ``web.select``, ``web.check``, ``web.press`` and ``web.hover``
act on one element found by ``Target``; ``web.upload`` gives a file control its files and
``web.download`` keeps the file a click downloads. Each waits for its element and, when it
is missing or not unique, says what the page had instead (``web_elements``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from robots.actions.web_elements import (
    ElementParams,
    Target,
    _act,
    _element,
    _session,
)
from robots.errors import SystemException
from robots.language.registry import ActionContext, action


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
