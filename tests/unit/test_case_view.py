"""The case page's step texts and screenshots, as a person reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestrator.control_room.pages.case_view import fill_inputs, personal_fields, screenshots, step_text
from orchestrator.models import StepEntry
from robots.language.project import Project
from tests.conftest import ROOT

PAYLOAD = {"customer_id": "C000001", "street": "Musterstraße 5", "city": "Berlin", "extra": {"floor": 3}}


def entry(
    label: str, kind: str = "web.fill", artifacts: list[str] | None = None, path: str = "1"
) -> StepEntry:
    return StepEntry(
        id=1,
        case_id="c",
        run_id="r",
        path=path,
        kind=kind,
        label=label,
        depth=0,
        attempt=1,
        outcome="ok",
        started_at=datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
        ended_at=None,
        duration_ms=5.0,
        outputs=None,
        error=None,
        error_kind=None,
        system="crm",
        artifacts=[{"path": a} for a in artifacts or []],
    )


def test_values_replace_expressions_and_personal_ones_are_masked() -> None:
    text = fill_inputs(
        "value={{ input.street }}, city={{input.city}}, floor={{ input.extra.floor }}", PAYLOAD, {"street"}
    )
    assert text == "value=M***, city=Berlin, floor=3"
    assert fill_inputs("{{ input.email }}", PAYLOAD, set()) == "input.email"  # purged or not given
    assert "{{" not in fill_inputs("{{ input.customer_id }}", PAYLOAD, set())


def test_each_step_is_named_once() -> None:
    action = step_text(entry("web.fill label=Street, value={{ input.street }}"), PAYLOAD, {"street"})
    assert (action.text, action.kind) == ("web.fill label=Street, value=M***", None)
    named = step_text(entry("book the slot", kind="web.click"), PAYLOAD, set())
    assert (named.text, named.kind) == ("book the slot", "web.click")


def test_the_workflow_says_which_fields_are_personal() -> None:
    personal = personal_fields(Project(ROOT), "address_change")
    assert "street" in personal and "city" not in personal
    assert personal_fields(Project(ROOT), "no_such_workflow") == {"*"}


def test_the_same_picture_is_shown_once_with_every_step_that_saw_it(tmp_path: Path) -> None:
    first, same, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    first.write_bytes(b"picture one")
    same.write_bytes(b"picture one")
    other.write_bytes(b"picture two")
    steps = [
        entry("web.goto /customers/{{ input.customer_id }}", "web.goto", [str(first)], "1"),
        entry("web.expect text=Saved", "web.expect", [str(same), str(other)], "2"),
    ]
    shots = screenshots(steps, PAYLOAD, set())
    assert [s.index for s in shots] == [0, 2]
    assert shots[0].caption.startswith("step 1: web.goto /customers/C000001")
    assert shots[0].also == ["step 2: web.expect text=Saved"]
