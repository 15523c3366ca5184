"""The words of a customer's status page: the workflow's own per state and language, else the general ones."""

from __future__ import annotations

from orchestrator.control_room.status_links import DEFAULT_WORDS, customer_reads, status_words
from orchestrator.humans.outcomes import CUSTOMER_DONE
from robots.language.model import CASE_STATES
from robots.language.project import Project
from tests.conftest import ROOT, workflow

FLOW = workflow("""
name: t
customer_status:
  heading: {de: Ihr Termin, en: Your appointment}
  done:
    title: {de: Gebucht, en: Booked}
    text: {en: Your appointment is booked.}
  waiting_human: {text: Someone calls you.}
steps:
  - set: {x: 1}
""")


def test_a_workflow_says_what_it_declares_in_the_readers_language_and_the_rest_is_general() -> None:
    heading, words = status_words(FLOW, "de")
    assert heading == "Ihr Termin"
    assert words["done"] == ("Gebucht", "Your appointment is booked.")  # no German text: English
    assert words["waiting_human"] == (DEFAULT_WORDS["waiting_human"][0], "Someone calls you.")
    assert words["queued"] == DEFAULT_WORDS["queued"]
    assert status_words(FLOW, "fr")[0] == "Your appointment"  # a language it lacks: English
    assert status_words(None, "de") == ("Your request", DEFAULT_WORDS)  # the page translates these


def test_a_persons_outcome_replaces_the_words_of_its_final_state() -> None:
    told = {"customer": {"outcome": "rejected", "title": "Not possible", "text": "No van goes there."}}
    assert customer_reads(FLOW, "rejected", told, "en") == ("Not possible", "No van goes there.")
    assert customer_reads(FLOW, "done", None, "en") == ("Booked", "Your appointment is booked.")


def test_the_shipped_workflows_say_done_only_in_a_done_state_in_german_and_english() -> None:
    project = Project(ROOT)
    done_titles = {"Done", "Booked", "Erledigt", "Gebucht"}
    for name in ("address_change", "host_address_change", "delivery_appointment", "appointment_failed"):
        flow = project.workflow(name)
        for language in ("de", "en"):
            heading, words = status_words(flow, language)
            assert heading != "Your request", (name, language)
            for state in CASE_STATES:
                title = words[state][0]
                assert (
                    title in done_titles or title.startswith(("Done by", "Booked by", "Von unserem"))
                ) == (state in CUSTOMER_DONE), (name, language, state, title)
            declared = flow.customer_status
            for state in CASE_STATES:
                spec = getattr(declared, state)
                if spec is not None and isinstance(spec.text, dict):
                    assert set(spec.text) == {"de", "en"}, (name, state)
