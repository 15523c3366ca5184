"""Inbound channels: an IVR's and a webform's own payload shapes, mapped to case requests.

Channel systems do not speak Tandem. An IVR posts what it collected on a call (the event the
caller chose, the caller's number, the order number typed on the keypad); a webform backend
posts the fields of a submitted form. The mappers here turn those shapes into a
:class:`CaseRequest` (workflow, reference, payload, priority, deadline) — the one shape the
orchestrator's API accepts — so the API has one path to a case however it was asked.

A problem in the channel's payload is reported under the channel's own field names
(``order_number``, ``zip``), because that is what the channel's developer sees; see
:func:`channel_field` for mapping a workflow input back to it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from connectors.fields import Moment, Priority, Reference

#: A workflow name as the project names files: letters, digits, ``_``, ``-`` and ``.``.
WORKFLOW_NAME = r"^[A-Za-z0-9_.-]{1,100}$"


def _stripped(value: str) -> str:
    return value.strip()


Text = Annotated[str, AfterValidator(_stripped)]
#: A text a person must fill in: stripped, at least one character.
RequiredText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: An optional text: stripped, may be empty.
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class CaseRequest(BaseModel):
    """A request to start a workflow for one business case (the body of ``POST /api/cases``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "workflow": "delivery_appointment",
                    "reference": "IVR-CALL-2026-000123",
                    "payload": {"order_number": "O-100001", "postal_code": "10115"},
                    "priority": 5,
                    "deadline": "2026-11-24T12:00:00Z",
                }
            ]
        },
    )

    workflow: Annotated[str, StringConstraints(pattern=WORKFLOW_NAME)] = Field(
        description="The workflow to start, by name (e.g. address_change)."
    )
    reference: Reference = Field(
        description=(
            "The channel's business reference (call id, form submission id), unique per workflow "
            "and channel: posting the same reference again returns the existing case instead of a "
            "second one. Stripped; 1-200 characters, no control, zero-width or bidi characters."
        )
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description="The workflow's input; checked against its input schema."
    )
    priority: Priority = Field(default=0, description="Higher is claimed first by robots (an integer 0-100).")
    deadline: Moment | None = Field(
        default=None, description="When the case must be finished (SLA), with a time zone (1900-9000)."
    )


# --- IVR -------------------------------------------------------------------------------

#: What a caller can choose in the IVR's menu, and the workflow each one starts.
IVR_EVENTS: dict[str, str] = {
    "delivery appointment": "delivery_appointment",
    "appointment failed": "appointment_failed",
}

#: IVR field -> workflow input. The IVR's names are kept in its payload shape on purpose:
#: they are the names its vendor's configuration uses.
IVR_FIELDS: dict[str, str] = {
    "order_number": "order_number",
    "postal_code": "postal_code",
    "customer_number": "customer_id",
    "caller_name": "name",
    "email": "email",
}


def _normalise_event(value: str) -> str:
    # IVR scripts send "Delivery Appointment", "delivery_appointment" or "DELIVERY-APPOINTMENT".
    return re.sub(r"[\s_-]+", " ", value.strip().lower())


def _known_event(value: str) -> str:
    event = _normalise_event(value)
    if event not in IVR_EVENTS:
        raise ValueError(f"unknown IVR event; known events: {', '.join(repr(e) for e in IVR_EVENTS)}")
    return event


