"""The public webform: a customer reports a new address, and follows what happens to it.

::

    GET  /webform/address-change                 the form (with a CSRF token and a submission id)
    POST /webform/address-change                 creates the case -> 303 to its status page;
                                                 422 the form again with every problem;
                                                 403 without a valid CSRF token; 429 too many
    GET  /webform/status/{case_id}/{signature}   the case's status, in words a customer reads

No login: anyone may submit. So every submission carries a CSRF token (signed double
submit: a random nonce in an HttpOnly, SameSite=Strict cookie and, signed with the server's
secret, in a hidden field), each client address has a rate limit, and a status page is
reachable only through the signed link the submitter was sent to (case ids are not to be
guessed). The hidden submission id makes a double click or a resend one case, not two; it is
issued by the server with a signature (``<id>.<signature>``) and only the id goes into the
case's reference. Someone who learns the reference (an agent, a log) therefore cannot post
the same submission again to be sent its status link: without the signature, which only the
submitter's page held, the id is refused.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from connectors.channels import (
    WEBFORM_FIELDS,
    AddressChangeFields,
    WebformSubmission,
    channel_field,
    map_webform,
)
from orchestrator.control_room import i18n
from orchestrator.control_room.api import start_case
from orchestrator.control_room.api_access import enforce_rate
from orchestrator.control_room.constant_time import texts_equal
from orchestrator.control_room.i18n import N_
from orchestrator.control_room.status_links import customer_reads, sign, status_path, status_words
from orchestrator.errors import NotFound, PayloadInvalid
from orchestrator.models import FINISHED, CaseTimeline
from robots.errors import DefinitionError
from robots.language.model import Workflow

CSRF_COOKIE = "tandem_webform_csrf"
CHANNEL = "webform"
FORM_FIELDS = ("customer_number", "street", "house_number", "zip", "city", "email")

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates" / "webform"))
i18n.install(templates.env)
router = APIRouter(prefix="/webform", include_in_schema=False)

#: The form's field labels (the problem summary names fields by them).
FIELD_LABELS: dict[str, str] = {
    "customer_number": N_("Customer number"),
    "street": N_("Street"),
    "house_number": N_("House number"),
    "zip": N_("Postal code"),
    "city": N_("City"),
    "email": N_("E-mail for the confirmation"),
}

#: What a customer reads when a field does not fit (never pydantic's or the workflow's own words).
FIELD_PROBLEMS: dict[str, str] = {
    "customer_number": N_(
        "Please enter your customer number as it is on your invoice: C and six digits, e.g. C000123."
    ),
    "street": N_("Please enter the street of your new address."),
    "house_number": N_("Please check the house number."),
    "zip": N_("Please enter the postal code of your new address (five digits, e.g. 10115)."),
    "city": N_("Please enter the city of your new address."),
    "email": N_("Please enter an e-mail address like name@example.com, or leave the field empty."),
}
TOO_LONG = N_("This is too long: please shorten it to 200 characters.")


def csrf_token(secret: str, nonce: str) -> str:
    """The hidden field's value for the cookie's ``nonce``."""
    return f"{nonce}.{sign(secret, 'csrf', nonce)}"


def csrf_valid(secret: str, cookie: str | None, token: str | None) -> bool:
    """Whether the form's token was signed by us for the nonce in the submitter's cookie."""
    if not cookie or not token or "." not in token:
        return False
    nonce, _ = token.split(".", 1)
    return texts_equal(nonce, cookie) and texts_equal(token, csrf_token(secret, nonce))


def new_submission_token(secret: str) -> str:
    """A fresh submission id with the server's signature, for the form's hidden field."""
    submission_id = uuid.uuid4().hex
    return f"{submission_id}.{sign(secret, 'submission', submission_id)}"


def submission_id_of(secret: str, token: str) -> str | None:
    """The submission id of a hidden-field token, or None when we did not sign it."""
    submission_id, _, signature = token.partition(".")
    if not submission_id or not signature:
        return None
    if not texts_equal(signature, sign(secret, "submission", submission_id)):
        return None
    return submission_id


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def _form_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    general: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    context: dict[str, Any] = {
        "values": values or {},
        "problems": problems or {},
        "general": general or [],
        "csrf_token": csrf_token(_secret(request), nonce),
        "submission_id": (values or {}).get("submission_id") or new_submission_token(_secret(request)),
        "labels": FIELD_LABELS,
    }
    response = _render(request, "address_change.html", context, status_code)
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.settings.secure_cookies),
        path="/webform",
    )
    return response


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A webform page in the customer's language (their browser's, else the server's default)."""
    with i18n.using(i18n.for_request(request)):
        response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["Vary"] = "Accept-Language"
    return response


