"""Which language and time zone a page gets, and how times read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.control_room import i18n
from orchestrator.control_room.app import ServerSettings


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en-GB,de;q=0.5", "en"),
        ("fr-FR,de-AT;q=0.7,en;q=0.6", "de"),  # French we do not have: the next best
        ("fr-FR", None),
        ("de;q=0,en;q=0.1", "en"),  # q=0 means "not this one"
        ("", None),
    ],
)
def test_the_browsers_best_language_of_ours(header: str, language: str | None) -> None:
    assert i18n.from_accept_language(header) == language


def test_the_users_setting_wins_then_the_browser_then_the_server() -> None:
    def chosen(user: str | None, browser: str | None) -> str:
        return i18n.choose(
            user_language=user,
            user_time_zone=None,
            accept_language=browser,
            default_language="de",
            default_time_zone="Europe/Berlin",
        ).language

    assert chosen("en", "de-DE") == "en"
    assert chosen(None, "en-US") == "en"
    assert chosen(None, "fr-FR") == "de"


def test_times_are_in_the_users_zone_and_say_which() -> None:
    winter, summer = datetime(2026, 12, 6, 13, 5, tzinfo=UTC), datetime(2026, 7, 1, 12, 5, tzinfo=UTC)
    berlin = i18n.Locale("de", "Europe/Berlin")
    assert berlin.local_time(winter) == "2026-12-06 14:05 CET"
    assert berlin.local_time(summer) == "2026-07-01 14:05 CEST"
    assert i18n.Locale("en", "UTC").local_time(winter, seconds=True) == "2026-12-06 13:05:00 UTC"
    # Naive values from the database are UTC.
    assert berlin.local_time(winter.replace(tzinfo=None)) == "2026-12-06 14:05 CET"


def test_german_texts_come_from_the_catalogue_with_their_values() -> None:
    german = i18n.Locale("de")
    assert german.gettext("Inbox") == "Posteingang"
    assert german.ngettext("%(count)s task", "%(count)s tasks", 1) == "1 Aufgabe"
    assert german.ngettext("%(count)s task", "%(count)s tasks", 3) == "3 Aufgaben"
    assert (
        german.gettext("Too many failed sign-ins. Wait %(seconds)s seconds and try again.", seconds=5)
        == "Zu viele fehlgeschlagene Anmeldungen. Warten Sie 5 Sekunden und versuchen Sie es noch einmal."
    )
    assert i18n.Locale("en").gettext("Inbox") == "Inbox"


def test_every_german_text_is_translated_and_keeps_its_placeholders() -> None:
    from babel.messages.pofile import read_po

    path = i18n.LOCALES_DIR / "de" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source)
    for message in catalog:
        if not message.id:
            continue
        assert message.string and "fuzzy" not in message.flags, message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for original, translated in zip(ids, strings, strict=False):
            assert sorted(i18n_placeholders(original)) == sorted(i18n_placeholders(translated)), original


def i18n_placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)s", text)


def test_a_wrong_default_says_what_to_use() -> None:
    with pytest.raises(ValueError, match="use one of en, de"):
        ServerSettings(language="fr")
    with pytest.raises(ValueError, match="IANA name"):
        ServerSettings(time_zone="Mars/Olympus")


def test_a_time_an_agent_types_is_on_their_clock() -> None:
    from orchestrator.control_room.pages.common import parse_until

    moment = parse_until("2026-12-07T10:00", "Europe/Berlin")
    assert moment is not None and moment.astimezone(UTC) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert parse_until("2026-12-07T10:00+00:00", "Europe/Berlin") == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_the_default_outcome_texts_are_in_the_catalogue() -> None:
    from orchestrator.humans.outcomes import DEFAULT_NOTICES, LABELS, MEANINGS

    german = i18n.Locale("de")
    fixed = [*LABELS.values(), *MEANINGS.values()]
    fixed += [str(n["title"]) for n in DEFAULT_NOTICES.values()]
    fixed += [str(n["text"]) for n in DEFAULT_NOTICES.values() if "{" not in str(n["text"])]
    untranslated = [text for text in fixed if german.gettext(text) == text]
    assert untranslated == []


@pytest.mark.parametrize(
    ("problem", "english", "german"),
    [
        (
            "postal_code: String should match pattern '^[0-9]{5}$' (got '1O115')",
            "postal code: does not have the expected form (entered: '1O115')",
            "postal code: hat nicht die erwartete Form (eingegeben: '1O115')",
        ),
        (
            "city: String should have at least 2 characters (got 'B')",
            "city: needs at least 2 characters (entered: 'B')",
            "city: braucht mindestens 2 Zeichen (eingegeben: 'B')",
        ),
        ("slot: required", "slot: please fill this in", "slot: bitte ausfüllen"),
        ("count: expected number, got 'x'", "count: must be a number", "count: muss eine Zahl sein"),
        ("something else entirely", "something else entirely", "something else entirely"),
    ],
)
def test_an_agent_reads_validation_problems_in_plain_words(problem: str, english: str, german: str) -> None:
    with i18n.using(i18n.Locale("en")):
        assert i18n.plain_problem(problem) == english
    with i18n.using(i18n.Locale("de")):
        assert i18n.plain_problem(problem) == german


def test_the_general_customer_status_words_are_in_the_catalogue() -> None:
    from orchestrator.control_room.status_links import DEFAULT_HEADING, DEFAULT_WORDS

    german = i18n.Locale("de")
    texts = [DEFAULT_HEADING, *(text for words in DEFAULT_WORDS.values() for text in words)]
    assert [text for text in texts if german.gettext(text) == text] == []
