"""One way to tell people things: ``notify`` queues a message for the worker once the caller's transaction
commits, so no request waits for a mail server or an SMS gateway; ``deliver`` (run by the task) hands it to
every configured channel that understands one of its addresses."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from .channels import Message

log = logging.getLogger(__name__)


def channels() -> list:
    return [import_string(path)() for path in settings.NOTIFICATION_CHANNELS]


def notify(*, subject: str, body: str, email: str = "", phone: str = "") -> bool:
    """Queue a message to ``email`` and/or ``phone``; False (nothing queued) when there is no address."""
    if not (email or phone):
        return False
    message = Message(subject=subject, body=body, email=email.strip(), phone=phone.strip())
    transaction.on_commit(lambda: _send(message.as_dict()))
    return True


def _send(payload: dict) -> None:
    from dtsen_portal.queue import enqueue

    from .tasks import send_notification

    if not enqueue(send_notification, payload):
        # The queue is down: the notification is lost, the change it announces is not; said in the log.
        log.warning("notification not queued: %s", payload["subject"])


def deliver(payload: dict) -> int:
    """Hand one message to every channel that takes it; returns how many did."""
    message = Message(**payload)
    return sum(1 for channel in channels() if channel.send(message))
