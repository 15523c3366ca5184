"""The words of a customer's status page: the workflow's own, else the general ones.

The page itself (``/webform/status/<case>/<signature>``, ``orchestrator.control_room.webform``)
answers only under the link signed for the case (``orchestrator.humans.customer_links``). Two
places hand such a link out, each to the one who started the case: the public webform
redirects its submitter there, and the channel API returns it to the channel that posted the
case (``customer_status_url``), so an IVR can send it to the caller (by SMS, say) and a
webform backend show it on its thank-you page; the mails a case sends the customer carry it
too (``case.status_url``). Another channel's case or a repeated reference of another channel
never yields it: references are per channel.

What the page says about each case state is the workflow's ``customer_status`` (its YAML:
a heading, and per state a title and a text, each the same in every language or per
language); a state the workflow leaves out keeps ``DEFAULT_WORDS``, which promise nothing only
one process can keep and which the message catalogue translates. What a person's outcome told
the customer replaces both (``orchestrator.humans.outcomes.customer_notice``).

Only ``done`` (a robot ran the workflow to its end, which verifies each effect) and
``done_by_hand`` (a person recorded doing the work) say the request was carried out.
"""

from __future__ import annotations

from typing import Any

from orchestrator.control_room.i18n import N_
from orchestrator.humans.customer_links import sign, status_path
from orchestrator.humans.outcomes import customer_notice
from robots.language.model import CASE_STATES, StatusWords, Workflow, in_language

__all__ = ["DEFAULT_HEADING", "DEFAULT_WORDS", "customer_reads", "sign", "status_path", "status_words"]

DEFAULT_HEADING = N_("Your request")

#: What a customer reads about a case of a workflow that does not say (per state: title, text).
DEFAULT_WORDS: dict[str, tuple[str, str]] = {
    "queued": (N_("Received"), N_("We have your request; it will be processed shortly.")),
    "running": (N_("In progress"), N_("Your request is being processed right now.")),
    "waiting_human": (N_("Being checked"), N_("A colleague is working on your request.")),
    "done": (N_("Done"), N_("Your request has been carried out.")),
    "done_by_hand": (N_("Done by our team"), N_("A colleague has carried out your request by hand.")),
    "rejected": (N_("Not possible"), N_("We could not carry out your request.")),
    "failed_business": (
        N_("Needs your help"),
        N_("We could not carry out your request. A colleague will contact you."),
    ),
    "failed_system": (N_("Delayed"), N_("Our systems had a problem; a colleague will finish your request.")),
    "cancelled": (N_("Cancelled"), N_("This request was cancelled.")),
}


def status_words(workflow: Workflow | None, language: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The page's heading and its (title, text) per case state for a customer reading
    ``language``: the workflow's ``customer_status`` where it says, the defaults elsewhere
    (and for a workflow that cannot be loaded, ``None``). The defaults are the catalogue's
    English texts; the page translates them."""
    heading, words = DEFAULT_HEADING, dict(DEFAULT_WORDS)
    if workflow is None:
        return heading, words
    declared = workflow.customer_status
    heading = in_language(declared.heading, language) or heading
    for state in CASE_STATES:
        spec: StatusWords | None = getattr(declared, state)
        if spec is not None:
            title, text = words[state]
            words[state] = (
                in_language(spec.title, language) or title,
                in_language(spec.text, language) or text,
            )
    return heading, words


def customer_reads(
    workflow: Workflow | None, status: str, outputs: dict[str, Any] | None, language: str
) -> tuple[str, str]:
    """The title and text a customer reads about a case in ``status``: what a person's
    outcome told them when one is recorded for it, else the words of the workflow's state."""
    title, text = status_words(workflow, language)[1].get(status, (status, ""))
    notice = customer_notice(status, outputs)
    if notice is not None:
        title, text = str(notice.get("title") or title), str(notice.get("text") or text)
    return title, text
