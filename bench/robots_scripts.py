"""The hand-written Playwright scripts Tandem is compared with: a naive one and a tuned one.

Both do what the Tandem workflows do, click for click: read the address a system holds,
change it when it differs, verify the result; find the first free delivery slot, book
it, read the booking number. They differ only in how they work:

* ``NaiveScript`` is what people write first: a new browser context and a login per case,
  ``goto`` waiting for the full load, ``wait_for_selector("text=...")`` after each action.
* ``TunedScript`` is the floor: one context, each system logged in once and its page kept
  across cases (logging in again when the app sends it to its login page), and every
  action waits for the server's response that matters instead of for a text.
"""

from __future__ import annotations

import os
import time
from typing import Any

from playwright.sync_api import Page, expect

from robots.drivers.browser import acquire_playwright, launch_options, release_playwright

Case = dict[str, Any]

# System -> (URL env, vault entry, user label, password label, login button).
LOGIN_FORMS = {
    "crm": ("CRM_URL", "CRM_ROBOT", "Username", "Password", "Sign in"),
    "billing": ("BILLING_URL", "BILLING_ROBOT", "User ID", "Passcode", "Log on"),
    "nordlog": ("NORDLOG_URL", "NORDLOG_ROBOT", "E-mail", "Password", "Login"),
    "suedexpress": ("SUEDEXPRESS_URL", "SUEDEXPRESS_ROBOT", "Partner ID", "PIN", "Enter"),
}
ADDRESS_IDS = {
    "crm": ("street", "postal-code", "city"),
    "billing": ("billing-street", "billing-zip", "billing-town"),
}
SLOTS_TABLE = "table[aria-label='Free delivery slots']"


class ScriptFailed(Exception):
    """A hand-written script found the app in a state it did not expect."""


def url_of(system: str) -> str:
    """The base URL of a demo system, from the environment the benchmark sets."""
    return os.environ[LOGIN_FORMS[system][0]].rstrip("/")


def credentials(system: str) -> tuple[str, str]:
    """The robot's login for a system, from the same vault variables Tandem reads."""
    entry = LOGIN_FORMS[system][1]
    return os.environ[f"TANDEM_SECRET_{entry}_USERNAME"], os.environ[f"TANDEM_SECRET_{entry}_PASSWORD"]


def wanted(case: Case) -> list[str]:
    """The address a case wants, as the three fields read from the apps."""
    return [case["street"], case["postal_code"], case["city"]]


class _Script:
    """One Chromium for the worker's life (both scripts launch it once)."""

    def __init__(self) -> None:
        self.playwright = acquire_playwright()
        self.browser = self.playwright.chromium.launch(**launch_options())
        self.context_ms: list[float] = []

    def run_case(self, case: Case) -> None:
        """Run one case; raise when it did not end as the workflow demands."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the browser and give back the Playwright driver."""
        try:
            self.browser.close()
        finally:
            release_playwright()

    def extras(self) -> dict[str, Any]:
        """Measurements besides the per-case times."""
        return {"new_context_ms": self.context_ms}


