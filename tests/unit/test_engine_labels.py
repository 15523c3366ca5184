"""Timeline labels: short, and never cut inside an expression."""

from __future__ import annotations

from robots.engine.walker import _shorten


def test_a_short_label_is_kept() -> None:
    assert _shorten("core.log message=hi", 80) == "core.log message=hi"


def test_a_label_is_not_cut_inside_an_expression() -> None:
    label = "web.fill label=Street, value={{ input.street ~ ' ' ~ input.house_number }}"
    assert _shorten(label, 40) == label  # the expression ends soon after: kept whole
    long = "web.fill label=Street, value={{ " + "x ~ " * 40 + "y }}"
    assert _shorten(long, 40) == "web.fill label=Street, value=…"


def test_a_cut_outside_expressions_is_marked() -> None:
    assert _shorten("a" * 100, 80) == "a" * 80 + "…"
