"""The OpenAPI patterns for texts say what the server accepts, so a schema-valid text is kept.

A generated request that matches the published pattern must not be refused by the store's own
check (``text_problem``, and "say something" for comments and escalation reasons).
"""

from __future__ import annotations

import re

import pytest

from connectors.fields import NONBLANK_TEXT_PATTERN, TEXT_PATTERN, text_problem
from orchestrator.control_room.pages.tasks_api import CommentIn, EscalateIn

SAMPLES = [
    "",
    " ",
    "\t",
    "\n \r",
    "\u3000",
    "\u00a0",
    "ok",
    " Grund: Kunde verzogen ",
    "a\tb",
    "x\x00",
    "\x7f",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_a_nonblank_text_matches_the_pattern_exactly_when_the_store_keeps_it(text: str) -> None:
    kept = text_problem(text) is None and bool(text.strip())
    assert bool(re.match(NONBLANK_TEXT_PATTERN, text)) == kept


@pytest.mark.parametrize("text", SAMPLES)
def test_a_text_matches_the_pattern_exactly_when_the_store_keeps_it(text: str) -> None:
    assert bool(re.match(TEXT_PATTERN, text)) == (text_problem(text) is None)


@pytest.mark.parametrize("model, field", [(CommentIn, "text"), (EscalateIn, "reason")])
def test_comments_and_escalation_reasons_publish_the_nonblank_pattern(model: type, field: str) -> None:
    assert model.model_json_schema()["properties"][field]["pattern"] == NONBLANK_TEXT_PATTERN
