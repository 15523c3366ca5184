"""Masking secrets and personal data in step records, logs and error messages.

Secrets (passwords, tokens, vault values) become ``***``; personal data (fields marked
``personal: true``) keeps its first character: ``Musterstraße 5`` -> ``M***``. Values under
keys that look like secrets (``password``, ``token``...) are masked whatever they hold.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

SECRET_MASK = "***"
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|authorization|credential", re.I)
_MIN_LENGTH = 3  # shorter values would mask ordinary words and digits everywhere
_MAX_VALUES = 20_000


# What an application showed (page text, element texts, an answer's body), quoted in an
# error message between these marks: see ``page_quote``.
_PAGE_QUOTE = re.compile(r"«[^«»]*»")
PAGE_TEXT_WITHHELD = "«page text not logged»"


def page_quote(text: str, limit: int = 300) -> str:
    """Text read from an application, quoted for an error message: one line, at most ``limit``
    characters, between « and ».

    A page can show personal data the run does not know of (the customer's birth date, the
    next customer in a list), which no masker can hide. Quoted this way it stays in the error
    a person reads on the case page and in the task (both cleared by the retention purge,
    which keeps the audit trail only ``without_page_text``), and log lines, which no purge
    reaches, leave it out.
    """
    flat = " ".join(str(text).split()).replace("«", '"').replace("»", '"')
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f"«{flat}»"


def without_page_text(text: str) -> str:
    """``text`` with every ``page_quote`` replaced by a note that the page text is left out."""
    return _PAGE_QUOTE.sub(PAGE_TEXT_WITHHELD, text) if "«" in text else text


def mask_personal(value: str) -> str:
    """The masked form of one personal value."""
    return value[:1] + "***" if len(value) > 3 else "***"


class Masker:
    """Knows the sensitive values of a run (or a process) and hides them wherever they occur.

    A run's masker passes what it learns to its ``parent`` (the process's, which masks the
    log lines): secrets for good, personal data only while the run lives — ``release`` gives
    them back when it ends. The process's masker therefore holds the secrets and the
    personal data of the runs in progress, not of every case the robot ever worked: that
    list grew with each case, and each new value made it compile a pattern over all of them
    again (50 ms at a thousand values, over a second at twenty thousand), every one kept in
    ``re``'s cache.
    """

    def __init__(self, parent: Masker | None = None) -> None:
        self._values: OrderedDict[str, str] = OrderedDict()
        # Which values are secrets: known by name, not by their replacement, since a short
        # personal value is masked as "***" too and must not count as a secret.
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._parent = parent
        self._loans: dict[str, int] = {}  # personal values lent by children: how many hold each
        self._lent: set[str] = set()  # personal values this masker lent its parent

    def add_secret(self, value: Any) -> None:
        """Hide ``value`` completely from now on."""
        self._add(value, SECRET_MASK, secret=True)

    def add_personal(self, value: Any) -> None:
        """Hide ``value`` as personal data from now on (nested values included)."""
        if isinstance(value, dict):
            for item in value.values():
                self.add_personal(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.add_personal(item)
        elif value is not None and not isinstance(value, bool):
            self._add(value, mask_personal(str(value)))

    def _add(self, value: Any, replacement: str, *, secret: bool = False, lent: bool = False) -> None:
        text = str(value)
        if len(text) < _MIN_LENGTH:
            return
        with self._lock:
            if text in self._secrets:
                return  # a secret stays a secret even if also marked personal
            if lent and text in self._values and text not in self._loans:
                return  # known for good already
            if lent:
                self._loans[text] = self._loans.get(text, 0) + 1
            else:
                self._loans.pop(text, None)  # known for good from now on
            self._values[text] = replacement
            if secret:
                self._secrets.add(text)
            self._values.move_to_end(text)
            while len(self._values) > _MAX_VALUES:
                self._secrets.discard(self._values.popitem(last=False)[0])
            self._pattern = None
        if self._parent is not None:
            personal = not secret
            if personal and text in self._lent:
                return
            if personal:
                self._lent.add(text)
            self._parent._add(value, replacement, secret=secret, lent=personal)

    def release(self) -> None:
        """Take back the personal data this masker lent its parent (the run has ended);
        secrets stay known to the parent."""
        if self._parent is None:
            return
        lent, self._lent = self._lent, set()
        self._parent._take_back(lent)

    def _take_back(self, texts: set[str]) -> None:
        with self._lock:
            for text in texts:
                holders = self._loans.get(text, 0) - 1
                if holders > 0:
                    self._loans[text] = holders
                    continue
                if self._loans.pop(text, None) is not None and text not in self._secrets:
                    self._values.pop(text, None)
                    self._pattern = None

    def __len__(self) -> int:
        """How many values this masker knows."""
        with self._lock:
            return len(self._values)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            return self._pattern

    def mask_text(self, text: str) -> str:
        """``text`` with every known sensitive value replaced."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(lambda match: self._values.get(match.group(0), SECRET_MASK), text)

    def contains_secret(self, value: Any) -> bool:
        """True when a secret (not merely personal data) occurs anywhere in ``value``."""
        pattern = self._compiled()
        if pattern is None:
            return False
        if isinstance(value, str):
            return any(m.group(0) in self._secrets for m in pattern.finditer(value))
        if isinstance(value, dict):
            return any(self.contains_secret(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(self.contains_secret(v) for v in value)
        return False

    def secret_values(self) -> list[str]:
        """The values known to be secret (for scrubbing files the masker cannot see into)."""
        with self._lock:
            return [value for value in self._values if value in self._secrets]

    def hide_secrets(self, value: Any, *, key: str | None = None) -> Any:
        """A deep copy of ``value`` with only the secrets hidden, personal data kept.

        For what people who may see personal data work with, e.g. a human task's data.
        """
        if key is not None and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
            return SECRET_MASK
        if isinstance(value, str):
            pattern = self._compiled()
            if pattern is None:
                return value
            return pattern.sub(lambda m: SECRET_MASK if m.group(0) in self._secrets else m.group(0), value)
        if isinstance(value, dict):
            return {k: self.hide_secrets(v, key=str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.hide_secrets(item) for item in value]
        return value

    def mask(self, value: Any, *, key: str | None = None) -> Any:
        """A masked deep copy of ``value`` (mappings, lists, strings, scalars)."""
        if key is not None and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
            return SECRET_MASK
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, dict):
            return {k: self.mask(v, key=str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            masked = self.mask_text(str(value))
            return value if masked == str(value) else masked
        return value


def _encodings(secret: str) -> set[bytes]:
    """The ways a secret shows up in files: raw, in JSON strings, URL-encoded, HTML-escaped."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        html.escape(secret),
    }
    return {form.encode() for form in forms if len(form) >= _MIN_LENGTH}


def scrub_zip(path: Path, masker: Masker) -> int:
    """Rewrite a zip file (a Playwright trace) with every secret of ``masker`` replaced by ``***``.

    A trace records request bodies and action parameters; a step that used a secret would
    otherwise carry it into the evidence kept with the case. Returns how many were replaced.
    """
    forms = sorted({form for secret in masker.secret_values() for form in _encodings(secret)}, key=len)
    if not forms:
        return 0
    pattern = re.compile(b"|".join(re.escape(form) for form in reversed(forms)))
    replaced = 0
    with (
        tempfile.NamedTemporaryFile(dir=path.parent, suffix=".zip", delete=False) as scratch,
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(scratch, "w") as target,
    ):
        for item in source.infolist():
            data, count = pattern.subn(SECRET_MASK.encode(), source.read(item))
            replaced += count
            target.writestr(item, data)
    if replaced:
        shutil.move(scratch.name, path)
    else:
        Path(scratch.name).unlink()
    return replaced


PROCESS_MASKER = Masker()
"""Every value any run of this process marked sensitive: what the log sinks hide."""
