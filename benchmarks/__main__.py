"""`python -m benchmarks`: measure on a scratch PostgreSQL database and print the table.

Needs DATABASE_URL pointing at a PostgreSQL server (the figures are about COPY and set-based SQL); a
database named ``<name>_bench`` is created beside it and dropped at the end. BENCH_FAMILIES sets the
ingest size (default 100,000 families, with their ~400,000 members); BENCH_VILLAGE_FAMILIES the size of the
village whose approved round is frozen as a submission (default 7,500, the largest villages);
BENCH_DESIL_FAMILIES the number of families a desil publication ranks (default 1,000,000);
BENCH_BERITA_ACARA_FAMILIES the families in the berita acara rendered with hostile notes (default 7,500).
"""
import os
import sys
import time
import urllib.parse


def _scratch_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("make bench needs DATABASE_URL=postgres://... (a PostgreSQL server); see README.")
    import psycopg2

    parts = urllib.parse.urlparse(url)
    bench_name = (parts.path.lstrip("/") or "postgres") + "_bench"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
        cursor.execute(f'CREATE DATABASE "{bench_name}"')
    admin.close()
    os.environ["DATABASE_URL"] = urllib.parse.urlunparse(parts._replace(path="/" + bench_name))
    return bench_name


def _drop(bench_name: str, url: str) -> None:
    import psycopg2
    from django.db import connections

    connections.close_all()
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
    admin.close()


def main() -> None:
    original_url = os.environ.get("DATABASE_URL", "")
    bench_name = _scratch_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtsen_portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from . import berita_acara, desil, ingest, submission

    started = time.monotonic()
    try:
        call_command("migrate", verbosity=0)
        rows = ingest.run(families=int(os.environ.get("BENCH_FAMILIES", "100000")))
        rows += submission.run(families=int(os.environ.get("BENCH_VILLAGE_FAMILIES", "7500")))
        rows += desil.run(families=int(os.environ.get("BENCH_DESIL_FAMILIES", "1000000")))
        rows += berita_acara.run(families=int(os.environ.get("BENCH_BERITA_ACARA_FAMILIES", "7500")))
    finally:
        _drop(bench_name, original_url)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'benchmark':<{width}}  {'measured':>22}  {'baseline':>22}  {'ratio':>6}  target")
    for name, measured, baseline, ratio, target in rows:
        print(f"{name:<{width}}  {measured:>22}  {baseline:>22}  {ratio:>6.2f}  {target}")
    print(f"\n(total {time.monotonic() - started:.0f}s, PostgreSQL scratch database {bench_name})")


if __name__ == "__main__":
    main()