class NaiveScript(_Script):
    """New context and login per case; waits for texts after every action."""

    def run_case(self, case: Case) -> None:
        started = time.perf_counter()
        context = self.browser.new_context()
        page = context.new_page()
        self.context_ms.append((time.perf_counter() - started) * 1000)
        try:
            if case["kind"] == "address":
                self._login(page, "crm")
                self._crm(page, case)
                self._login(page, "billing")
                self._billing(page, case)
            else:
                self._login(page, case["supplier"])
                if case["supplier"] == "nordlog":
                    self._nordlog(page, case)
                else:
                    self._suedexpress(page, case)
        finally:
            context.close()

    def _login(self, page: Page, system: str) -> None:
        _, _, user_label, password_label, button = LOGIN_FORMS[system]
        user, password = credentials(system)
        page.goto(url_of(system) + "/login")
        page.get_by_label(user_label).fill(user)
        page.get_by_label(password_label).fill(password)
        page.click(f"button:has-text('{button}')")
        page.wait_for_selector("text=Log out")

    @staticmethod
    def _read(page: Page, test_ids: tuple[str, ...]) -> list[str]:
        return [page.inner_text(f"[data-testid={test_id}]") for test_id in test_ids]

    def _verify(self, page: Page, system: str, case: Case) -> None:
        seen = self._read(page, ADDRESS_IDS[system])
        if seen != wanted(case):
            raise ScriptFailed(f"{system} shows {seen}, expected {wanted(case)}")

    def _crm(self, page: Page, case: Case) -> None:
        detail = f"{url_of('crm')}/customers/{case['customer_id']}"
        page.goto(detail)
        if self._read(page, ADDRESS_IDS["crm"]) != wanted(case):
            page.click("button:has-text('Edit address')")
            frame = page.frame_locator("iframe[title='Edit address']")
            frame.get_by_label("Street").fill(case["street"])
            frame.get_by_label("Postal code").fill(case["postal_code"])
            frame.get_by_label("City").fill(case["city"])
            page.once("dialog", lambda dialog: dialog.accept())
            frame.locator("button:has-text('Save address')").click()
            frame.locator("text=Address saved").wait_for(timeout=20_000)
            page.goto(detail)
        self._verify(page, "crm", case)

    def _billing(self, page: Page, case: Case) -> None:
        page.goto(f"{url_of('billing')}/accounts?customer={case['customer_id']}")
        if self._read(page, ADDRESS_IDS["billing"]) != wanted(case):
            page.click("button:has-text('Change billing address')")
            page.get_by_label("Street").fill(case["street"])
            page.get_by_label("ZIP code").fill(case["postal_code"])
            page.get_by_label("Town").fill(case["city"])
            page.click("button:has-text('Submit')")
            page.click("button:has-text('Confirm')")
            page.wait_for_selector("text=Billing address updated", timeout=20_000)
        self._verify(page, "billing", case)

    def _nordlog(self, page: Page, case: Case) -> None:
        page.goto(f"{url_of('nordlog')}/slots?order={case['order_number']}&postal_code={case['postal_code']}")
        rows = page.locator(f"{SLOTS_TABLE} tbody tr")
        if rows.count() == 0:
            raise ScriptFailed(f"no free slot for {case['order_number']}")
        date, window = (
            rows.first.locator("td").nth(0).inner_text(),
            rows.first.locator("td").nth(1).inner_text(),
        )
        page.click(f"button[aria-label='Book {date} {window}']")
        page.wait_for_selector("text=Booking confirmed", timeout=20_000)
        if not page.inner_text("[data-testid=booking-number]"):
            raise ScriptFailed("no booking number")

    def _suedexpress(self, page: Page, case: Case) -> None:
        page.goto(url_of("suedexpress") + "/booking")
        page.get_by_label("Order no.").fill(case["order_number"])
        page.get_by_label("ZIP").fill(case["postal_code"])
        page.click("button:has-text('Continue')")
        page.wait_for_selector("text=I confirm the delivery appointment")
        if not page.locator("select option").all_inner_texts():
            raise ScriptFailed(f"no delivery window for {case['order_number']}")
        page.get_by_label("Delivery window").select_option(index=0)
        page.get_by_label("I confirm the delivery appointment").check()
        page.click("button:has-text('Book appointment')")
        page.wait_for_selector("text=Appointment booked", timeout=20_000)
        if not page.inner_text("[data-testid=booking-number]"):
            raise ScriptFailed("no booking number")


