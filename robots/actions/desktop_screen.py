"""Desktop actions that look at the screen: OCR (read and wait for text), one of several
screens, and non-failing checks. Run inside an ``in:`` block of a desktop system.

Text is read by tesseract (German + English, see ``robots/drivers/ocr.py``), within a ``region`` or the
program's window (the whole screen when the system has no ``window``). Text beats images where
screens differ in a few characters: an image of ``KSM010`` matches ``KSK020`` at 0.91, OCR in
``exact`` mode never does.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from robots.actions.desktop import Region, _locate, _session
from robots.drivers import ocr
from robots.drivers.desktop_session import DesktopSession, screenshot
from robots.errors import SystemException
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams, action


class TextArea(ActionParams):
    """Where to read: a region of the screen, else the program's window."""

    region: Region | None = Field(
        None, description="[left, top, width, height] in screen pixels; default: the program's window."
    )
    languages: str = Field(ocr.LANGUAGES, description="tesseract languages, e.g. deu+eng, eng.")
    scale: int = Field(1, ge=1, le=4, description="Enlarge the picture first (2 for fonts below ~11 px).")


def _area(session: DesktopSession, region: Region | None) -> Region | None:
    if region is not None:
        return region
    if session.window_id:
        from robots.drivers.xwindow import region_of

        return region_of(session.display, session.window_id)
    return None


def _shot(session: DesktopSession, region: Region | None, folder: str) -> Path:
    return screenshot(session.display, Path(folder) / "screen.png", _area(session, region))


def _find_text(
    session: DesktopSession, text: str, params: TextArea, match: ocr.Match
) -> tuple[int, int, float] | None:
    """The screen position of ``text`` (centre) and its confidence, or None."""
    area = _area(session, params.region)
    with tempfile.TemporaryDirectory() as folder:
        shot = screenshot(session.display, Path(folder) / "screen.png", area)
        found = ocr.locate(shot, text, match=match, languages=params.languages, scale=params.scale)
    if found is None:
        return None
    left, top = (area[0], area[1]) if area else (0, 0)
    return left + found[0], top + found[1], found[2]


class ReadTextParams(TextArea):
    """The part of the screen to read."""


@action("desktop.read_text", needs="desktop")
def read_text(ctx: ActionContext, params: ReadTextParams) -> dict[str, Any]:
    """Read the text in a region (or the program's window) by OCR: ``{text, confidence}`` (0..100).

    Example: ``- desktop.read_text: {region: [200, 215, 420, 30]}`` with ``as: street``, then
    ``{{ street.text }}``
    """
    session = _session(ctx)
    with tempfile.TemporaryDirectory() as folder:
        text, confidence = ocr.read(
            _shot(session, params.region, folder), languages=params.languages, scale=params.scale
        )
    return {"text": text, "confidence": confidence}


class WaitTextParams(TextArea):
    """The text to wait for."""

    text: str = Field(description="A word or words of one line, as on screen.")
    match: ocr.Match = Field(
        "exact",
        description="exact (same characters, spaces collapsed), tolerant (also O/0, I/l/1, S/5, B/8, "
        "Z/2, G/6, rn/m and case forgiven) or contains (part of a line).",
    )
    gone: bool = Field(False, description="Wait until the text is no longer on screen instead.")
    timeout: float = Field(10.0, gt=0, le=MAX_DURATION, description="Seconds to wait.")


@action("desktop.wait_for_text", primary="text", needs="desktop")
def wait_for_text(ctx: ActionContext, params: WaitTextParams) -> dict[str, Any]:
    """Wait until a text is on screen (OCR; returns ``{text, x, y, confidence}``) or, with ``gone``, is not.

    Example: ``- desktop.wait_for_text: {text: SAVED, region: [0, 540, 800, 40]}``
    """
    session = _session(ctx)
    deadline = time.monotonic() + ctx.remaining(params.timeout)
    while True:
        found = _find_text(session, params.text, params, params.match)
        if params.gone and found is None:
            return {"text": params.text, "x": None, "y": None, "confidence": None}
        if not params.gone and found is not None:
            return {"text": params.text, "x": found[0], "y": found[1], "confidence": found[2]}
        if time.monotonic() >= deadline:
            state = "still on screen" if params.gone else "not on screen"
            raise SystemException(f"the text {params.text!r} is {state} after {params.timeout:g}s")
        time.sleep(0.2)


