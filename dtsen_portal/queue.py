"""Sending Celery tasks from pages: one place that knows the in-process mode of `make run` and a broker that is down.

With the broker down (Redis stopped) the send fails: what the task works on is in the database, so the caller
says so and the work is sent again (by the beat schedule, or by the user asking again). In the in-process demo
mode (no broker) the task runs in a thread of this process, so the page answers at once instead of waiting for
the work (or for the retries against an absent centre)."""
import logging
import threading

from django.db import connections

log = logging.getLogger(__name__)


def enqueue(task, *args) -> bool:
    """Send ``task`` with ``args``; False when it could not be sent, so the page can say so instead of failing."""
    if task.app.conf.task_always_eager:
        in_background(task, *args)
        return True
    try:
        task.delay(*args)
    except Exception as exc:  # kombu's OperationalError, a Redis error
        log.warning("task %s not sent (%s)", task.name, exc.__class__.__name__, exc_info=True)
        return False
    return True


def in_background(task, *args) -> threading.Thread:
    """Run ``task`` in a daemon thread of this process (the in-process mode's queue)."""

    def run():
        try:
            task.apply(args=args)
        except Exception:  # noqa: BLE001 - a thread has nobody to raise to: the task recorded what it could
            log.warning("in-process task %s failed", task.name, exc_info=True)
        finally:
            connections.close_all()  # this thread's own database connections

    thread = threading.Thread(target=run, name=f"task {task.name}", daemon=True)
    thread.start()
    return thread
