"""Which language and time zone a page gets, and how times read."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from orchestrator.control_room import i18n
from orchestrator.control_room.app import ServerSettings
from tests.conftest import ROOT


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
    from orchestrator.control_room.pages.task_actions import parse_until

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


# -- the catalogue is complete: every text the sources mark, every text a page shows ---------

LOCALES = i18n.LOCALES_DIR
TEMPLATES_DIR = LOCALES.parent / "templates"
#: Shown as they are in every language: names and an example value.
AS_IS = {"Tandem", "Moebelhaus", "ivr:CALL-2026"}
_VISIBLE_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt"}
_MARK = "\ue000"  # where a Jinja tag or expression stood in a template's markup
_WORD = re.compile(r"[^\W\d_]{2,}")
_TRANSLATING = {"_", "gettext", "ngettext", "N_"}


def _german_catalogue() -> Any:
    from babel.messages.pofile import read_po

    with (LOCALES / "de" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale="de")


def _marked_texts() -> set[str]:
    """Every msgid the project's babel.cfg extracts (with ``N_``), as ``pybabel extract`` would."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    config = LOCALES / "babel.cfg"
    with config.open() as source:
        method_map, options_map = parse_mapping_cfg(source, str(config))
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None})
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def test_every_text_the_sources_mark_has_a_german_translation() -> None:
    catalogue = _german_catalogue()
    marked = _marked_texts()
    assert len(marked) > 400  # the extraction found the sources
    missing = sorted(text for text in marked if text not in catalogue or not catalogue[text].string)
    assert missing == [], "add these to locales/de/LC_MESSAGES/messages.po (see babel.cfg)"


class _ShownText(HTMLParser):
    """The text of a page's markup a person reads (or a screen reader says)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._quiet = 0  # inside <script>, <style> or <code> (names, not words)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._quiet += tag in ("script", "style", "code")
        self.texts += [value for name, value in attrs if name in _VISIBLE_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        self._quiet -= tag in ("script", "style", "code")

    def handle_data(self, data: str) -> None:
        if not self._quiet:
            self.texts.append(data)


def _unmarked_markup(environment: Any, source: str) -> list[str]:
    """Words written straight into a template's HTML (never translated)."""
    parts = [value if kind == "data" else _MARK for _, kind, value in environment.lex(source)]
    markup = re.sub(_MARK + "+", f" {_MARK} ", "".join(parts))
    parser = _ShownText()
    parser.feed(markup)
    pieces = (piece.strip(" ·:()") for text in parser.texts for piece in text.split(_MARK))
    return [piece for piece in pieces if _WORD.search(piece) and piece not in AS_IS]


def _unmarked_literals(environment: Any, source: str) -> list[str]:
    """String literals a ``{{ ... }}`` shows without ``_()`` ("'Edit ' ~ name", "'Resume'" as
    a macro's label); comparisons, tests and mapping keys are not shown."""
    from jinja2 import nodes

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, nodes.Call) and getattr(node.node, "name", None) in _TRANSLATING:
            return
        if isinstance(node, nodes.Const):
            text = node.value
            if (
                isinstance(text, str)
                and re.search(r"[A-Z][a-z]|[a-z]{2,} [a-z]{2,}", text)
                and text not in AS_IS
            ):
                found.append(text)
            return
        if isinstance(node, nodes.Compare | nodes.Test):
            return
        if isinstance(node, nodes.Pair):
            walk(node.value)
            return
        if isinstance(node, nodes.CondExpr):
            walk(node.expr1)
            if node.expr2 is not None:
                walk(node.expr2)
            return
        for child in node.iter_child_nodes():
            walk(child)

    for output in environment.parse(source).find_all(nodes.Output):
        for child in output.nodes:
            if not isinstance(child, nodes.TemplateData):
                walk(child)
    return found


def test_no_template_shows_text_that_is_not_marked_for_translation() -> None:
    from jinja2 import Environment

    environment = Environment()
    unmarked = {}
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        source = path.read_text()
        texts = _unmarked_markup(environment, source) + _unmarked_literals(environment, source)
        if texts:
            unmarked[str(path.relative_to(TEMPLATES_DIR))] = texts
    assert unmarked == {}, "wrap these in _() (a macro's argument that it translates: N_())"


def test_the_checks_find_unmarked_text() -> None:
    from jinja2 import Environment

    environment = Environment()
    page = """<h1 title="Open tasks">{{ _('Inbox') }} · Tandem</h1><p>Mark {{ n }} read</p>
        <code>run.py worker</code>{{ post_button('/x', 'Run now', csrf) }}{{ 'Edit ' ~ x if x else _('New') }}
        {% if state == 'all open' %}{{ badge('open') }}{% endif %}"""
    assert _unmarked_markup(environment, page) == ["Open tasks", "Mark", "read"]
    assert _unmarked_literals(environment, page) == ["Run now", "Edit "]


