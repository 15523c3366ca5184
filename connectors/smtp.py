"""Outbound mail over SMTP (the default ``mail`` service of robots).

Configured from the environment: ``TANDEM_SMTP_HOST`` (default 127.0.0.1),
``TANDEM_SMTP_PORT`` (8025), ``TANDEM_SMTP_FROM`` (robot@tandem.local), ``TANDEM_SMTP_USER``
(then the password comes from the vault entry ``smtp.password``), ``TANDEM_SMTP_TLS``
(``starttls`` or ``ssl``). Every message carries a Message-ID derived from the case and step,
so a mail re-sent by a resumed case can be recognised by the receiving side.
"""

from __future__ import annotations

import mimetypes
import os
import smtplib
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from robots.errors import BusinessException, SystemException


@dataclass
class Mail:
    """One message to send."""

    to: list[str]
    subject: str
    text: str
    html: str | None = None
    cc: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    message_id: str | None = None
    sender: str | None = None


class Mailer(ABC):
    """Sends mail; returns the Message-ID."""

    @abstractmethod
    def send(self, mail: Mail) -> str:
        """Send ``mail``; ``SystemException`` when the server is unreachable."""


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """The MIME message for ``mail``."""
    message = EmailMessage()
    message["From"] = mail.sender or sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = mail.message_id or f"<{os.urandom(8).hex()}@tandem>"
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    for path in mail.attachments:
        kind, _ = mimetypes.guess_type(path.name)
        main, sub = (kind or "application/octet-stream").split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    return message


class SmtpMailer(Mailer):
    """SMTP with optional STARTTLS/SSL and login."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8025,
        *,
        sender: str = "robot@tandem.local",
        username: str | None = None,
        password: str | None = None,
        tls: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.tls, self.timeout = username, password, tls, timeout

    @classmethod
    def from_env(cls) -> SmtpMailer:
        """A mailer configured from ``TANDEM_SMTP_*`` (and the vault for the password)."""
        user = os.environ.get("TANDEM_SMTP_USER") or None
        password = None
        if user:
            from connectors.vault import default_vault

            password = default_vault().get("smtp.password")
        return cls(
            os.environ.get("TANDEM_SMTP_HOST", "127.0.0.1"),
            int(os.environ.get("TANDEM_SMTP_PORT", "8025")),
            sender=os.environ.get("TANDEM_SMTP_FROM", "robot@tandem.local"),
            username=user,
            password=password,
            tls=os.environ.get("TANDEM_SMTP_TLS") or None,
        )

    def send(self, mail: Mail) -> str:
        message = build_message(mail, self.sender)
        where = f"{self.host}:{self.port}"
        try:
            client: smtplib.SMTP
            if self.tls == "ssl":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise BusinessException(
                f"the mail server refused the recipient(s) {', '.join(error.recipients)}"
            ) from None
        except smtplib.SMTPAuthenticationError:
            raise SystemException(
                f"the mail server at {where} refused the login of {self.username}"
            ) from None
        except (ConnectionRefusedError, TimeoutError, OSError, smtplib.SMTPException) as error:
            raise SystemException(
                f"cannot reach the mail server at {where} (is it running?): {error}"
            ) from None
        if refused:
            raise BusinessException(f"the mail server refused {', '.join(refused)}")
        return str(message["Message-ID"])
