"""Signed status links for customers, and the words their status page uses for each workflow.

A case id alone shows a customer nothing: the status page answers only under the link the
server signed for that case (``status_path``), with the server's ``secret_key``. Two
places hand such a link out, each to the one who started the case: the public webform
redirects its submitter there, and the channel API returns it to the channel that posted
the case (``customer_status_url``), so an IVR can send it to the caller (by SMS, say) and a
webform backend show it on its thank-you page. Another channel's case or a repeated
reference of another channel never yields it: references are per channel.

What the page says depends on the workflow (an address change, a delivery appointment);
what a person's outcome told the customer replaces it (``orchestrator.humans.outcomes``).
"""

from __future__ import annotations

from orchestrator.humans.customer_links import sign, status_path

__all__ = ["sign", "status_path", "status_words"]


#: How a customer reads a case status, for an address change (the webform's workflow).
ADDRESS_CHANGE: dict[str, tuple[str, str]] = {
    "queued": ("Received", "We have your request; it will be processed in a few minutes."),
    "running": ("In progress", "Your new address is being entered in our systems right now."),
    "waiting_human": (
        "Being checked",
        "A colleague is checking your request and will contact you if anything is unclear.",
    ),
    "done": (
        "Done",
        "Your new address is in all our systems. A confirmation is on its way if you gave an e-mail address.",
    ),
    "failed_business": (
        "Needs your help",
        "We could not change the address as given. A colleague will contact you.",
    ),
    "failed_system": (
        "Delayed",
        "Our systems had a problem; a colleague will finish your request by hand.",
    ),
    "cancelled": ("Cancelled", "This request was cancelled."),
    "done_by_hand": ("Done by our team", "A colleague has changed your address by hand."),
    "rejected": ("Not possible", "We could not change the address as given."),
}
"""A robot's ``done`` is the only state that says "in all our systems": the workflow's steps
verified each. What a person's outcome told the customer (done by hand, rejected, postponed,
cancelled: ``orchestrator.humans.outcomes``) replaces these words when it is recorded."""

#: A delivery appointment booked from the IVR (or one that failed and is booked with an agent).
DELIVERY_APPOINTMENT: dict[str, tuple[str, str]] = {
    "queued": ("Received", "We have your call; your delivery appointment is booked in a few minutes."),
    "running": ("In progress", "Your delivery appointment is being booked with the supplier right now."),
    "waiting_human": (
        "Being arranged",
        "A colleague is arranging your appointment with the supplier and will call you.",
    ),
    "done": ("Booked", "Your delivery appointment is booked; the details are on their way to you."),
    "failed_business": ("Needs your help", "We could not book the appointment. A colleague will call you."),
    "failed_system": ("Delayed", "Our systems had a problem; a colleague will book your appointment."),
    "cancelled": ("Cancelled", "This request was cancelled."),
    "done_by_hand": ("Booked by our team", "A colleague has booked your appointment."),
    "rejected": ("Not possible", "We could not book a delivery appointment."),
}

#: Any other workflow: nothing said that only one process can promise.
ANY_REQUEST: dict[str, tuple[str, str]] = {
    "queued": ("Received", "We have your request; it will be processed shortly."),
    "running": ("In progress", "Your request is being processed right now."),
    "waiting_human": ("Being checked", "A colleague is working on your request."),
    "done": ("Done", "Your request has been carried out."),
    "failed_business": (
        "Needs your help",
        "We could not carry out your request. A colleague will contact you.",
    ),
    "failed_system": ("Delayed", "Our systems had a problem; a colleague will finish your request."),
    "cancelled": ("Cancelled", "This request was cancelled."),
    "done_by_hand": ("Done by our team", "A colleague has carried out your request."),
    "rejected": ("Not possible", "We could not carry out your request."),
}

#: Workflow -> (the page's heading, its words per case status).
STATUS_WORDS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "address_change": ("Your address change", ADDRESS_CHANGE),
    "host_address_change": ("Your address change", ADDRESS_CHANGE),
    "delivery_appointment": ("Your delivery appointment", DELIVERY_APPOINTMENT),
    "appointment_failed": ("Your delivery appointment", DELIVERY_APPOINTMENT),
}


def status_words(workflow: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The status page's heading and words for a case of ``workflow``."""
    return STATUS_WORDS.get(workflow, ("Your request", ANY_REQUEST))
