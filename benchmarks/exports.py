"""The regency's approved list exported as CSV and XLSX through the portal (CSV: the view, its middleware and
the streamed response, read to the end; XLSX: the request that queues the background job, the job as a
worker runs it, and the download of its file), against the least the same file can cost: the same rows fetched with a
plain server-side cursor and written by the csv module / by xlsxwriter in constant-memory mode, measured in
the same run. Memory: the Python heap's peak (tracemalloc) over the whole list and over a quarter of it.

Expects the regency ``benchmarks.regency.build`` wrote (an approved list of about 300,000 rows at 1,000,000
families)."""
from __future__ import annotations

import csv
import os
import tempfile
import time
import tracemalloc
from pathlib import Path
from unittest import mock

import xlsxwriter
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from verification import selectors
from verification.spreadsheets import EXPORT_COLUMNS, entry_sheet

from .regency import REGENCY
from .table import Figure, at_least_ratio_of_time, below

REPEATS = 2  # the best of two: the machine is shared, and the first pass also warms the page cache
MEMORY_LIMIT_MB = 64


def _user() -> User:
    user, _created = User.objects.update_or_create(username="bench-exports",
                                                   defaults={"role": Role.DINSOS, "area_id": REGENCY})
    return user


def _queryset(user):
    return selectors.approved_entries(user=user).values_list(*[f for _h, f in EXPORT_COLUMNS])


def _raw_rows(user):
    """The same rows through a psycopg2 server-side cursor, nothing done to them."""
    sql, params = _queryset(user).query.sql_with_params()
    connection.ensure_connection()
    # WITH HOLD, as Django declares its own server-side cursors outside a transaction.
    with connection.connection.cursor(name="bench_exports_baseline", withhold=True) as cursor:
        cursor.itersize = 2000
        cursor.execute(sql, params)
        yield from cursor


def _baseline_csv(user) -> tuple[float, int]:
    started = time.perf_counter()
    n = 0
    with open(os.devnull, "w", encoding="utf-8", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow([h for h, _f in EXPORT_COLUMNS])
        for n, row in enumerate(_raw_rows(user), start=1):  # noqa: B007 - n is the count
            writer.writerow(row)
    return time.perf_counter() - started, n


def _baseline_xlsx(user) -> tuple[float, int]:
    started = time.perf_counter()
    n = 0
    with tempfile.TemporaryFile() as file:
        # The portal's own options (text stays text), so the baseline does no work the export skips.
        book = xlsxwriter.Workbook(file, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, [h for h, _f in EXPORT_COLUMNS])
        for n, row in enumerate(_raw_rows(user), start=1):
            sheet.write_row(n, 0, row)
        book.close()
    return time.perf_counter() - started, n


def _portal(client: Client, kind: str) -> tuple[float, int, float]:
    """The export through the portal, read to the end (chunks counted and dropped); returns (seconds, bytes,
    seconds the asking request took). XLSX is a background job: asked for, run here as a worker would, then
    downloaded."""
    from privacy.models import ExportJob
    from privacy.services import export_job_run
    from privacy.tasks import run_export_job

    started = time.perf_counter()
    if kind == "csv":
        response = client.get(reverse("approved-export", args=[kind]), secure=True)
        asked = time.perf_counter() - started
    else:
        _drop_jobs()  # no pending job to hand back
        # The task is not sent to a broker (a worker there would write the same file at the same time): it is
        # run here, as the worker would run it.
        with mock.patch.object(run_export_job, "delay") as queued:
            asked_response = client.post(reverse("approved-export", args=[kind]), secure=True)
        asked = time.perf_counter() - started
        assert asked_response.status_code == 302, asked_response.status_code  # noqa: S101
        job = ExportJob.objects.filter(user__username="bench-exports").latest("pk")
        queued.assert_called_once_with(job.pk)
        export_job_run(job.pk)
        response = client.get(reverse("export-job-download", args=[job.pk]), secure=True)
    assert response.status_code == 200, response.status_code  # noqa: S101 - a broken run must stop
    size = sum(len(chunk) for chunk in response.streaming_content)
    response.close()
    elapsed = time.perf_counter() - started
    if kind != "csv":
        _drop_jobs()
    return elapsed, size, asked


def _drop_jobs() -> None:
    """The bench user's export jobs and their files."""
    from django.conf import settings

    from privacy.models import ExportJob

    jobs = ExportJob.objects.filter(user__username="bench-exports")
    for name in jobs.exclude(file="").values_list("file", flat=True):
        (Path(str(settings.MEDIA_ROOT)) / name).unlink(missing_ok=True)
    jobs.delete()


def _peak_mb(user, kind: str, *, villages: list[str] | None = None) -> float:
    """The heap's peak while the export's rows are read and written (tracemalloc; not timed)."""
    from dtsen_portal.spreadsheets import csv_chunks, xlsx_file

    entries = selectors.approved_entries(user=user)
    if villages is not None:
        entries = entries.filter(round__village_id__in=villages)
    tracemalloc.start()
    try:
        headers, rows = entry_sheet(entries)
        if kind == "csv":
            for _chunk in csv_chunks(headers, rows):
                pass
        else:
            file, _n = xlsx_file(headers, rows)
            file.close()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run() -> list[Figure]:
    user = _user()
    client = Client(HTTP_HOST="localhost")  # a host the settings allow, outside the test runner
    client.force_login(user)
    rows = _queryset(user).count()
    print(f"exports: approved list of {rows:,} rows", flush=True)
    figures = []
    villages = sorted(set(_queryset(user).values_list("round__village_id", flat=True).distinct()))
    quarter = villages[: max(1, len(villages) // 4)]
    for kind, baseline in (("csv", _baseline_csv), ("xlsx", _baseline_xlsx)):
        portal_times, baseline_times, asked_times, size = [], [], [], 0
        for attempt in range(REPEATS):
            seconds, written = baseline(user)
            assert written == rows, (written, rows)  # noqa: S101
            baseline_times.append(seconds)
            seconds, size, asked = _portal(client, kind)
            portal_times.append(seconds)
            asked_times.append(asked)
            print(f"exports: {kind} pass {attempt + 1}: portal {seconds:.1f}s, baseline {baseline_times[-1]:.1f}s, "
                  f"{size / 2**20:.0f} MB", flush=True)
        name = "csv module" if kind == "csv" else "xlsxwriter constant_memory"
        figures.append(at_least_ratio_of_time(
            f"approved list export {kind.upper()}, {rows:,} rows ({size / 2**20:.0f} MB), through the "
            + ("view" if kind == "csv" else "background job and its download"),
            min(portal_times), min(baseline_times), 0.5, baseline_label=name))
        if kind == "xlsx":
            # The web request only queues the job: it must answer well within gunicorn's 30 s worker timeout.
            figures.append(below("approved list export XLSX, the request that asks for it (job queued)",
                                 max(asked_times), 1.0, unit="s"))
        print(f"exports: {kind} memory ...", flush=True)
        small, full = _peak_mb(user, kind, villages=quarter), _peak_mb(user, kind)
        figures.append(below(f"approved list export {kind.upper()}, peak heap (tracemalloc) for all {len(villages)} "
                             f"villages; baseline: a quarter of them", full, MEMORY_LIMIT_MB, unit="MB",
                             baseline=small, baseline_label="quarter"))
    return figures
