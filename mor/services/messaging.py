"""Sending messages to people: one-time codes now, appointment reminders later.

A :class:`Sender` delivers a text to an e-mail address or a phone number. E-mail goes
through a real mail server (:class:`SmtpSender`, standard SMTP with optional STARTTLS
and login). SMS has only the interface and :class:`OutboxSender` so far: it records each
message in a file of the outbox directory instead of sending it, for development and
for a city still choosing its SMS gateway. The outbox, not the log, holds the messages:
one-time codes are secrets, and logs are not the place for them.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import orjson

from mor.config import Settings
from mor.fhir.timestamps import instant_from_micros, now_micros


class Sender(Protocol):
    async def send(self, to: str, subject: str, text: str) -> None: ...


class SendFailed(Exception):
    """The message could not be handed over; the reason is for the operator."""


@dataclass(frozen=True, slots=True)
class SmtpSender:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False

    async def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)  # UTF-8: Thai and Lao travel as they are
        await anyio.to_thread.run_sync(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise SendFailed(f"The mail server {self.host}:{self.port} did not take the "
                             f"message: {error}") from None


@dataclass(frozen=True, slots=True)
class OutboxSender:
    directory: Path
    channel: str  # "sms" or "email"

    async def send(self, to: str, subject: str, text: str) -> None:
        await anyio.to_thread.run_sync(self._write, to, subject, text)

    def _write(self, to: str, subject: str, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{now_micros()}-{self.channel}-{uuid.uuid4().hex[:8]}.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(orjson.dumps({"channel": self.channel, "to": to, "subject": subject,
                                    "text": text, "at": instant_from_micros(now_micros())},
                                   option=orjson.OPT_INDENT_2))


def senders(settings: Settings) -> tuple[Sender, Sender]:
    """The e-mail and SMS senders the settings choose."""
    email: Sender
    if settings.smtp_host:
        email = SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                           settings.smtp_user, settings.smtp_password, settings.smtp_starttls)
    else:
        email = OutboxSender(settings.outbox_dir, "email")
    return email, OutboxSender(settings.outbox_dir, "sms")
