"""German and English in real Chromium: the browser's language, the user's own setting, times
in the user's time zone, and the webform's problems in words a customer reads."""

from __future__ import annotations

import re
from typing import Any

import pytest

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator
from robots.engine.human_gateway import Callout
from robots.errors import HumanTaskRequest

pytestmark = pytest.mark.e2e


@pytest.fixture
def task_id(store: Orchestrator) -> str:
    store.load_organisation()
    case, _ = store.create_case(
        "appointment_failed",
        "ivr:CALL-languages",
        {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"},
    )
    request = HumanTaskRequest(
        queue="appointments", reason="Agree a delivery slot", data={}, step="agent", kind="await_human"
    )
    return store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def sign_in(page: Any, username_label: str, password_label: str, button: str) -> None:
    page.goto("/inbox")
    page.get_by_label(username_label).fill("max.agent")
    page.get_by_label(password_label).fill("agent-demo-2")
    page.get_by_role("button", name=button).click()


def test_a_german_browser_gets_german_pages_and_times_say_their_zone(
    control_room: ControlRoomServer, browser: Any, task_id: str
) -> None:
    context = browser.new_context(locale="de-DE", base_url=control_room.url)
    page = context.new_page()
    sign_in(page, "Benutzername", "Passwort", "Anmelden")
    page.wait_for_url(re.compile(r"/inbox"))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Posteingang")
    assert page.get_by_role("columnheader", name="Fällig").is_visible()
    row = page.locator(f"tr[data-task-id='{task_id}']")
    # Due times are shown in Berlin's time (the server's default) and say so.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)", row.locator("time").inner_text())

    row.get_by_role("link", name=task_id).click()
    page.wait_for_url(f"**/tasks/{task_id}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Aufgabe {task_id}")
    assert page.get_by_role("heading", name="Protokoll").is_visible()
    page.get_by_role("button", name="Übernehmen").click()
    page.get_by_role("status").filter(has_text=f"Aufgabe {task_id} gehört jetzt Ihnen.").wait_for()
    context.close()


def test_an_english_browser_gets_english_and_a_users_setting_wins_over_the_browser(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator, task_id: str
) -> None:
    context = browser.new_context(locale="en-US", base_url=control_room.url)
    page = context.new_page()
    sign_in(page, "Username", "Password", "Sign in")
    page.wait_for_url(re.compile(r"/inbox"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Inbox")

    # The header's selector: German and London time, kept for this user.
    page.get_by_label("Language", exact=True).select_option("de")
    page.get_by_label("Time zone", exact=True).select_option("Europe/London")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/inbox"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Posteingang")
    row = page.locator(f"tr[data-task-id='{task_id}']")
    assert re.search(r"\d\d:\d\d (GMT|BST)$", row.locator("time").inner_text())
    user = store.get_user("max.agent")
    assert user is not None and (user.language, user.time_zone) == ("de", "Europe/London")
    context.close()


def test_the_webform_tells_a_german_customer_what_to_fix_in_german(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    context = browser.new_context(locale="de-DE", base_url=control_room.url)
    page = context.new_page()
    page.goto("/webform/address-change")
    assert page.get_by_role("heading", level=1).inner_text() == "Adresse ändern"
    page.get_by_label("Kundennummer", exact=True).fill("123")
    page.get_by_label("Straße", exact=True).fill("Am Markt 1")
    page.get_by_label("Postleitzahl", exact=True).fill("28195")
    page.get_by_label("E-Mail für die Bestätigung", exact=True).fill("nope")
    page.get_by_role("button", name="Neue Adresse senden").click()
    summary = page.get_by_role("alert").inner_text()
    assert "Bitte prüfen Sie das Formular" in summary
    assert page.locator("#city-problem").inner_text() == "Bitte geben Sie den Ort Ihrer neuen Adresse ein."
    assert "name@example.com" in page.locator("#email-problem").inner_text()
    assert "should" not in summary and "String" not in summary

    page.get_by_label("Ort", exact=True).fill("Bremen")
    page.get_by_label("E-Mail für die Bestätigung", exact=True).fill("")
    page.get_by_role("button", name="Neue Adresse senden").click()
    # The workflow's own check (C and six digits) in a customer's words too.
    problem = page.locator("#customer_number-problem").inner_text()
    assert problem.startswith("Bitte geben Sie Ihre Kundennummer")
    assert store.list_cases(workflow="address_change") == []

    page.get_by_label("Kundennummer", exact=True).fill("C000001")
    page.get_by_role("button", name="Neue Adresse senden").click()
    page.wait_for_url(re.compile(r"/webform/status/"))
    assert page.get_by_test_id("status").inner_text() == "Eingegangen"
    assert re.search(r"(CET|CEST)$", page.locator("tbody td").first.inner_text())
    (case,) = store.list_cases(workflow="address_change")
    assert case.payload["language"] == "de"  # the customer's mails will be in German
    context.close()


def test_a_pop_up_speaks_the_agents_language(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator, task_id: str
) -> None:
    context = browser.new_context(locale="de-DE", base_url=control_room.url)
    page = context.new_page()
    sign_in(page, "Benutzername", "Passwort", "Anmelden")
    page.wait_for_url(re.compile(r"/inbox"))
    store.push_callout(
        Callout(
            title="Kunde am Telefon",
            queue="appointments",
            data={"free_slots": [f"2026-12-0{day} 08-12" for day in range(1, 8)]},
        )
    )
    shown = page.locator(".callout").first
    shown.wait_for()
    assert "und 2 weitere" in shown.inner_text()
    assert shown.get_by_role("button", name="Schließen").is_visible()
    context.close()


def test_the_tray_the_search_and_the_case_cancel_page_speak_german(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator, task_id: str
) -> None:
    context = browser.new_context(locale="de-DE", base_url=control_room.url)
    page = context.new_page()
    page.goto("/ops")
    page.get_by_label("Benutzername").fill("admin")
    page.get_by_label("Passwort").fill("admin-demo-1")
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(re.compile(r"/ops"))

    # The header's tray and its page.
    tray = page.locator("details.tray summary")
    assert tray.inner_text().startswith("Benachrichtigungen")
    page.goto("/notifications")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Benachrichtigungen")
    assert "ungelesen" in page.get_by_role("heading", level=1).inner_text()
    assert page.locator("main").get_by_role("button", name="Alle als gelesen markieren").is_visible()

    # The inbox's search box, found and not found.
    page.goto("/inbox")
    search = page.get_by_role("searchbox", name="Suchen")
    assert search.get_attribute("placeholder") == "Referenz, Kunden- oder Auftragsnummer, Name…"
    search.fill("C000009")
    search.press("Enter")
    page.wait_for_url("**/inbox?*q=C000009*")
    assert page.get_by_text("Nur Aufgaben, die zu „C000009“ passen.").is_visible()
    assert page.locator(f"tr[data-task-id='{task_id}']").is_visible()
    search = page.get_by_role("searchbox", name="Suchen")
    search.fill("C999999")
    search.press("Enter")
    page.wait_for_url("**/inbox?*q=C999999*")
    assert page.get_by_text("Keine Aufgabe passt hier zu „C999999“.").is_visible()

    # Cancelling a case asks first, in German.
    case_id = store.get_task(task_id).case_id
    page.goto(f"/ops/cases/{case_id}")
    page.get_by_role("button", name="Fall abbrechen").click()
    page.get_by_role("heading", name=f"Fall {case_id} abbrechen?").wait_for()
    assert page.get_by_label("Grund (steht im Protokoll des Falls)").is_visible()
    page.get_by_role("button", name=f"Ja, Fall {case_id} abbrechen").click()
    page.get_by_role("status").filter(has_text=f"Fall {case_id} abgebrochen.").wait_for()
    context.close()
