"""Pydantic's validation errors in the words of the person who wrote the YAML.

Every problem the loaders report carries a fix. ``fix_hint`` gives a specific one for the
common kinds of pydantic error (a wrong type, a value out of range, a key that is not
allowed...); any other kind gets a pointer to the reference the caller names (the
workflow language, the business rules or the action list). The offending value itself is
shown by ``robots.errors.quoted``.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from robots.language.model import LOADER_FIELDS
from robots.language.registry import suggest

WORKFLOW_DOCS = "docs/workflow-language.md"
"""Where the workflow language is described: the hint for what has no specific one."""
RULES_DOCS = "docs/business-rules.md"
"""Where decision tables are described."""
ACTIONS_DOCS = "'run.py actions'"
"""Where every action's parameters are listed."""

_TEXT = "write it as text, e.g. in quotes"
_WHOLE_NUMBER = "write a whole number, e.g. 3"
_NUMBER = "write a number, e.g. 3 or 2.5"
_BOOLEAN = "write true or false"
_MAPPING = "write a mapping, e.g. {key: value}"
_LIST = "write a list, e.g. [a, b]"

_HINTS: dict[str, str] = {
    "string_type": _TEXT,
    "int_type": _WHOLE_NUMBER,
    "int_parsing": _WHOLE_NUMBER,
    "int_from_float": _WHOLE_NUMBER,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "bool_type": _BOOLEAN,
    "bool_parsing": _BOOLEAN,
    "dict_type": _MAPPING,
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "iterable_type": _LIST,
    "none_required": "remove the value",
    "string_pattern_mismatch": "the text must match the pattern {pattern}",
    "greater_than": "use a value above {gt}",
    "greater_than_equal": "use a value of at least {ge}",
    "less_than": "use a value below {lt}",
    "less_than_equal": "use a value of at most {le}",
    "string_too_short": "write at least {min_length} character(s)",
    "string_too_long": "write at most {max_length} character(s)",
    "too_short": "give at least {min_length} item(s)",
    "too_long": "give at most {max_length} item(s)",
    "date_parsing": "write a date like 2026-12-01",
    "date_from_datetime_parsing": "write a date like 2026-12-01",
    "datetime_parsing": "write a date and time like 2026-12-01T08:00:00",
    "datetime_from_date_parsing": "write a date and time like 2026-12-01T08:00:00",
}
VALUE_HINTS: dict[str, str] = {
    "string": _TEXT,
    "integer": _WHOLE_NUMBER,
    "number": _NUMBER,
    "boolean": _BOOLEAN,
    "list": _LIST,
}
"""How to write a value of each type the workflow language and the decision tables declare."""


def fix_hint(item: Any, model: type[BaseModel] | None = None, *, reference: str = WORKFLOW_DOCS) -> str:
    """How to fix one pydantic error (an item of ``ValidationError.errors()``).

    ``model`` is the model that was validated: with it, an unknown key gets a did-you-mean
    or the list of keys allowed where it was written. An error with no specific fix points
    to ``reference`` (``WORKFLOW_DOCS``, ``RULES_DOCS`` or ``ACTIONS_DOCS``).
    """
    kind = item["type"]
    loc = tuple(item.get("loc") or ())
    ctx = item.get("ctx") or {}
    fallback = f"see {reference} for what this key takes"
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1]) if model is not None else set()
        return unknown_key_hint(str(loc[-1]) if loc else "", allowed)
    if kind == "missing":
        name = next((str(part) for part in reversed(loc) if isinstance(part, str)), "the value")
        return f"add '{name}: ...'"
    if kind in ("literal_error", "enum", "union_tag_invalid") and "expected" in ctx:
        return f"use one of {ctx['expected']}"
    template = _HINTS.get(kind)
    if template is None:
        return fallback
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return fallback


def unknown_key_hint(key: str, allowed: set[str]) -> str:
    """The fix for a key that may not be written where it is: the allowed key it was
    probably meant to be, else every key allowed there (or, if none is, its removal)."""
    if not allowed:
        return "remove the key"
    return suggest(key, allowed) or f"allowed here: {', '.join(sorted(allowed))}"


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> set[str]:
    """The keys that may be written in the mapping at ``loc`` inside ``model``."""
    current = [model]
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list or tuple: the same models
        found: list[type[BaseModel]] = []
        for candidate in current:
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    found += _models_in(field.annotation)
        current = found
    return {
        field.alias or name
        for candidate in current
        for name, field in candidate.model_fields.items()
        if name not in LOADER_FIELDS
    }


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):  # a union's members, a container's items
        yield from _models_in(argument)
