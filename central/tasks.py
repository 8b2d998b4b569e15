"""Celery tasks of the central sync: thin wrappers over ``central.services`` with retries.

Each task is idempotent and acknowledged late, so a worker lost mid-task means the task runs again and
finds the work done or half-done (stored pages, committed keys), never doubled. When the centre stays
unreachable beyond the client's own retries, the task itself retries with exponential backoff and jitter.
"""
import logging

from celery import shared_task
from django.core.cache import cache

from dtsen_portal.queue import enqueue

from . import services
from .client import CentralClient, CentralUnavailable
from .models import BatchState

TASK_RETRY = {
    "autoretry_for": (CentralUnavailable,),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 10,
    "acks_late": True,
}
LOCK_SECONDS = 3600


class QueueUnavailable(Exception):
    """The broker did not take a task."""

log = logging.getLogger(__name__)


def _exclusive(name: str):
    """One worker at a time per batch: a second copy of the task (from the next periodic pull) skips."""
    return cache.add(f"central-lock:{name}", 1, LOCK_SECONDS)


def _release(name: str) -> None:
    cache.delete(f"central-lock:{name}")


@shared_task(name="central.pull_batches", **TASK_RETRY)
def pull_batches(regency: str = "") -> dict:
    new = services.batches_discover(client=CentralClient(), regency=regency)
    pending = services.batches_pending()
    for batch_pk in pending:
        sync_batch.delay(batch_pk)
    return {"batches_new": len(new), "queued": len(pending)}


@shared_task(name="central.sync_batch", **TASK_RETRY)
def sync_batch(batch_pk: int) -> str:
    """Download and apply a batch; a large one is handed to page-range tasks that any worker can take
    (``stage_batch_pages``), the last of which queues ``apply_batch``. The batch's lock stays taken until
    the apply, so the periodic pull does not hand the same ranges out again meanwhile."""
    if not _exclusive(f"batch:{batch_pk}"):
        return "busy"
    handed_over = False
    try:
        ranges = services.batch_ranges_to_stage(batch_pk=batch_pk, client=CentralClient())
        for first, last in ranges:
            stage_batch_pages.delay(batch_pk, first, last)
        if ranges:
            handed_over = True
            return "staging"
        return services.batch_sync(batch_pk=batch_pk, client=CentralClient()).state
    finally:
        if not handed_over:
            _release(f"batch:{batch_pk}")


@shared_task(name="central.stage_batch_pages", **TASK_RETRY)
def stage_batch_pages(batch_pk: int, first: int, last: int) -> str:
    outcome = services.batch_stage_pages(batch_pk=batch_pk, first=first, last=last, client=CentralClient())
    if outcome == services.LAST_RANGE:
        apply_batch.delay(batch_pk)
    elif outcome == BatchState.QUARANTINED:
        _release(f"batch:{batch_pk}")  # held: nothing of it waits to be applied
    return outcome


@shared_task(name="central.apply_batch", **TASK_RETRY)
def apply_batch(batch_pk: int) -> str:
    """Apply a batch whose ranges are all staged, then give back the lock ``sync_batch`` took."""
    state = services.batch_sync(batch_pk=batch_pk, client=CentralClient()).state
    _release(f"batch:{batch_pk}")
    return state


def push_after_approval(round_ids: list[int]) -> None:
    """Registered with verification at start-up: an approval queues the push once it is committed.

    Raises when the push could not be queued, so the approval reports its delivery as pending."""
    if not enqueue(push_submissions):
        raise QueueUnavailable("push_submissions not queued; the scheduled push will send it")


@shared_task(name="central.push_submissions", **TASK_RETRY)
def push_submissions() -> dict:
    if not _exclusive("push"):
        return {"busy": True}
    try:
        client = CentralClient()
        return {**services.submissions_push(client=client), **services.submissions_check(client=client)}
    finally:
        _release("push")


@shared_task(name="central.pull_determinations", **TASK_RETRY)
def pull_determinations(regency: str = "") -> dict:
    return services.determinations_pull(client=CentralClient(), regency=regency)


@shared_task(name="central.pull_desil", **TASK_RETRY)
def pull_desil() -> dict:
    if not _exclusive("desil"):
        return {"busy": True}
    try:
        return services.desil_pull(client=CentralClient())
    finally:
        _release("desil")
