"""Channels a notification can travel by, chosen in settings (``NOTIFICATION_CHANNELS``).

Each channel takes the addresses it understands from a message and sends the text: e-mail through Django's
mail backends (``EMAIL_BACKEND``: SMTP in production, the in-memory one in tests), SMS/WhatsApp through an HTTP
gateway whose address and token come from settings, and a local fake of that gateway for tests and demos.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.mail import send_mail

log = logging.getLogger(__name__)


# A phone number an SMS/WhatsApp gateway can be given: digits, spaces, + or -, 6 to 20 of them (the forms that
# take one from a citizen or for a staff account check it against this).
PHONE_REGEX = r"^[0-9+ -]{6,20}$"


@dataclass
class Message:
    subject: str
    body: str
    email: str = ""
    phone: str = ""

    def as_dict(self) -> dict:
        return {"subject": self.subject, "body": self.body, "email": self.email, "phone": self.phone}


class Channel:
    """One way of sending. ``send`` returns True if the message was for this channel and was handed over;
    it raises on a failure worth retrying (the task retries)."""

    def send(self, message: Message) -> bool:  # pragma: no cover - an interface
        raise NotImplementedError

    def accepts(self, message: Message) -> bool:
        """Whether the message has an address for this channel (only then is a task queued for it)."""
        return True


class EmailChannel(Channel):
    def accepts(self, message: Message) -> bool:
        return bool(message.email)

    def send(self, message: Message) -> bool:
        if not message.email:
            return False
        send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.email])
        return True


class HttpGatewayChannel(Channel):
    """An SMS/WhatsApp gateway reached by HTTP: ``POST {"to": phone, "text": body}`` to
    ``NOTIFICATION_GATEWAY_URL`` with ``Authorization: Bearer NOTIFICATION_GATEWAY_TOKEN``."""

    def accepts(self, message: Message) -> bool:
        return bool(message.phone and settings.NOTIFICATION_GATEWAY_URL)

    def send(self, message: Message) -> bool:
        url = settings.NOTIFICATION_GATEWAY_URL
        if not (message.phone and url):
            return False
        response = requests.post(url, json={"to": message.phone, "text": f"{message.subject}\n{message.body}"},
                                 headers={"Authorization": f"Bearer {settings.NOTIFICATION_GATEWAY_TOKEN}"},
                                 timeout=settings.NOTIFICATION_GATEWAY_TIMEOUT)
        if 400 <= response.status_code < 500:
            # The gateway refused this message (a number it does not take, a wrong token): sending it again
            # would be refused again. Said in the log, not retried.
            log.warning("notification gateway refused a message: HTTP %s", response.status_code)
            return False
        response.raise_for_status()
        return True


class FakeGatewayChannel(Channel):
    """The gateway's local stand-in: keeps what it would have sent in ``outbox`` (tests, demos)."""

    outbox: list[dict] = []

    def accepts(self, message: Message) -> bool:
        return bool(message.phone)

    def send(self, message: Message) -> bool:
        if not message.phone:
            return False
        self.outbox.append({"to": message.phone, "text": f"{message.subject}\n{message.body}"})
        return True
