"""One way to tell people things: ``notify`` queues a message for the worker once the caller's transaction
commits, so no request waits for a mail server or an SMS gateway: one task per configured channel that has an
address in it, so a gateway that fails for a while is retried alone and the e-mail is not sent again."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from .channels import Message

log = logging.getLogger(__name__)


def channel(path: str):
    if path not in settings.NOTIFICATION_CHANNELS:
        raise ValueError(f"not a configured notification channel: {path!r}")
    return import_string(path)()


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

    message = Message(**payload)
    for path in settings.NOTIFICATION_CHANNELS:
        if channel(path).accepts(message) and not enqueue(send_notification, payload, path):
            # The queue is down: the notification is lost, the change it announces is not; said in the log.
            log.warning("notification not queued: %s", payload["subject"])


def deliver(payload: dict, path: str) -> bool:
    """Hand one message to one channel; True if it took it."""
    return channel(path).send(Message(**payload))
