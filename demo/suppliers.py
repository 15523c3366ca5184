"""Two supplier portals: delivery slots by date, booking, and sometimes no free slot.

NordLogistik shows a table of free slots (order number, postal code, optional date) with a
"Book" button per row. Sued Express asks for order and ZIP first, then offers the free
windows in a select, wants a confirmation tick and books. Dates whose day of the month is
a multiple of 7 are fully booked; ``no_slots`` empties every date.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demo import data
from demo.common import DemoApp, LoginForm, esc, rid

WINDOWS = ["08:00-12:00", "12:00-16:00", "16:00-20:00"]

NORD_CSS = """
body { font-family: Arial, sans-serif; margin: 0; background: #eef5f0; }
header { background: #0b6e4f; color: #fff; padding: 12px 24px; display: flex; gap: 16px; }
header .brand { flex: 1; font-weight: bold; font-size: 18px; } main { padding: 24px; max-width: 900px; }
table { border-collapse: collapse; width: 100%; background: #fff; } th, td { border-bottom: 1px solid #cfe3d6; padding: 8px; text-align: left; }
button { background: #0b6e4f; color: #fff; border: 0; padding: 6px 12px; border-radius: 3px; }
form.search, form.login { display: grid; grid-template-columns: 160px 240px; gap: 8px; margin-bottom: 16px; }
.error { color: #a00; } .notice { color: #8a5a00; } .ok { color: #0b6e4f; font-weight: bold; } form.inline { display: inline; }
"""

SUED_CSS = """
body { font-family: Georgia, serif; margin: 0; background: #fff8ee; color: #3b2a1a; }
header { background: #c8553d; color: #fff; padding: 10px 20px; display: flex; gap: 16px; }
header .brand { flex: 1; font-style: italic; font-size: 20px; } main { padding: 20px; max-width: 760px; }
fieldset { border: 1px solid #e0b89f; margin-bottom: 12px; } label { display: block; margin-top: 8px; }
button { background: #c8553d; color: #fff; border: 0; padding: 8px 16px; border-radius: 16px; margin-top: 12px; }
.error { color: #a00; } .notice { color: #8a5a00; } .ok { color: #2e7d32; font-weight: bold; } form.inline { display: inline; }
"""


def working_days(start: date, count: int) -> list[date]:
    """The next ``count`` working days (Monday to Friday) from ``start`` on."""
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


class SlotBook:
    """The free slots of one supplier: generated from the date, minus what was booked."""

    def __init__(self, app: DemoApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    def booked(self) -> dict[tuple[str, str], str]:
        booked: dict[tuple[str, str], str] = self.app.extra.setdefault("booked", {})
        return booked

    def booking_of(self, order: str) -> dict[str, str] | None:
        """The order's booking (date, window, booking number), if it has one."""
        for (day, window), number in self.booked().items():
            if self.app.extra.get("orders", {}).get(number) == order.strip():
                return {"date": day, "window": window, "booking": number}
        return None

    def booking_notice(self, order: str) -> str:
        """What the portal shows about an order that is booked already (empty if not)."""
        booking = self.booking_of(order) if order else None
        if booking is None:
            return ""
        return (
            f'<section aria-label="Existing booking"><p class="notice" role="status">Order {esc(order)} is booked: '
            f'<span data-testid="booking-date">{esc(booking["date"])}</span> '
            f'<span data-testid="booking-window">{esc(booking["window"])}</span>, booking number '
            f'<strong data-testid="booking-number">{esc(booking["booking"])}</strong></p></section>'
        )

    def free(self, day: date) -> list[str]:
        if self.app.settings.get("no_slots") or day.weekday() >= 5 or day.day % 7 == 0:
            return []
        return [w for w in WINDOWS if (day.isoformat(), w) not in self.booked()]

    def upcoming(self, days: int = 5) -> list[tuple[str, str]]:
        start = date.today() + timedelta(days=1)
        return [(d.isoformat(), w) for d in working_days(start, days) for w in self.free(d)]

    def book(self, login: str, order: str, postal_code: str, day: str, window: str) -> str | None:
        with self.app.lock:
            if window not in self.free(date.fromisoformat(day)):
                return None
            counter = self.app.extra["counter"] = int(self.app.extra.get("counter", 0)) + 1
            number = f"{self.prefix}-{date.today().year}-{counter:06d}"
            self.booked()[(day, window)] = number
            self.app.extra.setdefault("orders", {})[number] = order.strip()
        self.app.audit(
            login,
            "slot_booked",
            order,
            None,
            {"order": order, "postal_code": postal_code, "date": day, "window": window, "booking": number},
        )
        return number


def _known_order(order: str, postal_code: str) -> str | None:
    customer = data.by_order(order.strip())
    if customer is None:
        return f"Unknown order {order}"
    if customer["postal_code"] != postal_code.strip():
        return f"Order {order} is not for postal code {postal_code}"
    return None


def create_nordlog(data_dir: Path | None = None) -> DemoApp:
    """The NordLogistik portal."""
    portal = DemoApp(
        "nordlog",
        "NordLogistik Partner Portal",
        NORD_CSS,
        LoginForm(heading="Partner login", user_label="E-mail", password_label="Password", button="Login"),
        "/slots",
        data_dir,
        extra_defaults={"no_slots": False},
    )
    slots = SlotBook(portal, "NL")
    app = portal.app

    @app.get("/slots", response_class=HTMLResponse)
    def show(request: Request, order: str = "", postal_code: str = "", day: str = "") -> Response:
        login = portal.login_of(request)
        if login is None:
            return portal.to_login(request)
        order_id, postal_id, day_id = rid(), rid(), rid()
        result = ""
        notice = slots.booking_notice(order) if order and not _known_order(order, postal_code) else ""
        if order or postal_code:
            problem = _known_order(order, postal_code)
            if problem:
                result = f'<p class="error" role="alert">{esc(problem)}</p>'
            else:
                try:
                    chosen = (
                        [(day, w) for w in slots.free(date.fromisoformat(day))] if day else slots.upcoming()
                    )
                except ValueError:
                    chosen, result = [], f'<p class="error" role="alert">Invalid date {esc(day)}</p>'
                if chosen:
                    verb = "Reserve" if portal.v2 else "Book"
                    rows = "".join(
                        f'<tr><td>{esc(d)}</td><td>{esc(w)}</td><td><form method="post" action="/book" class="inline">'
                        f'<input type="hidden" name="order" value="{esc(order)}"><input type="hidden" name="postal_code" value="{esc(postal_code)}">'
                        f'<input type="hidden" name="day" value="{esc(d)}"><input type="hidden" name="window" value="{esc(w)}">'
                        f'<button type="submit" aria-label="{verb} {esc(d)} {esc(w)}">{verb}</button></form></td></tr>'
                        for d, w in chosen
                    )
                    result = (
                        f'<table aria-label="Free delivery slots"><thead><tr><th>Date</th><th>Window</th><th></th></tr>'
                        f"</thead><tbody>{rows}</tbody></table>"
                    )
                elif not result:
                    result = '<p class="notice" role="status">No free delivery slots on this date</p>'
        body = f"""<h1>Delivery slots</h1>{notice}
<form class="search" method="get" action="/slots">
<label for="{order_id}">Order number</label><input id="{order_id}" name="order" value="{esc(order)}">
<label for="{postal_id}">Postal code</label><input id="{postal_id}" name="postal_code" value="{esc(postal_code)}">
<label for="{day_id}">Delivery date</label><input id="{day_id}" name="day" type="date" value="{esc(day)}">
<span></span><button type="submit">Show slots</button></form>{result}"""
        return portal.page("Delivery slots", body, login=login)

    @app.post("/book")
    async def book(request: Request) -> Response:
        login = portal.login_of(request)
        if login is None:
            return portal.to_login(request)
        form = await request.form()
        order, postal_code, day, window = (
            str(form.get(k, "")) for k in ("order", "postal_code", "day", "window")
        )
        problem = _known_order(order, postal_code)
        await portal.work(250)
        number = None if problem else slots.book(login, order, postal_code, day, window)
        if number is None:
            message = problem or f"The slot {day} {window} is no longer free"
            return portal.page(
                "Booking failed",
                f'<h1>Booking failed</h1><p class="error" role="alert">{esc(message)}</p>',
                login=login,
                status=409,
            )
        body = f"""<h1>Booking confirmed</h1><p class="ok" role="status">Delivery booked for {esc(day)}, {esc(window)}</p>
<p>Booking number: <strong data-testid="booking-number">{esc(number)}</strong></p>
<p><a href="/slots">Book another delivery</a></p>"""
        return portal.page("Booking confirmed", body, login=login)

    return portal


def create_suedexpress(data_dir: Path | None = None) -> DemoApp:
    """The Sued Express portal."""
    portal = DemoApp(
        "suedexpress",
        "Sued Express - Lieferportal",
        SUED_CSS,
        LoginForm(heading="Partner access", user_label="Partner ID", password_label="PIN", button="Enter"),
        "/booking",
        data_dir,
        extra_defaults={"no_slots": False},
    )
    slots = SlotBook(portal, "SX")
    app = portal.app

    @app.get("/booking", response_class=HTMLResponse)
    def step_one(request: Request, error: str = "") -> Response:
        login = portal.login_of(request)
        if login is None:
            return portal.to_login(request)
        order_id, zip_id = rid(), rid()
        problem = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
        body = f"""<h1>New delivery appointment</h1>{problem}
<form method="get" action="/booking/windows"><fieldset><legend>Order</legend>
<label for="{order_id}">Order no.</label><input id="{order_id}" name="order">
<label for="{zip_id}">ZIP</label><input id="{zip_id}" name="zip" size="6"></fieldset>
<button type="submit">Continue</button></form>"""
        return portal.page("New appointment", body, login=login)

    @app.get("/booking/windows", response_class=HTMLResponse)
    def step_two(request: Request, order: str = "", zip: str = "") -> Response:
        login = portal.login_of(request)
        if login is None:
            return portal.to_login(request)
        problem = _known_order(order, zip)
        if problem:
            return RedirectResponse(f"/booking?error={problem}", status_code=303)
        free = slots.upcoming(days=8)
        if not free:
            body = (
                f"<h1>Delivery window</h1>{slots.booking_notice(order)}"
                '<p class="notice" role="status">Currently no delivery windows available</p>'
            )
            return portal.page("Delivery window", body, login=login)
        select_id, confirm_id = rid(), rid()
        options = "".join(f'<option value="{esc(d)}|{esc(w)}">{esc(d)} {esc(w)}</option>' for d, w in free)
        body = f"""<h1>Delivery window</h1><p>Order {esc(order)}, ZIP {esc(zip)}</p>{slots.booking_notice(order)}
<form method="post" action="/booking"><input type="hidden" name="order" value="{esc(order)}"><input type="hidden" name="zip" value="{esc(zip)}">
<label for="{select_id}">Delivery window</label><select id="{select_id}" name="slot">{options}</select>
<label><input type="checkbox" id="{confirm_id}" name="confirmed" value="yes"> I confirm the delivery appointment</label>
<button type="submit">Book appointment</button></form>"""
        return portal.page("Delivery window", body, login=login)

    @app.post("/booking")
    async def book(request: Request) -> Response:
        login = portal.login_of(request)
        if login is None:
            return portal.to_login(request)
        form = await request.form()
        order, zip_code, slot = (str(form.get(k, "")) for k in ("order", "zip", "slot"))
        if form.get("confirmed") != "yes":
            body = (
                '<h1>Not booked</h1><p class="error" role="alert">Please confirm the delivery appointment</p>'
            )
            return portal.page("Not booked", body, login=login, status=422)
        day, _, window = slot.partition("|")
        problem = _known_order(order, zip_code)
        await portal.work(350)
        number = None if problem else slots.book(login, order, zip_code, day, window)
        if number is None:
            message = problem or f"The window {day} {window} is no longer available"
            return portal.page(
                "Not booked",
                f'<h1>Not booked</h1><p class="error" role="alert">{esc(message)}</p>',
                login=login,
                status=409,
            )
        body = f"""<h1>Appointment booked</h1><p class="ok" role="status">Delivery on {esc(day)} between {esc(window)}</p>
<p>Your reference: <strong data-testid="booking-number">{esc(number)}</strong></p>"""
        return portal.page("Appointment booked", body, login=login)

    return portal
