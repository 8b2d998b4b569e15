"""``manage.py load_regions [PATH] [--only CODE ...]``: load the Kemendagri region tree."""
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from registry.services import BUNDLED_REGIONS_CSV, RegionFileError, regions_load


class Command(BaseCommand):
    help = "Load Indonesian regions (province to village) from the bundled wilayah.csv or a given file."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=None,
                            help=f"CSV with columns code,name (default: {BUNDLED_REGIONS_CSV})")
        parser.add_argument("--only", nargs="*", default=[],
                            help="load only these region codes with their ancestors and descendants")

    def handle(self, *args, path=None, only=(), **options):
        started = time.monotonic()
        try:
            result = regions_load(path=path, only=only)
        except RegionFileError as exc:
            raise CommandError(_("%(error)s Nothing was written.") % {"error": exc}) from None
        levels = ", ".join(f"level {k}: {v}" for k, v in sorted(result.by_level.items()))
        self.stdout.write(
            f"Regions read: {result.read} ({levels}); created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged} in {time.monotonic() - started:.1f}s"
        )