def _message_page(request: Request, title: str, message: str, status_code: int) -> Response:
    return _render(request, "message.html", {"title": title, "message": message}, status_code)


def customer_problem(field: str, kind: str = "") -> str:
    """What a customer reads about a field that does not fit (a text of the catalogue)."""
    if kind == "string_too_long":
        return TOO_LONG
    return FIELD_PROBLEMS.get(field, N_("Please check this field."))


@router.get("/address-change", response_class=HTMLResponse)
def address_change_form(request: Request) -> Response:
    """The empty form."""
    return _form_page(request)


def _field_of(location: tuple[Any, ...]) -> str:
    return str(location[0]) if location else "form"


@router.post("/address-change", response_class=HTMLResponse)
async def submit_address_change(request: Request) -> Response:
    """Check the form, create the case and send the customer to its status page."""
    settings = request.app.state.settings
    client = request.client.host if request.client else "unknown"
    try:
        enforce_rate(request, settings.webform_rate_limit, f"webform:{client}")
    except HTTPException:
        return _message_page(
            request,
            N_("Too many requests"),
            N_("You have sent this form many times in a short while. Please wait a minute and try again."),
            429,
        )
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    values["submission_id"] = str(form.get("submission_id") or "")
    if not csrf_valid(_secret(request), request.cookies.get(CSRF_COOKIE), str(form.get("csrf_token") or "")):
        return _message_page(
            request,
            N_("The form has expired"),
            N_(
                "This form was not sent from our page, or it is too old. "
                "Open the form again and send it from there."
            ),
            403,
        )
    submission_id = submission_id_of(_secret(request), values["submission_id"])
    if submission_id is None:
        # Not an id this server issued (tampered with, or copied from a reference): a fresh
        # one lets an honest resend through, and no one gets another submission's case.
        values["submission_id"] = ""
        return _form_page(
            request,
            values=values,
            general=[N_("The form was not sent from our page. Please check the fields and send it again.")],
            status_code=422,
        )
    try:
        submission = WebformSubmission(
            form="address-change",
            submission_id=submission_id,
            language=i18n.for_request(request).language,
            fields=AddressChangeFields(**{name: values[name] for name in FORM_FIELDS}),
        )
    except ValidationError as error:
        problems = {
            _field_of(item["loc"]): customer_problem(_field_of(item["loc"]), item["type"])
            for item in error.errors()
        }
        if "submission_id" in problems:
            # The hidden id was tampered with: a fresh one lets an honest resend through.
            values["submission_id"] = ""
        return _form_page(request, values=values, problems=problems, status_code=422)
    try:
        case, _ = await run_in_threadpool(
            start_case, request, map_webform(submission), channel=CHANNEL, created_by=CHANNEL
        )
    except PayloadInvalid as invalid:
        problems = {}
        for field, _message in invalid.problems:
            bare = field.removeprefix("input.").split(".", 1)[0]
            name = channel_field(WEBFORM_FIELDS, bare)
            problems[name] = customer_problem(name)
        return _form_page(request, values=values, problems=problems, status_code=422)
    return RedirectResponse(status_path(_secret(request), case.id), status_code=303)


def _workflow(request: Request, name: str) -> Workflow | None:
    """The case's workflow for its customer words; None (the general words) when it no longer
    loads: a customer's page never fails over a workflow file."""
    try:
        workflow: Workflow = request.app.state.store.project.workflow(name)
        return workflow
    except DefinitionError:
        return None


@router.get("/status/{case_id}/{signature}", response_class=HTMLResponse)
def case_status(request: Request, case_id: str, signature: str) -> Response:
    """The status of a case (signed link only: the webform's submitter or the channel's customer)."""
    expected = status_path(_secret(request), case_id).rsplit("/", 1)[1]
    if not texts_equal(signature, expected):
        return _message_page(request, N_("Not found"), N_("This status link is not valid."), 404)
    try:
        timeline: CaseTimeline = request.app.state.store.case_timeline(case_id)
    except NotFound:
        return _message_page(request, N_("Not found"), N_("This request does not exist (any more)."), 404)
    case = timeline.case
    language = i18n.for_request(request).language
    workflow = _workflow(request, case.workflow)
    heading, words = status_words(workflow, language)
    title, explanation = customer_reads(workflow, case.status, case.outputs, language)
    history = [(t.at, words.get(t.to_status, (t.to_status, ""))[0]) for t in timeline.transitions]
    return _render(
        request,
        "status.html",
        {
            "case": case,
            "heading": heading,
            "title": title,
            "explanation": explanation,
            "history": history,
            "finished": case.finished_at is not None or case.status in FINISHED,
        },
    )
