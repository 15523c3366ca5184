"""A local SMTP server that keeps what it receives: for tests and the demo."""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from connectors.net import free_port


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.received(message, envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    """``with MailSink() as sink:`` an SMTP server on loopback; ``sink.messages`` is what arrived."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, directory: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.directory = directory
        self.messages: list[EmailMessage] = []
        self._lock = threading.Condition()
        self._controller: Controller | None = None

    def received(self, message: EmailMessage, raw: bytes) -> None:
        with self._lock:
            self.messages.append(message)
            self._lock.notify_all()
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{time.time_ns()}.eml").write_bytes(raw)

    def start(self) -> MailSink:
        """Start listening (a free port when ``port`` is 0)."""
        if self.port == 0:
            self.port = free_port(self.host)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until ``count`` messages have arrived; the messages."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} mails arrived within {timeout:g}s")
                self._lock.wait(left)
            return list(self.messages)

    def env(self) -> dict[str, str]:
        """The environment that points robots' mail here."""
        return {"TANDEM_SMTP_HOST": self.host, "TANDEM_SMTP_PORT": str(self.port)}

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
