"""Sending mail: a template (or a body) rendered with the case's data, sent over SMTP."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BeforeValidator, Field, model_validator

from connectors.smtp import Mail, Mailer, SmtpMailer
from robots.errors import BusinessException, SystemException
from robots.language.registry import ActionContext, ActionParams, action

_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_HTML_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def template_dir(root: Path | None = None) -> Path:
    """Where mail templates live: ``templates/mail`` under the project folder (``root``, else
    ``TANDEM_HOME``)."""
    return (root or Path(os.environ.get("TANDEM_HOME", "."))) / "templates" / "mail"


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Addresses = Annotated[list[str], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]
"""E-mail addresses: one as text, or a list."""


class SendParams(ActionParams):
    """A mail to send."""

    to: Addresses = Field(description="Recipient(s): one address or a list.")
    cc: Addresses = Field(default_factory=list, description="Copy to: one address or a list.")
    subject: str | None = Field(None, description="Subject (a template's 'Subject:' line is the default).")
    template: str | None = Field(None, description="Name of templates/mail/<name>.txt (and optional .html).")
    body: str | None = Field(None, description="The text, instead of a template.")
    data: dict[str, Any] = Field(default_factory=dict, description="Values for the template.")
    language: str | None = Field(
        None,
        description="The customer's language ('de', 'en', 'de-DE'): templates/mail/<name>.<language>.txt "
        "when there is one, else <name>.txt. Empty: <name>.txt.",
    )
    attachments: list[str] = Field(
        default_factory=list, description="Paths of files to attach (relative to the project folder)."
    )

    @model_validator(mode="after")
    def _content(self) -> SendParams:
        if (self.template is None) == (self.body is None):
            raise ValueError("give a template or a body (one of them)")
        if not self.to or not all("@" in address for address in self.to):
            raise ValueError(f"'to' needs e-mail addresses, got {self.to}")
        return self


def _render(name: str, source: str, data: dict[str, Any], *, html: bool) -> str:
    environment = _HTML_TEMPLATES if html else _TEMPLATES
    try:
        return environment.from_string(source).render(**data)
    except UndefinedError as error:
        raise BusinessException(f"mail template {name}: {error}; pass it in 'data'") from None
    except TemplateError as error:
        raise SystemException(f"mail template {name} is broken: {error}") from None


def _template_path(template: str, language: str | None, root: Path | None) -> Path:
    """``<template>.<language>.txt`` when the language has its own text, else ``<template>.txt``."""
    base = (language or "").strip().lower().replace("_", "-").split("-", 1)[0]
    if base.isalpha():
        localised = template_dir(root) / f"{template}.{base}.txt"
        if localised.is_file():
            return localised
    return template_dir(root) / f"{template}.txt"


def render_mail(
    template: str,
    data: dict[str, Any],
    language: str | None = None,
    *,
    case: Mapping[str, Any] | None = None,
    root: Path | None = None,
) -> tuple[str, str, str | None]:
    """``templates/mail/<template>.txt`` (and ``.html`` when there is one) rendered with
    ``data``: (subject from its first 'Subject:' line, or "", text, html or None).
    ``language``: a customer's language; ``<template>.de.txt`` (and ``.de.html``) is used for
    ``de`` when it exists. ``case``: what the template reads as ``case`` (``case.id``,
    ``case.status_url``: the customer's status link, or "" when there is none), unless
    ``data`` has a ``case`` of its own. ``root``: the project folder (default ``TANDEM_HOME``)."""
    data = {"case": {"id": "", "status_url": "", **(case or {})}, **data}
    path = _template_path(template, language, root)
    if not path.is_file():
        known = sorted(p.stem for p in template_dir(root).glob("*.txt") if "." not in p.stem)
        raise SystemException(f"no mail template {template!r} (looked for {path}); templates: {known}")
    subject = ""
    text = _render(path.name, path.read_text(encoding="utf-8"), data, html=False)
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        subject = first.split(":", 1)[1].strip()
        text = rest.lstrip("\n")
    html_path = path.with_suffix(".html")  # address_changed.de.txt -> address_changed.de.html
    html = None
    if html_path.is_file():
        html = _render(html_path.name, html_path.read_text(encoding="utf-8"), data, html=True)
    return subject, text, html


@action("mail.send", side_effect=True)
def send(ctx: ActionContext, params: SendParams) -> dict[str, Any]:
    """Send a mail from a template in ``templates/mail`` (or a plain ``body``).

    The first line ``Subject: ...`` of a .txt template is the subject; a .html template of
    the same name adds an HTML part. Besides ``data``, a template reads ``case.id`` and
    ``case.status_url`` (the customer's status link; empty where the server has no public
    URL). The Message-ID is derived from the case and step.
    Example: ``- mail.send: {to: "{{ input.email }}", template: address_changed, data: {name: "{{ name }}"}}``
    """
    subject, text, html = params.subject, params.body or "", None
    if params.template is not None:
        template_subject, text, html = render_mail(
            params.template, params.data, params.language, case=ctx.case, root=ctx.project_root
        )
        subject = subject or template_subject
    if not subject:
        raise BusinessException(
            "mail.send: no subject (give 'subject' or start the template with 'Subject: ...')"
        )
    attachments = [ctx.project_path(p) for p in params.attachments]
    missing = [str(p) for p in attachments if not p.is_file()]
    if missing:
        raise SystemException(f"mail.send: attachment not found: {', '.join(missing)}")
    mailer: Mailer = ctx.services.get("mail") or SmtpMailer.from_env()
    message_id = mailer.send(
        Mail(
            to=params.to,
            cc=params.cc,
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            message_id=f"<{ctx.idempotency_key}@tandem>",
        )
    )
    return {"message_id": message_id, "to": params.to, "subject": subject}
