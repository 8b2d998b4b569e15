"""The worker's side of notifications: sending, retried when a mail server or gateway fails for a while."""
import requests
from django.conf import settings

from dtsen_portal.celery import app

from . import services


@app.task(name="notifications.send", autoretry_for=(requests.RequestException, OSError), retry_backoff=30,
          max_retries=5, acks_late=True)
def send_notification(payload: dict, channel: str = "") -> bool:
    """One message by one channel (``NOTIFICATION_CHANNELS`` path): a retry resends only by this one. A message
    queued before channels had tasks of their own (no channel) goes by every channel that takes it."""
    if not channel:
        message = services.Message(**payload)
        sent = [services.deliver(payload, path) for path in settings.NOTIFICATION_CHANNELS
                if services.channel(path).accepts(message)]  # every channel, not up to the first that took it
        return any(sent)
    return services.deliver(payload, channel)