def _any_case(text: str) -> str:
    """An ECMA-262 pattern for ``text`` in any letter case, spaces as runs of space, _ or -."""
    parts = []
    for word in text.split():
        parts.append("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word))
    return r"[\s_-]+".join(parts)


#: The events :func:`_known_event` accepts, as a pattern for the OpenAPI schema.
IVR_EVENT_PATTERN = r"^[\s_-]*(?:" + "|".join(_any_case(e) for e in IVR_EVENTS) + r")[\s_-]*$"

#: The numbers :func:`_phone` accepts: 4-20 digits, an optional leading +, separators anywhere.
PHONE_PATTERN = r"^[\s()/.-]*\+?[\s()/.-]*(?:[0-9][\s()/.-]*){4,20}$"


def _phone(value: str) -> str:
    digits = re.sub(r"[\s()/.-]", "", value)
    if not re.fullmatch(r"\+?[0-9]{4,20}", digits):
        raise ValueError("a caller number has 4 to 20 digits, optionally with a leading +")
    return digits


class IvrCall(BaseModel):
    """What an IVR posts when a caller finishes a menu: the event, the call and what was keyed in."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event": "delivery appointment",
                    "call_id": "CALL-2026-000123",
                    "caller_number": "+49 31 4001379",
                    "order_number": "O-100001",
                    "postal_code": "10115",
                }
            ]
        },
    )

    event: Annotated[str, AfterValidator(_known_event)] = Field(
        description=(
            "The menu choice: 'delivery appointment' or 'appointment failed' (letter case, "
            "spaces, '_' and '-' do not matter)."
        ),
        json_schema_extra={"pattern": IVR_EVENT_PATTERN},
    )
    call_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")] = Field(
        description="The IVR's id of the call; the same call posted again is the same case."
    )
    caller_number: Annotated[str, AfterValidator(_phone)] = Field(
        description="The caller's number (CLI/ANI) as the IVR saw it: 4-20 digits, an optional +.",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    order_number: Text = Field(description="The order number the caller keyed in (O-123456).")
    postal_code: Text | None = Field(default=None, description="The delivery postal code, if asked.")
    customer_number: Text | None = Field(
        default=None, description="The customer number, if the IVR's lookup found one."
    )
    caller_name: Text | None = Field(default=None, description="The caller's name, if known.")
    email: Text | None = Field(default=None, description="The caller's e-mail, if known.")
    urgent: StrictBool = Field(default=False, description="The caller chose the urgent option (true/false).")
    received_at: Moment | None = Field(default=None, description="When the call ended (1900-9000).")


#: How long the back-office has for a case a caller started (the IVR promises a call-back).
IVR_SLA = timedelta(hours=4)


def map_ivr_call(call: IvrCall, workflow_inputs: set[str] | None = None) -> CaseRequest:
    """The case an IVR call starts.

    ``workflow_inputs`` are the input names of the target workflow (when known): fields the
    workflow does not declare are left out of the payload instead of making it invalid, so an
    IVR that sends more than one workflow needs still works for all of them.
    """
    workflow = IVR_EVENTS[call.event]
    payload: dict[str, Any] = {}
    for ivr_name, input_name in IVR_FIELDS.items():
        value = getattr(call, ivr_name)
        if value in (None, ""):
            continue
        if workflow_inputs is not None and input_name not in workflow_inputs:
            continue
        payload[input_name] = value
    # The caller's number is what the agent calls back on; workflows that want it declare
    # one of these inputs.
    for input_name in ("caller_number", "phone"):
        if workflow_inputs is not None and input_name in workflow_inputs:
            payload[input_name] = call.caller_number
    deadline = (call.received_at + IVR_SLA) if call.received_at else None
    return CaseRequest(
        workflow=workflow,
        reference=f"ivr:{call.call_id}",
        payload=payload,
        priority=50 if call.urgent else 10,
        deadline=deadline,
    )


# --- webform ---------------------------------------------------------------------------

#: Which workflow each webform starts.
WEBFORM_WORKFLOWS: dict[str, str] = {"address-change": "address_change"}

#: Webform field -> workflow input (``street`` and ``house_number`` are joined).
WEBFORM_FIELDS: dict[str, str] = {
    "customer_number": "customer_id",
    "street": "street",
    "zip": "postal_code",
    "city": "city",
    "email": "email",
}


def _email(value: str) -> str:
    if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("not an e-mail address (name@example.com); leave it empty for no confirmation")
    return value


class AddressChangeFields(BaseModel):
    """The fields of the address-change form as a customer fills them in."""

    model_config = ConfigDict(extra="forbid")

    customer_number: RequiredText = Field(description="Customer number from the invoice, e.g. C000001.")
    street: RequiredText = Field(description="Street name.")
    house_number: OptionalText = Field(default="", description="House number (may also be part of street).")
    zip: RequiredText = Field(description="Postal code.")
    city: RequiredText = Field(description="City.")
    email: Annotated[OptionalText, AfterValidator(_email)] = Field(
        default="", description="Where the confirmation goes (optional)."
    )


class WebformSubmission(BaseModel):
    """What a webform backend posts for one submitted form."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "form": "address-change",
                    "submission_id": "7f1c2a9e-5b1d-4c38-9e35-0d2f7d0f8a11",
                    "fields": {
                        "customer_number": "C000001",
                        "street": "Chausseestraße",
                        "house_number": "5",
                        "zip": "10115",
                        "city": "Berlin",
                        "email": "anna.schmidt@example.com",
                    },
                }
            ]
        },
    )

    form: Literal["address-change"] = Field(description="Which form was submitted.")
    submission_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{8,100}$")] = Field(
        description="The form backend's id of this submission; a resubmission is the same case."
    )
    fields: AddressChangeFields
    language: Literal["de", "en"] | None = Field(
        default=None, description="The language the customer used (their mails are in it)."
    )
    submitted_at: Moment | None = Field(
        default=None, description="When the customer submitted, with a time zone (1900-9000)."
    )


def map_webform(submission: WebformSubmission) -> CaseRequest:
    """The case a submitted webform starts."""
    fields = submission.fields
    street = f"{fields.street} {fields.house_number}".strip() if fields.house_number else fields.street
    payload: dict[str, Any] = {
        "customer_id": fields.customer_number.upper(),
        "street": street,
        "postal_code": fields.zip,
        "city": fields.city,
    }
    if fields.email:
        payload["email"] = fields.email
    if submission.language:
        payload["language"] = submission.language
    return CaseRequest(
        workflow=WEBFORM_WORKFLOWS[submission.form],
        reference=f"webform:{submission.submission_id}",
        payload=payload,
        priority=5,
    )


def channel_field(mapping: dict[str, str], input_field: str) -> str:
    """The channel's name for a workflow input (``postal_code`` -> ``zip``), to report problems."""
    for channel_name, input_name in mapping.items():
        if input_name == input_field:
            return channel_name
    return input_field
