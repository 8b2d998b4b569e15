"""``manage.py seed_demo --regency 12.09 --households N --seed S``: a deterministic demo regency."""
import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.services import demo_accounts_ensure
from distribution import services as distribution_services
from dtsen_portal.errors import ServiceError
from registry.services import RegionFileError, demo_busiest_village, demo_seed
from verification import services as verification_services


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


class Command(BaseCommand):
    help = ("Replace a regency's demo families with synthetic, deterministic ones (same seed and date, same "
            "data) and create one demo account per role.")

    def add_arguments(self, parser):
        parser.add_argument("--regency", required=True, help="regency code, e.g. 12.09 (Asahan)")
        parser.add_argument("--households", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=2025)
        parser.add_argument("--as-of", type=_date, default=None,
                            help="reference date for ages and desil publications (default: today)")
        parser.add_argument("--keep", action="store_true",
                            help="keep the regency's demo data if it is there (what was done in it stays); "
                                 "only the demo accounts get fresh passwords")
        parser.add_argument("--password", default=None,
                            help="password for every demo account (default: a new random one per account)")

    def handle(self, *args, regency, households, seed, as_of, password, keep=False, **options):
        if households < 1:
            raise CommandError(_("--households must be at least 1."))
        kept = demo_busiest_village(regency=regency) if keep else None
        if kept:
            # A second `make run`: the rounds worked on (and sent to the centre) stay as they are.
            self.stdout.write(f"Demo regency {regency} kept as it is (to start over: make reset, then make run).")
            self._accounts(kept, password)
            return
        started = time.monotonic()
        as_of = as_of or timezone.localdate()
        try:
            verification_services.demo_rounds_remove(regency=regency)
            distribution_services.demo_payments_remove(regency=regency)
            result = demo_seed(regency=regency, households=households, seed=seed, as_of=as_of)
            deadline = as_of + dt.timedelta(days=30)
            rounds = verification_services.demo_rounds_create(regency=regency, deadline=deadline)
            # The demo batch belongs to the update cycle of the reference date, as a central batch would.
            verification_services.rounds_set_calendar(
                batch_ref=verification_services.demo_batch_ref(regency),
                cycle=verification_services.cycle_of(as_of), deadline=deadline)
            kpm = distribution_services.demo_determinations_create(regency=regency)
        except (RegionFileError, ServiceError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Demo regency {regency}: {result.families} families, {result.members} members, "
            f"{result.rankings} desil rankings in {result.villages} villages "
            f"(replaced {result.removed}) in {time.monotonic() - started:.1f}s")
        self.stdout.write("By desil: " + ", ".join(f"{d}: {n}" for d, n in result.by_desil.items()))
        self.stdout.write(f"BLTS Kesra determinations (demo, desil 1-4): {kpm}")
        self.stdout.write(f"Open verval rounds: {rounds} (one per village, batch "
                          f"{verification_services.demo_batch_ref(regency)}, update cycle "
                          f"{verification_services.cycle_of(as_of)}, deadline {deadline:%Y-%m-%d})")
        self._accounts(result.busiest_village, password)

    def _accounts(self, village_code: str, password: str | None) -> None:
        self.stdout.write("")
        self.stdout.write("Demo accounts (username / password / role / area):")
        for account in demo_accounts_ensure(village_code=village_code, password=password):
            area = str(account.area) if account.area else "-"
            self.stdout.write(f"  {account.username:<11} {account.password:<14} "
                              f"{Role(account.role).label:<24} {area}")
