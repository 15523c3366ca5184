"""Text on the screen by OCR: Debian's tesseract (German + English) through pytesseract.

``read`` returns the text of an image (a screenshot or a region of it) and tesseract's mean word
confidence (0..100); ``locate`` finds a phrase and its centre. Measured on the demo's Tk
terminal (green on black, 14 pt; tesseract 5.3, deu+eng, 2 shared cores): greyscale with the
background made light (dark screens inverted) and page mode 4 (``--psm 4``, one column) read
every word in 0.8-1.3 s; the raw colours or mode 6 lost the PASSWORD line; scaling up 3x lost
it too (the glyphs' edges blur), 2x helps only small fonts (``scale``). ``locate`` reads in
sparse mode (``--psm 11``), which finds every label with its box.

Matching text read by OCR (``matches``):

- ``exact`` (the default): the same characters, spaces collapsed; nothing else is forgiven, so
  ``KSM010`` never matches ``KSK020``;
- ``tolerant``: like exact, but characters OCR confuses count as equal — O/0/o/Q/D, I/l/1/|/i/!,
  S/5/s, B/8, Z/2/z, G/6, and ``rn`` read for ``m`` — and case is ignored; digits against
  letters of another class still differ (``KSM010`` vs ``KSK020``: M/K differ);
- ``contains``: the phrase somewhere in the text, spaces collapsed (case kept).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from robots.errors import SystemException

Match = Literal["exact", "tolerant", "contains"]
LANGUAGES = "deu+eng"
MARGIN = 8

_CONFUSABLE = str.maketrans(
    {
        **dict.fromkeys("O0oQD", "0"),
        **dict.fromkeys("Il1|i!", "1"),
        **dict.fromkeys("S5s", "5"),
        **dict.fromkeys("B8", "8"),
        **dict.fromkeys("Z2z", "2"),
        **dict.fromkeys("G6", "6"),
    }
)


def canonical(text: str, match: Match = "exact") -> str:
    """``text`` as ``matches`` compares it: spaces collapsed; for ``tolerant`` also the
    confusable characters folded together and case ignored."""
    text = " ".join(text.split())
    if match == "tolerant":
        text = text.replace("rn", "m").translate(_CONFUSABLE).casefold()
    return text


def matches(read: str, wanted: str, match: Match = "exact") -> bool:
    """Does text read by OCR match ``wanted`` (see the module docstring)?"""
    if match == "contains":
        return canonical(wanted) in canonical(read)
    return canonical(read, match) == canonical(wanted, match)


@dataclass(frozen=True)
class Word:
    """One word tesseract read: its text, confidence and box (in the original image's pixels)."""

    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]


def _tesseract() -> Any:
    if not shutil.which("tesseract"):
        raise SystemException(
            "reading the screen needs tesseract: apt-get install tesseract-ocr tesseract-ocr-deu "
            "tesseract-ocr-eng (scripts/setup.sh installs them)"
        )
    import pytesseract

    return pytesseract


def _prepared(image: Any, scale: int) -> Any:
    """Greyscale, dark text on a light background (scaled up for small fonts)."""
    from PIL import ImageOps, ImageStat

    grey = ImageOps.grayscale(image)
    if ImageStat.Stat(grey).mean[0] < 128:  # light text on a dark screen (a terminal)
        grey = ImageOps.invert(grey)
    # tesseract wants a margin: text touching the edge of a tight region was misread
    grey = ImageOps.expand(grey, border=MARGIN, fill=255)
    return grey.resize((grey.width * scale, grey.height * scale)) if scale > 1 else grey


def words(path: Path, *, languages: str = LANGUAGES, scale: int = 1) -> list[Word]:
    """The words in the image at ``path``, in reading order."""
    from PIL import Image

    tesseract = _tesseract()
    with Image.open(path) as image:
        data = tesseract.image_to_data(
            _prepared(image, scale), lang=languages, config="--psm 11", output_type=tesseract.Output.DICT
        )
    found = []
    for index, text in enumerate(data["text"]):
        confidence = float(data["conf"][index])
        if not text.strip() or confidence < 0:
            continue
        found.append(
            Word(
                text=text,
                confidence=confidence,
                left=(data["left"][index] - MARGIN) // scale,
                top=(data["top"][index] - MARGIN) // scale,
                width=data["width"][index] // scale,
                height=data["height"][index] // scale,
                line=(data["block_num"][index], data["par_num"][index], data["line_num"][index]),
            )
        )
    return found


def read(path: Path, *, languages: str = LANGUAGES, scale: int = 1) -> tuple[str, float]:
    """The text in the image (lines as tesseract sees them) and its mean confidence (0..100)."""
    from PIL import Image

    tesseract = _tesseract()
    with Image.open(path) as image:
        data = tesseract.image_to_data(
            _prepared(image, scale), lang=languages, config="--psm 4", output_type=tesseract.Output.DICT
        )
    # One OCR pass: the lines are put together from the words, as image_to_string would.
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences = []
    for index, text in enumerate(data["text"]):
        if text.strip() and float(data["conf"][index]) >= 0:
            key = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
            lines.setdefault(key, []).append(text.strip())
            confidences.append(float(data["conf"][index]))
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    return "\n".join(" ".join(line) for line in lines.values()), round(confidence, 1)


def locate(
    path: Path, phrase: str, *, match: Match = "exact", languages: str = LANGUAGES, scale: int = 1
) -> tuple[int, int, float] | None:
    """The centre (x, y) of ``phrase`` in the image and its confidence, or None.

    The phrase is matched against runs of consecutive words of one line (``exact`` /
    ``tolerant``) or found inside a line's text (``contains``)."""
    found = words(path, languages=languages, scale=scale)
    size = max(1, len(phrase.split()))
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for word in found:
        lines.setdefault(word.line, []).append(word)
    for line in lines.values():
        spans = range(len(line)) if match != "contains" else [0]
        for start in spans:
            group = line[start : start + size] if match != "contains" else line
            text = " ".join(w.text for w in group)
            if matches(text, phrase, match) or _punctuated(text, phrase, match):
                left = min(w.left for w in group)
                top = min(w.top for w in group)
                right = max(w.left + w.width for w in group)
                bottom = max(w.top + w.height for w in group)
                confidence = sum(w.confidence for w in group) / len(group)
                return (left + right) // 2, (top + bottom) // 2, round(confidence, 1)
    return None


def _punctuated(text: str, phrase: str, match: Match) -> bool:
    """A phrase followed by punctuation OCR glued to it ('NO.:' for 'NO.') still matches."""
    stripped = re.sub(r"[.:,;]+$", "", text)
    return stripped != text and matches(stripped, re.sub(r"[.:,;]+$", "", phrase), match)
