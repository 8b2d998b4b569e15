"""`python -m benchmarks`: the project's performance contract, measured on a scratch PostgreSQL database.

Needs DATABASE_URL pointing at a PostgreSQL server; a database named ``<name>_bench`` is created beside it and
dropped at the end. Each section measures its figures against a baseline measured in the same run and returns
rows of one table (``benchmarks.table``): ``figure | value | baseline | ratio | target | met``, printed and
written to ``bench/results.md`` (``--out``). Sizes:

``--families`` (BENCH_FAMILIES, default 1,000,000): the regency ingested through the mock centre, ranked by a
desil publication and then served to the page, search and export figures. ``--mix-seconds`` (default 300):
how long 8 clients mix the pages. ``--only`` runs some sections (ingest, submission, berita_acara, desil,
regency, exports, pages, duplicates; and ``partitioning``, run only when named: the register partitioned by province
against the same table unpartitioned, ``--partition-families``, default 10,000,000). ``make test`` runs a
reduced table (20,000 families) so none of this can rot.
"""
import argparse
import datetime as dt
import importlib
import os
import platform
import sys
import time
import urllib.parse
from pathlib import Path

SECTIONS = ("regency", "pages", "exports", "desil", "submission", "berita_acara", "duplicates", "ingest")
# Asked for by name only (--only partitioning): 10,000,000 families take most of an hour (docs/scaling.md).
OPTIONAL = ("partitioning",)


def _scratch_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("make bench needs DATABASE_URL=postgres://... (a PostgreSQL server); see README.")
    import psycopg2

    parts = urllib.parse.urlparse(url)
    bench_name = (parts.path.lstrip("/") or "postgres") + "_bench"
    try:
        admin = psycopg2.connect(url)
    except psycopg2.OperationalError:
        # The named database need not exist (pytest-django only makes test_<name>): the server's own will do.
        admin = psycopg2.connect(urllib.parse.urlunparse(parts._replace(path="/postgres")))
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
    try:
        admin = psycopg2.connect(url)
    except psycopg2.OperationalError:
        admin = psycopg2.connect(urllib.parse.urlunparse(urllib.parse.urlparse(url)._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
    admin.close()


def _machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0].split()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores, {memory:.0f} GiB, PostgreSQL {server}, Python {platform.python_version()}, "
            f"gunicorn workers {os.environ.get('BENCH_GUNICORN_WORKERS', '5')}")


def _write(args, figures, machine: str, seconds: float, *, final: bool = False) -> None:
    """Print (at the end) and write the table; written after every section too, so a long run that is stopped
    still leaves what it measured."""
    from .table import markdown

    table = markdown(figures)
    met = sum(f.met for f in figures)
    state = "" if final else " (run still going: sections so far)"
    header = (f"# Benchmark results\n\n{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.families:,} families, "
              f"{machine}; {seconds / 60:.0f} min{state}. {met} of {len(figures)} targets met.\n\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + table, encoding="utf-8")
    if final:
        print("\n" + table)
        print(f"{met} of {len(figures)} targets met (total {seconds:.0f}s)")


def _arguments():
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=int(os.environ.get("BENCH_FAMILIES", "1000000")))
    parser.add_argument("--village-families", type=int, default=7500,
                        help="the village whose approved round is frozen as a submission / berita acara")
    parser.add_argument("--mix-seconds", type=float, default=300)
    parser.add_argument("--samples", type=int, default=40, help="requests per page and client count")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--partition-families", type=int, default=10_000_000)
    parser.add_argument("--out", default="bench/results.md")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS) - set(OPTIONAL)
    if unknown:
        sys.exit(f"unknown sections: {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    original_url = os.environ.get("DATABASE_URL", "")
    bench_name = _scratch_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtsen_portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    def add(rows):
        figures.extend(rows)
        _write(args, figures, machine, time.monotonic() - started)

    def section(name):
        return importlib.import_module(f".{name}", __package__)

    started = time.monotonic()
    figures = []
    try:
        call_command("migrate", verbosity=0)
        machine = _machine()
        # The pages people wait for first (a long run that is stopped keeps them), the ingest's many pulls last.
        if {"regency", "exports", "pages"} & set(only):
            print(f"building a regency of {args.families:,} families for the pages ...", flush=True)
            section("regency").reset()
            section("regency").build(args.families)
        if "pages" in only:
            add(section("pages").run(families=args.families, mix_seconds=args.mix_seconds, samples=args.samples))
        if "exports" in only:
            add(section("exports").run())
        if "desil" in only:
            add(section("desil").run(families=args.families))
        if "submission" in only:
            add(section("submission").run(families=args.village_families))
        if "berita_acara" in only:
            add(section("berita_acara").run(families=args.village_families))
        if "duplicates" in only:
            add(section("duplicates").run(families=args.families))
        if "partitioning" in only:
            add(section("partitioning").run(families=args.partition_families))
        if "ingest" in only:
            add(section("ingest").run(families=args.families))
    finally:
        _drop(bench_name, original_url)
    _write(args, figures, machine, time.monotonic() - started, final=True)


if __name__ == "__main__":
    main()
