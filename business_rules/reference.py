"""Rule functions over the bundled reference list of postal codes (business_rules/data)."""

from __future__ import annotations

import csv
import functools
import unicodedata
from pathlib import Path

from robots.language.rules import rule_function

REFERENCE = Path(__file__).parent / "data" / "postal_codes.csv"
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@functools.cache
def _cities() -> dict[str, str]:
    with REFERENCE.open(encoding="utf-8") as handle:
        return {row["postal_code"]: row["city"] for row in csv.DictReader(handle)}


@rule_function("reference_city")
def reference_city(postal_code: object) -> str | None:
    """The city of a postal code in the reference list, or None when it is not listed."""
    return _cities().get(str(postal_code).strip())


@rule_function("same_city")
def same_city(first: object, second: object) -> bool:
    """Do two city names mean the same city? Case, spaces, umlauts (ü/ue) and accents ignored."""
    return _canonical(first) == _canonical(second)


def _canonical(name: object) -> str:
    text = " ".join(str(name or "").split()).casefold().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).replace("-", " ")