def _unmarked_page_messages() -> list[str]:
    """Headings, messages and flashes the pages pass as plain or f-strings (never translated)."""
    import ast

    positions = {"error_page": (3, 4), "_error_page": (2, 3), "flash": (3,)}

    def plain(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant | ast.JoinedStr):
            return isinstance(node, ast.JoinedStr) or isinstance(node.value, str)
        if isinstance(node, ast.IfExp):
            return plain(node.body) or plain(node.orelse)
        return isinstance(node, ast.BinOp) and (plain(node.left) or plain(node.right))

    found = []
    for path in sorted((LOCALES.parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                for index in positions.get(name, ()):
                    if index < len(node.args) and plain(node.args[index]):
                        found.append(f"{path.name}:{node.lineno}: {ast.unparse(node.args[index])}")
    return found


def test_error_pages_and_flash_messages_are_marked_for_translation() -> None:
    assert _unmarked_page_messages() == [], "use N_('text') or Message(N_('text %(value)s'), value=...)"


def test_a_message_with_values_is_shown_in_the_readers_language() -> None:
    from orchestrator.control_room.pages.rendering import Message

    message = Message(i18n.N_("Schedule %(name)s paused."), name="nightly")
    assert message == "Schedule nightly paused."
    assert i18n.Locale("de").gettext(message) == "Zeitplan nightly angehalten."
    assert i18n.Locale("en").gettext(message) == "Schedule nightly paused."


def test_every_state_a_badge_can_show_is_in_german() -> None:
    from typing import get_args

    from orchestrator.models import CaseStatus, TaskStatus
    from orchestrator.schedules.fires import FireStatus

    german = i18n.Locale("de")
    states = {*get_args(CaseStatus), *get_args(TaskStatus), *get_args(FireStatus)}
    states |= {"idle", "busy", "stopped", "stale", "paused", "active", "inactive", "revoked"}
    untranslated = sorted(s for s in states if german.gettext(s.replace("_", " ")) == s.replace("_", " "))
    assert untranslated == []


def test_the_general_customer_status_words_are_in_the_catalogue() -> None:
    from orchestrator.control_room.status_links import DEFAULT_HEADING, DEFAULT_WORDS

    german = i18n.Locale("de")
    texts = [DEFAULT_HEADING, *(text for words in DEFAULT_WORDS.values() for text in words)]
    assert [text for text in texts if german.gettext(text) == text] == []


@pytest.mark.parametrize(
    "refusal, german",
    [
        ("no case 'c-1'", "Den Fall c-1 gibt es nicht."),
        (
            "task t-1 is done; only an open task can be claimed",
            "Die Aufgabe t-1 ist erledigt; nur eine offene",
        ),
        (
            "task t-1 is postponed until 2026-12-07 09:00 UTC; it can be claimed from then (it pops up",
            "bis 2026-12-07 10:00 CET zurückgestellt",
        ),
        (
            "task t-1 is held by max.agent; claim it first",
            "max.agent bearbeitet die Aufgabe t-1; übernehmen Sie sie zuerst.",
        ),
        (
            "task t-1 is held by max.agent; only they or a supervisor may release it",
            "nur diese Person oder eine Teamleitung",
        ),
        (
            "case c-1 belongs to units outside anna.agent's",
            "Der Fall c-1 gehört zu Einheiten außerhalb Ihrer eigenen.",
        ),
        ("task t-1 is cancelled already", "Die Aufgabe t-1 ist bereits abgebrochen."),
    ],
)
def test_the_stores_refusals_read_in_german(refusal: str, german: str) -> None:
    assert german in i18n.Locale("de").gettext(refusal)
    assert i18n.Locale("en").gettext(refusal).endswith(".")  # in English, a sentence of its own
    assert i18n.Locale("de").gettext("a refusal nobody listed") == "a refusal nobody listed"


def test_a_postponed_tasks_refusal_says_the_time_on_the_readers_clock() -> None:
    refusal = "task t-1 is postponed until 2026-07-01 08:00 UTC; it can be claimed from then (it pops up"
    assert "until 2026-07-01 10:00 CEST;" in i18n.Locale("en").gettext(refusal)
    assert "until 2026-07-01 04:00 EDT;" in i18n.Locale("en", "America/New_York").gettext(refusal)


def test_texts_that_only_look_like_a_refusal_or_say_nothing_are_shown_as_they_are() -> None:
    german = i18n.Locale("de")
    fake = "task T1 is postponed until 2026-13-01 10:00 UTC; it can be claimed from then"
    assert german.gettext(fake) == fake  # no such month: not the store's refusal, no error
    assert german.gettext("") == "" and german.gettext(None) == ""  # type: ignore[arg-type]
    assert german.gettext("100% sure") == "100% sure"
