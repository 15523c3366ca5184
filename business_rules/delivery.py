"""A Python decision, for what a table cannot say: the earliest acceptable delivery date."""

from __future__ import annotations

from datetime import date, timedelta

from robots.language.rules import decision


@decision("earliest_delivery_date")
def earliest_delivery_date(order_date: str | None = None, lead_days: int = 2) -> dict[str, str]:
    """The first working day (Mon to Fri) ``lead_days`` or more after the order date (or today)."""
    start = date.fromisoformat(order_date) if order_date else date.today()
    day = start + timedelta(days=int(lead_days))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return {"date": day.isoformat()}
