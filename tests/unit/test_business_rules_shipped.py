"""The business rules Tandem ships: they load, their examples hold, they decide sensibly."""

from __future__ import annotations

import pytest

from robots.language.rules import RuleBook
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook(ROOT / "business_rules")


def test_every_shipped_table_loads_and_its_examples_hold(book: RuleBook) -> None:
    assert book.problems() == []
    assert {
        "postal_code_supplier",
        "address_plausibility",
        "customer_value_hints",
        "customer_priority",
    } <= set(book.names())


@pytest.mark.parametrize(
    ("postal_code", "city", "plausible", "reason"),
    [
        ("10115", "Berlin", True, "address is plausible"),
        ("80331", "muenchen", True, "address is plausible"),
        ("20095", "München", False, "postal code 20095 belongs to Hamburg, not München"),
        ("1234", "Berlin", False, "postal code 1234 must have five digits"),
        ("00000", "Berlin", False, "postal code 00000 is not in the reference list"),
    ],
)
def test_address_plausibility(
    book: RuleBook, postal_code: str, city: str, plausible: bool, reason: str
) -> None:
    assert book.decide("address_plausibility", {"postal_code": postal_code, "city": city}) == {
        "plausible": plausible,
        "reason": reason,
    }


def test_supplier_by_postal_code(book: RuleBook) -> None:
    assert book.decide("postal_code_supplier", {"postal_code": "01067"})["supplier"] == "nordlog"
    assert book.decide("postal_code_supplier", {"postal_code": "70173"})["supplier"] == "suedexpress"


def test_agent_hints_alert_on_late_payers(book: RuleBook) -> None:
    hints = book.decide(
        "customer_value_hints",
        {"segment": "B", "annual_revenue": 800, "payment_behaviour": "pays late", "products": ["sofa"]},
    )
    assert [h["kind"] for h in hints] == ["alert", "cross_sell"]
