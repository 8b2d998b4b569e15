"""``manage.py sync_central pull|push|determinations|desil|status [--regency CODE] [--processes N]``.

Runs the same service code as the Celery tasks, synchronously, retrying with the tasks' backoff until
done or given up, and prints one JSON summary line last. A large batch's page ranges are staged by
``--processes`` processes of the command (``central.pull``).
"""
import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from central import services
from central.client import CentralClient, CentralUnavailable
from central.pull import pull, retrying


class Command(BaseCommand):
    help = "Synchronise with the central DTSEN service: pull, push, determinations, desil, or show status."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["pull", "push", "determinations", "desil", "status"])
        parser.add_argument("--regency", default="", help="limit pulls to one regency code, e.g. 12.09")
        parser.add_argument("--processes", type=int, default=None,
                            help="processes staging a large batch's page ranges at once "
                                 "(default CENTRAL_PULL_PROCESSES)")

    def handle(self, *args, action, regency, processes=None, **options):
        self.processes = settings.CENTRAL_PULL_PROCESSES if processes is None else processes
        if self.processes < 1:
            raise CommandError("--processes must be at least 1")
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
        return pull(client=client, regency=regency, processes=self.processes, stderr=self.stderr)

    def _push(self, client, regency):
        pushed = retrying(lambda: services.submissions_push(client=client), stderr=self.stderr)
        return {**pushed, **retrying(lambda: services.submissions_check(client=client), stderr=self.stderr)}

    def _determinations(self, client, regency):
        return retrying(lambda: services.determinations_pull(client=client, regency=regency), stderr=self.stderr)

    def _desil(self, client, regency):
        return retrying(lambda: services.desil_pull(client=client), stderr=self.stderr)
