"""The worker's side of notifications: sending, retried when a mail server or gateway fails for a while."""
import requests

from dtsen_portal.celery import app

from . import services


@app.task(name="notifications.send", autoretry_for=(requests.RequestException, OSError), retry_backoff=30,
          max_retries=5, acks_late=True)
def send_notification(payload: dict) -> int:
    return services.deliver(payload)
