"""How text read by OCR is compared: exact, tolerant of OCR's confusions, contains."""

from __future__ import annotations

import pytest

from robots.drivers import ocr


@pytest.mark.parametrize(
    ("read", "wanted", "mode", "expected"),
    [
        ("KSM010", "KSM010", "exact", True),
        ("KSM010", "KSK020", "exact", False),
        ("KSM010", "KSK020", "tolerant", False),
        ("KSMO1O", "KSM010", "tolerant", True),
        ("KSMO1O", "KSM010", "exact", False),
        ("Cust0mer  No", "CUSTOMER NO", "tolerant", True),
        ("Dimmer", "Dirnrner", "tolerant", True),
        ("CUSTOMER NO. : C000001", "CUSTOMER NO.", "contains", True),
    ],
)
def test_ocr_matching_modes(read: str, wanted: str, mode: ocr.Match, expected: bool) -> None:
    assert ocr.matches(read, wanted, mode) is expected
