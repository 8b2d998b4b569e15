"""``manage.py sync_central pull|push|determinations|desil|status [--regency CODE]``.

Runs the same service code as the Celery tasks, synchronously, retrying with the tasks' backoff until
done or given up, and prints one JSON summary line last.
"""
import json
import random
import time

from django.core.management.base import BaseCommand

from central import services
from central.client import CentralClient, CentralUnavailable
from central.tasks import TASK_RETRY


def retrying(call, *, stderr=None):
    """Call until it stops raising CentralUnavailable, backing off as the Celery tasks do."""
    for attempt in range(TASK_RETRY["max_retries"] + 1):
        try:
            return call()
        except CentralUnavailable as exc:
            if attempt == TASK_RETRY["max_retries"]:
                raise
            delay = random.uniform(0, min(TASK_RETRY["retry_backoff_max"], TASK_RETRY["retry_backoff"] * 2 ** attempt))
            if stderr:
                stderr.write(f"centre unavailable ({exc}); retrying in {delay:.1f}s")
            time.sleep(delay)
    return None


class Command(BaseCommand):
    help = "Synchronise with the central DTSEN service: pull, push, determinations, desil, or show status."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["pull", "push", "determinations", "desil", "status"])
        parser.add_argument("--regency", default="", help="limit pulls to one regency code, e.g. 12.09")

    def handle(self, *args, action, regency, **options):
        started = time.monotonic()
        summary = {"action": action}
        if action != "status":
            client = CentralClient()
            try:
                summary.update(getattr(self, f"_{action}")(client, regency))
            except CentralUnavailable as exc:
                summary["error"] = str(exc)
        summary.update(services.sync_status())
        summary["seconds"] = round(time.monotonic() - started, 2)
        self.stdout.write(json.dumps(summary, sort_keys=True))
        if "error" in summary:
            raise SystemExit(1)

    def _pull(self, client, regency):
        new = retrying(lambda: services.batches_discover(client=client, regency=regency), stderr=self.stderr)
        outcome = {}
        for batch_pk in services.batches_pending():
            try:
                state = retrying(lambda pk=batch_pk: services.batch_sync(batch_pk=pk, client=client),
                                 stderr=self.stderr).state
            except CentralUnavailable:
                state = "failed"
            outcome[state] = outcome.get(state, 0) + 1
        return {"batches_new": len(new), "batch_outcomes": outcome}

    def _push(self, client, regency):
        pushed = retrying(lambda: services.submissions_push(client=client), stderr=self.stderr)
        return {**pushed, **retrying(lambda: services.submissions_check(client=client), stderr=self.stderr)}

    def _determinations(self, client, regency):
        return retrying(lambda: services.determinations_pull(client=client, regency=regency), stderr=self.stderr)

    def _desil(self, client, regency):
        return retrying(lambda: services.desil_pull(client=client), stderr=self.stderr)