class AnyParams(TextArea):
    """The screens to tell apart: images, texts or both."""

    images: list[str] = Field(default_factory=list, description="PNG files, relative to the project.")
    texts: list[str] = Field(default_factory=list, description="Texts read by OCR.")
    confidence: float = Field(0.9, ge=0.1, le=1.0, description="How close an image must match.")
    match: ocr.Match = Field("exact", description="How texts match (see desktop.wait_for_text).")
    timeout: float = Field(10.0, gt=0, le=MAX_DURATION, description="Seconds to wait.")

    @model_validator(mode="after")
    def _something(self) -> AnyParams:
        if not self.images and not self.texts:
            raise ValueError("give images, texts or both")
        return self


@action("desktop.wait_for_any", needs="desktop")
def wait_for_any(ctx: ActionContext, params: AnyParams) -> dict[str, Any]:
    """Wait until one of several images or texts is on screen; says which: ``{found, kind, index, x, y}``.

    Images are checked first, in order, then texts (one OCR pass for all). ``index`` counts
    images first, then texts. Example:
    ``- desktop.wait_for_any: {texts: [SAVED, ERROR]}`` with ``as: outcome``, then
    ``when: "{{ outcome.found == 'ERROR' }}"``
    """
    session = _session(ctx)
    deadline = time.monotonic() + ctx.remaining(params.timeout)
    while True:
        for index, image in enumerate(params.images):
            where = _locate(ctx, session, image, params.confidence, params.region)
            if where is not None:
                return {"found": image, "kind": "image", "index": index, "x": where[0], "y": where[1]}
        if params.texts:
            hit = _first_text(session, params)
            if hit is not None:
                return hit
        if time.monotonic() >= deadline:
            wanted = ", ".join(repr(x) for x in [*params.images, *params.texts])
            raise SystemException(f"none of {wanted} appeared within {params.timeout:g}s")
        time.sleep(0.2)


def _first_text(session: DesktopSession, params: AnyParams) -> dict[str, Any] | None:
    area = _area(session, params.region)
    with tempfile.TemporaryDirectory() as folder:
        shot = screenshot(session.display, Path(folder) / "screen.png", area)
        for index, text in enumerate(params.texts):
            found = ocr.locate(shot, text, match=params.match, languages=params.languages, scale=params.scale)
            if found is not None:
                left, top = (area[0], area[1]) if area else (0, 0)
                return {
                    "found": text,
                    "kind": "text",
                    "index": len(params.images) + index,
                    "x": left + found[0],
                    "y": top + found[1],
                }
    return None


class ExistsParams(TextArea):
    """An image or a text to look for, once."""

    image: str | None = Field(None, description="PNG file, relative to the project.")
    text: str | None = Field(None, description="Text read by OCR.")
    confidence: float = Field(0.9, ge=0.1, le=1.0, description="How close the image must match.")
    match: ocr.Match = Field("exact", description="How the text matches (see desktop.wait_for_text).")

    @model_validator(mode="after")
    def _one(self) -> ExistsParams:
        if (self.image is None) == (self.text is None):
            raise ValueError("give an image or a text")
        return self


@action("desktop.exists", needs="desktop")
def exists(ctx: ActionContext, params: ExistsParams) -> bool:
    """Is this image or text on screen right now? true or false; never fails, never waits.

    Example: ``- desktop.exists: {text: SESSION EXPIRED}`` with ``as: expired``
    """
    session = _session(ctx)
    if params.image is not None:
        return _locate(ctx, session, params.image, params.confidence, params.region) is not None
    assert params.text is not None
    return _find_text(session, params.text, params, params.match) is not None
