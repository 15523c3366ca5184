"""An expression that builds nothing but never ends is stopped: it held a robot forever."""

from __future__ import annotations

import time

import pytest

from robots.errors import ExpressionError
from robots.language.expressions import render_text
from robots.language.time_budget import MAX_SECONDS, time_budget

ENDLESS = [
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in [0]*100000 %}{% for b in [0]*100000 %}{{ '' }}{% endfor %}{% endfor %}",
    "{{ range(100000)|map('string')|list|length }}{% for a in range(10**5) %}"
    "{% for b in range(10**5) %}{% if a == b %}{% endif %}{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("text", ENDLESS)
def test_an_endless_expression_is_stopped(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="computed longer than"), time_budget(0.5):
        render_text(text, {})
    assert time.monotonic() - started < 5
    # Nothing is left pending for the thread: what it evaluates next is unaffected.
    time.sleep(1.2)
    assert render_text("{{ 1 + 1 }}", {}) == 2


def test_the_default_budget_leaves_real_expressions_alone() -> None:
    assert MAX_SECONDS >= 5
    for _ in range(200):
        assert render_text("{{ (range(1000)|map('string')|join(','))|length }}", {}) == 3889


def test_run_prints_a_huge_output_cut_and_plain() -> None:
    # run.py run highlighted a 700 KB output with rich: 20 s and 600 MB for the terminal.
    import io

    from rich.console import Console

    from robots.engine.run_console import PRINTED_OUTPUT_CHARACTERS, print_outputs

    screen = io.StringIO()
    started = time.monotonic()
    print_outputs(Console(file=screen, width=120), {"x": [[n] for n in range(100_000)]})
    assert time.monotonic() - started < 5
    assert len(screen.getvalue()) < PRINTED_OUTPUT_CHARACTERS * 1.2
    assert "characters in all" in screen.getvalue()
