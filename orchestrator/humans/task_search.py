"""The inbox's search box: which tasks a text finds.

The text is split into words; a task is found when every word is the task's or its case's id
or occurs (case-insensitive, as a part of it) in one of what the inbox shows of the task or
holds for it: the task's queue, reason and assignee, its case's reference and workflow, and
any value, at any depth, of the case's payload (customer number, order number, name...) or of
the data the robot gathered for the task. Keys are not searched (``customer_id`` does not
find every task that has one); neither are values under keys the masking treats as secret
(``robots.masking``: ``password``, ``token``...) nor the workflow's ``secret: true`` inputs:
the search box finds no value the task page would mask.

The database narrows the candidates first (``candidate_condition``: each word's longest run
of plain ASCII characters in the lower-cased columns and JSON texts), which any real match
passes on SQLite and PostgreSQL alike; ``matches`` then decides on the values themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from orchestrator.storage.tables import CaseRow, TaskRow
from robots.masking import SECRET_MASK, Masker

#: At most this many words count (a pasted paragraph is not a search).
MAX_WORDS = 8
# Runs of the characters that are stored as themselves in every column and in JSON text on
# every backend (JSON escapes quotes, backslashes, control and non-ASCII characters).
_PLAIN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def search_words(text: str) -> list[str]:
    """The words of a search text, folded for comparing (at most ``MAX_WORDS``)."""
    return [fold(word) for word in text.split()][:MAX_WORDS]


def fold(text: str) -> str:
    """``text`` lower-cased for comparing, except characters whose lower case would be plain
    ASCII (the Kelvin sign, the dotted capital I): the database does not lower them so."""
    folded = []
    for char in text:
        lower = char.lower()
        keep = not char.isascii() and any(part.isascii() for part in lower)
        folded.append(char if keep else lower)
    return "".join(folded)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def candidate_condition(word: str) -> sa.ColumnElement[bool] | None:
    """A condition every task that ``matches`` the (folded) ``word`` meets; None when the word
    has no plain ASCII run to look for (then every task is a candidate)."""
    runs = _PLAIN.findall(word)
    if not runs:
        return None
    pattern = _like(max(runs, key=len))
    columns: list[Any] = [
        TaskRow.id,
        TaskRow.queue,
        TaskRow.reason,
        TaskRow.assignee,
        CaseRow.id,
        CaseRow.reference,
        CaseRow.workflow,
        sa.cast(TaskRow.data, sa.Text),
        sa.cast(CaseRow.payload, sa.Text),
    ]
    return sa.or_(*(sa.func.lower(column).like(pattern, escape="\\") for column in columns))


def values_of(value: Any) -> Iterator[str]:
    """Every scalar value in ``value`` (mappings and lists at any depth) as text; not the keys,
    and not what sits under a key that looks secret."""
    shown = Masker().hide_secrets(value)
    todo = [shown]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
        elif item is not None and item != SECRET_MASK:
            yield str(item)


def matches(words: list[str], ids: list[str | None], texts: list[str | None], data: list[Any]) -> bool:
    """True when every word is one of ``ids`` (whole: a part of a random id finds nothing one
    could expect) or occurs in one of ``texts`` or in a value of ``data``."""
    whole = {fold(text) for text in ids if text}
    haystack = [fold(text) for text in texts if text]
    for item in data:
        haystack.extend(fold(text) for text in values_of(item))
    return all(word in whole or any(word in text for text in haystack) for word in words)
