"""The demo's mix of cases: what a morning in the back-office looks like, in miniature.

Owns ``demo_cases``: webform address changes (one of them implausible), IVR delivery
appointments (the southern supplier is fully booked, so those reach the appointment team)
and IVR "appointment failed" calls (robot -> agent -> robot, with a callout), as the
channel API's request bodies. ``run.py demo`` (``demo.launcher``) posts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class DemoCase:
    """One case the demo submits through a channel."""

    channel: str
    body: dict[str, Any]
    note: str


def demo_cases(stamp: str) -> list[DemoCase]:
    """The demo's mix: what a morning in the back-office looks like, in miniature.

    ``stamp`` makes references unique per demo run (a channel never reuses a call id).
    """
    cases: list[DemoCase] = []
    moves = [
        ("C000001", "Chausseestraße", "5", "10115", "Berlin", "anna.schmidt@example.com"),
        ("C000002", "Jungfernstieg", "12", "20354", "Hamburg", "jonas.mueller@example.com"),
        ("C000004", "Ehrenstraße", "3", "50672", "Köln", ""),
    ]
    for number, street, house, zip_code, city, email in moves:
        cases.append(
            DemoCase(
                "webform",
                {
                    "form": "address-change",
                    "submission_id": f"demo-{stamp}-{number}",
                    "fields": {
                        "customer_number": number,
                        "street": street,
                        "house_number": house,
                        "zip": zip_code,
                        "city": city,
                        "email": email,
                    },
                },
                f"address change {number} -> {city}",
            )
        )
    cases.append(
        DemoCase(
            "webform",
            {
                "form": "address-change",
                "submission_id": f"demo-{stamp}-C000003",
                # Hamburg's postal code with Munich as the city: the plausibility rule stops it.
                "fields": {
                    "customer_number": "C000003",
                    "street": "Leopoldstraße",
                    "house_number": "9",
                    "zip": "20095",
                    "city": "München",
                    "email": "",
                },
            },
            "address change C000003 (implausible: goes to address_review)",
        )
    )
    from demo.data import CUSTOMERS

    def ivr(event: str, customer: dict[str, Any], urgent: bool = False) -> DemoCase:
        return DemoCase(
            "ivr",
            {
                "event": event,
                "call_id": f"DEMO-{stamp}-{event[:4].upper()}-{customer['id']}",
                "caller_number": customer["phone"],
                "order_number": customer["order_number"],
                "postal_code": customer["postal_code"],
                "customer_number": customer["id"],
                "caller_name": customer["name"],
                "email": customer["email"],
                "urgent": urgent,
            },
            f"{event} {customer['order_number']} ({customer['postal_code']} {customer['city']})",
        )

    by_id = {c["id"]: c for c in CUSTOMERS}
    # North (NordLogistik has slots): booked straight through.
    for number in ("C000007", "C000008", "C000018"):
        cases.append(ivr("delivery appointment", by_id[number]))
    # South (Sued Express is fully booked in the demo): escalated to the appointment team.
    for number in ("C000005", "C000006"):
        cases.append(ivr("delivery appointment", by_id[number]))
    # Appointment failed: robot gathers phone, supplier, free slots -> agent pop-up -> robot books.
    cases.append(ivr("appointment failed", by_id["C000009"], urgent=True))
    cases.append(ivr("appointment failed", by_id["C000010"]))
    return cases
