"""``manage.py run_mock_central --port 8765 --data-dir DIR``: serve the mock central DTSEN/Pusdatin service.

A separate system with its own SQLite file in ``--data-dir``; it never opens the portal's database, so it runs
without migrations or system checks. Each ``--regency`` without a batch yet gets one generated batch at start.
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from central.mock.faults import Faults, FaultSettings, FaultSettingsError
from central.mock.server import MAX_HOUSEHOLDS, MockCentralServer, load_villages
from central.mock.store import Store


class Command(BaseCommand):
    help = ("Run the mock central DTSEN/Pusdatin service (batches, submissions, determinations, desil "
            "publications, fault injection) over HTTP, with its own storage in --data-dir.")
    # The mock is not the portal: it must start even where the portal's database does not exist.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
        parser.add_argument("--data-dir", type=Path, required=True, help="directory for central.sqlite3")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--token", default=None,
                            help="bearer token clients must send (default: $CENTRAL_API_TOKEN, else mock-token)")
        parser.add_argument("--regency", action="extend", nargs="+", default=[], metavar="CODE",
                            help="regency codes that get a generated batch at start if they have none yet")
        parser.add_argument("--households", type=int, default=3000, help="households per generated batch")
        parser.add_argument("--seed", type=int, default=2025, help="generator seed")
        parser.add_argument("--programme", default="PKH", help="programme of the start-up batches")
        parser.add_argument("--page-size", type=int, default=500, help="families or desil rows per page")
        parser.add_argument("--fail-rate", type=float, default=0.0)
        parser.add_argument("--timeout-rate", type=float, default=0.0)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--duplicate-rate", type=float, default=0.0)
        parser.add_argument("--drop-rate", type=float, default=0.0)
        parser.add_argument("--hang-seconds", type=float, default=10.0)
        parser.add_argument("--fault-seed", type=int, default=0)

    def handle(self, *args, **options):
        token = options["token"] or os.environ.get("CENTRAL_API_TOKEN") or "mock-token"
        if not 1 <= options["households"] <= MAX_HOUSEHOLDS:
            raise CommandError(f"--households must be between 1 and {MAX_HOUSEHOLDS}.")
        if options["page_size"] < 1:
            raise CommandError("--page-size must be at least 1.")
        if not 0 <= options["port"] <= 65535:
            raise CommandError("--port must be between 0 and 65535.")
        villages = load_villages(Path(settings.BASE_DIR) / "data" / "wilayah.csv")
        unknown = [code for code in options["regency"] if code not in villages]
        if unknown:
            raise CommandError(f"No villages for regency {', '.join(unknown)} in data/wilayah.csv.")
        fault_settings = FaultSettings(
            fail_rate=options["fail_rate"], timeout_rate=options["timeout_rate"], latency_ms=options["latency_ms"],
            duplicate_rate=options["duplicate_rate"], drop_rate=options["drop_rate"],
            hang_seconds=options["hang_seconds"])
        store = Store(Path(options["data_dir"]) / "central.sqlite3")
        counters = store.counters()
        try:
            faults = Faults(fault_settings, seed=options["fault_seed"],
                            injected={kind: counters[f"faults_{kind}"] for kind in ("fail", "timeout", "drop",
                                                                                     "duplicate")})
        except FaultSettingsError as error:
            raise CommandError(str(error)) from None
        try:
            # Bind before generating: a busy port should fail at once, not after the work.
            server = MockCentralServer(
                (options["host"], options["port"]), store=store, faults=faults, token=token,
                page_size=options["page_size"], villages=villages, households=options["households"],
                seed=options["seed"], programme=options["programme"], verbose=options["verbosity"] >= 2)
        except OSError as error:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {error}") from None

        for regency in dict.fromkeys(options["regency"]):
            if not store.has_batch(regency):
                batch = server.publish_generated_batch(regency, options["programme"], options["households"],
                                                       options["seed"])
                self.stdout.write(f"published {batch['batch_id']}: {batch['family_count']} families, "
                                  f"{batch['page_count']} pages")

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        host, port = server.server_address[:2]
        self.stdout.write(f"mock central listening on http://{host}:{port}")
        self.stdout.flush()
        try:
            # A timed wait keeps the main thread responsive to signals on every platform.
            while not stop.wait(0.5):
                pass
        finally:
            server.shutdown()
            server.server_close()
        self.stdout.write("mock central stopped")
        self.stdout.flush()