class TunedScript(_Script):
    """One login per system for the worker's life, a kept page each, waits on responses."""

    def __init__(self) -> None:
        super().__init__()
        started = time.perf_counter()
        self.context = self.browser.new_context()
        self.context_ms.append((time.perf_counter() - started) * 1000)
        self.pages: dict[str, Page] = {}

    def run_case(self, case: Case) -> None:
        if case["kind"] == "address":
            self._crm(case)
            self._billing(case)
        elif case["supplier"] == "nordlog":
            self._nordlog(case)
        else:
            self._suedexpress(case)

    def _login(self, page: Page, system: str) -> None:
        _, _, user_label, password_label, button = LOGIN_FORMS[system]
        user, password = credentials(system)
        page.goto(url_of(system) + "/login", wait_until="domcontentloaded")
        page.get_by_label(user_label).fill(user)
        page.get_by_label(password_label).fill(password)
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as info:
            page.get_by_role("button", name=button).click()
        if info.value.status != 303:
            raise ScriptFailed(f"login to {system} failed: HTTP {info.value.status}")

    def _open(self, system: str, path: str) -> Page:
        """The system's kept page at ``path``, logging in first (or again, when sent to login)."""
        page = self.pages.get(system)
        if page is None:
            page = self.pages[system] = self.context.new_page()
            self._login(page, system)
        # The kept pages share one context: the one in use must be the front tab, or
        # Chromium holds back its JS dialogs (the CRM's confirm) for about two seconds.
        page.bring_to_front()
        response = page.goto(url_of(system) + path, wait_until="domcontentloaded")
        if "/login" in page.url:
            self._login(page, system)
            response = page.goto(url_of(system) + path, wait_until="domcontentloaded")
        if response is None or not response.ok:
            raise ScriptFailed(f"{system}{path}: HTTP {response.status if response else '?'}")
        return page

    @staticmethod
    def _read(page: Page, test_ids: tuple[str, ...]) -> list[str]:
        return [page.get_by_test_id(test_id).inner_text() for test_id in test_ids]

    @staticmethod
    def _verify(page: Page, system: str, case: Case) -> None:
        for test_id, value in zip(ADDRESS_IDS[system], wanted(case), strict=True):
            expect(page.get_by_test_id(test_id)).to_have_text(value)

    def _crm(self, case: Case) -> None:
        path = f"/customers/{case['customer_id']}"
        page = self._open("crm", path)
        if self._read(page, ADDRESS_IDS["crm"]) != wanted(case):
            page.get_by_role("button", name="Edit address").click()
            frame = page.frame_locator("iframe[title='Edit address']")
            frame.get_by_label("Street").fill(case["street"])
            frame.get_by_label("Postal code").fill(case["postal_code"])
            frame.get_by_label("City").fill(case["city"])
            page.once("dialog", lambda dialog: dialog.accept())
            with page.expect_response(
                lambda r: r.request.method == "POST" and r.url.endswith("/address"), timeout=20_000
            ) as info:
                frame.get_by_role("button", name="Save address").click()
            if not info.value.ok:
                raise ScriptFailed(f"CRM did not save: HTTP {info.value.status}")
            page = self._open("crm", path)
        self._verify(page, "crm", case)

    def _billing(self, case: Case) -> None:
        page = self._open("billing", f"/accounts?customer={case['customer_id']}")
        if self._read(page, ADDRESS_IDS["billing"]) != wanted(case):
            page.get_by_role("button", name="Change billing address").click()
            page.get_by_label("Street").fill(case["street"])
            page.get_by_label("ZIP code").fill(case["postal_code"])
            page.get_by_label("Town").fill(case["city"])
            page.get_by_role("button", name="Submit").click()
            with page.expect_response(
                lambda r: r.request.method == "GET" and "updated=1" in r.url, timeout=20_000
            ) as info:
                page.get_by_role("button", name="Confirm").click()
            if not info.value.ok:
                raise ScriptFailed(f"billing did not save: HTTP {info.value.status}")
            # The response is in, but the old page (same test ids, old values) may still be
            # shown: checking it would only make the assertions below poll with back-off.
            page.wait_for_url("**updated=1", wait_until="domcontentloaded")
        self._verify(page, "billing", case)

    def _nordlog(self, case: Case) -> None:
        page = self._open("nordlog", f"/slots?order={case['order_number']}&postal_code={case['postal_code']}")
        rows = page.locator(f"{SLOTS_TABLE} tbody tr")
        if rows.count() == 0:
            raise ScriptFailed(f"no free slot for {case['order_number']}")
        cells = rows.first.locator("td")
        date, window = cells.nth(0).inner_text(), cells.nth(1).inner_text()
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/book"), timeout=20_000
        ) as info:
            page.get_by_role("button", name=f"Book {date} {window}").click()
        if not info.value.ok:
            raise ScriptFailed(f"booking failed: HTTP {info.value.status}")
        if not page.get_by_test_id("booking-number").inner_text():
            raise ScriptFailed("no booking number")

    def _suedexpress(self, case: Case) -> None:
        page = self._open("suedexpress", "/booking")
        page.get_by_label("Order no.").fill(case["order_number"])
        page.get_by_label("ZIP").fill(case["postal_code"])
        with page.expect_response(lambda r: "/booking/windows" in r.url) as info:
            page.get_by_role("button", name="Continue").click()
        if not info.value.ok:
            raise ScriptFailed(f"order lookup failed: HTTP {info.value.status}")
        choice = page.get_by_label("Delivery window")
        choice.wait_for()
        if not choice.locator("option").all_inner_texts():
            raise ScriptFailed(f"no delivery window for {case['order_number']}")
        choice.select_option(index=0)
        page.get_by_label("I confirm the delivery appointment").check()
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/booking"), timeout=20_000
        ) as info:
            page.get_by_role("button", name="Book appointment").click()
        if not info.value.ok:
            raise ScriptFailed(f"booking failed: HTTP {info.value.status}")
        if not page.get_by_test_id("booking-number").inner_text():
            raise ScriptFailed("no booking number")
