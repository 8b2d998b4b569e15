"""Recording access to personal data: one row per request, whatever the number of people it showed.

Views call ``record_view`` when they show someone's whole NIK (see ``privacy.masking``) and ``record_export``
when they hand out a file of personal data; both write one ``PersonalDataAccess`` through ``record_access``.
An export too large to write within a web request runs as an ``ExportJob`` (``export_job_start``,
``export_job_run``), recorded the same way.
"""
from __future__ import annotations

import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from dtsen_portal.client_address import client_ip
from dtsen_portal.db_routers import replica_reads
from dtsen_portal.spreadsheets import (
    SPREADSHEET_TYPES,
    spreadsheet_response,
    streamed_spreadsheet_response,
    write_xlsx,
)

from .masking import mask_numbers_in_text
from .models import ExportJob, PersonalDataAccess

logger = logging.getLogger(__name__)

# Query parameters that say nothing about what was exported.
_IGNORED_FILTERS = {"page", "csrfmiddlewaretoken", "format"}
MAX_FILTERS, MAX_FILTER_CHARS = 20, 200


def _filters(filters: dict | None) -> dict:
    # A KK or NIK typed into a search stays out of the record in full: the record is read by others.
    clean = {}
    for key, value in list((filters or {}).items())[:MAX_FILTERS]:
        if key in _IGNORED_FILTERS or value in ("", None):
            continue
        clean[str(key)[:50]] = mask_numbers_in_text(str(value)[:MAX_FILTER_CHARS])
    return clean


def record_access(*, actor, ip: str | None, kind: str, area_code: str | None, object_type: str = "",
                  object_id: str | int = "", export_name: str = "", filters: dict | None = None,
                  row_count: int = 0) -> PersonalDataAccess:
    """Record that ``actor`` read personal data: ``kind`` is view_nik (whole NIKs of ``row_count`` people of
    ``object_type``/``object_id``) or export (``row_count`` rows of ``export_name`` with ``filters``);
    ``area_code`` is the region the data belongs to."""
    return PersonalDataAccess.objects.create(
        user=actor, username=actor.get_username(), role=getattr(actor, "role", ""), kind=kind,
        object_type=object_type, object_id=str(object_id), export_name=export_name[:100],
        filters=_filters(filters), row_count=max(0, int(row_count)), area_id=area_code or None, ip=ip or None)


def record_view(request, *, object_type: str, object_id, area_code: str | None, people: int) -> PersonalDataAccess:
    """The request showed the whole NIK of ``people`` persons of one object."""
    return record_access(actor=request.user, ip=client_ip(request), kind=PersonalDataAccess.Kind.VIEW_NIK,
                         area_code=area_code, object_type=object_type, object_id=object_id, row_count=people)


def export_response(request, dataset, name: str, kind: str, *, area_code: str | None, filters: dict | None = None):
    """A spreadsheet of personal data as a download, its export recorded (``record_export``)."""
    record_export(request, export_name=f"{name}.{kind}", area_code=area_code, rows=dataset.height, filters=filters)
    return spreadsheet_response(dataset, name, kind)


def streamed_export_response(request, headers, rows, name: str, kind: str, *, area_code: str | None,
                             filters: dict | None = None):
    """A large spreadsheet of personal data as a download with flat memory
    (``dtsen_portal.spreadsheets.streamed_spreadsheet_response``), its export recorded.

    The record is written before the first row goes out, so an export cut short is recorded too; its row
    count is set once the rows are written (for CSV, when the stream ends: the rows actually handed out)."""
    if kind not in SPREADSHEET_TYPES:
        raise Http404
    access = record_export(request, export_name=f"{name}.{kind}", area_code=area_code, rows=0, filters=filters)

    def count(rows_written: int) -> None:
        PersonalDataAccess.objects.filter(pk=access.pk).update(row_count=rows_written)

    return streamed_spreadsheet_response(headers, rows, name, kind, on_finish=count)


def record_export(request, *, export_name: str, area_code: str | None, rows: int,
                  filters: dict | None = None) -> PersonalDataAccess:
    """The request handed out ``rows`` rows of personal data as ``export_name``; the query string is kept
    as the filters unless ``filters`` names them."""
    return record_access(actor=request.user, ip=client_ip(request), kind=PersonalDataAccess.Kind.EXPORT,
                         area_code=area_code, export_name=export_name, row_count=rows,
                         filters=request.GET.dict() if filters is None else filters)


# -- exports written in the background -------------------------------------------------------------------------

# Exports a worker may write, by name: a dotted path to ``f(user, **job filters) -> (row count, headers, rows)``
# whose rows are
# read with the user's area scope applied. Only formats that cannot be streamed go to a worker (CSV streams).
BACKGROUND_EXPORTS = {"daftar-disetujui": "verification.spreadsheets.approved_sheet",
                      "daftar-kpm": "distribution.spreadsheets.kpm_sheet"}
BACKGROUND_KINDS = frozenset({"xlsx"})
# Above this many rows an Excel export is not written in the request: about 3 s of work here; the approved
# list of a regency (~300,000 rows) takes 30-60 s, past the web worker's timeout.
BACKGROUND_EXPORT_ROWS = 20_000
EXPORT_JOB_KEEP = timedelta(days=1)
# A job still queued or running after this long is taken for lost (its worker died and the task was not
# redelivered): asking again starts a new one.
EXPORT_JOB_STALE = timedelta(hours=1)
EXPORTS_DIR = "exports"


def export_job_start(request, *, name: str, kind: str, area_code: str | None,
                     filters: dict | None = None) -> ExportJob:
    """Queue the export ``name``.``kind`` of the request's user (recorded now, its row count set once written)
    and return its job; a job of the same export still queued or running is returned instead of a second one.
    An export or format that is not written in the background answers 404."""
    if name not in BACKGROUND_EXPORTS or kind not in BACKGROUND_KINDS:
        raise Http404
    export_jobs_sweep()
    filters = filters or {}
    pending = ExportJob.objects.filter(user=request.user, name=name, kind=kind, filters=filters,
                                       state__in=[ExportJob.State.QUEUED, ExportJob.State.RUNNING],
                                       created_at__gte=timezone.now() - EXPORT_JOB_STALE).first()
    if pending is not None:
        return pending
    access = record_export(request, export_name=f"{name}.{kind}", area_code=area_code, rows=0, filters=filters)
    job = ExportJob.objects.create(user=request.user, name=name, kind=kind, area_id=area_code or None,
                                   filters=filters, language=translation.get_language() or "", access=access)
    transaction.on_commit(lambda: _send_export_job(job.pk))
    return job


def _send_export_job(job_id: int) -> None:
    from dtsen_portal.queue import enqueue

    from .tasks import run_export_job

    if not enqueue(run_export_job, job_id):  # the page says the export failed; asking again sends a new one
        ExportJob.objects.filter(pk=job_id).update(state=ExportJob.State.FAILED, finished_at=timezone.now(),
                                                   error="QueueUnavailable")


def export_job_run(job_id: int) -> None:
    """Write the job's file from a server-side cursor (memory flat), updating its progress as rows are written.

    Run again after a worker died (the task is acknowledged late), it starts over; a finished job is left as
    it is. A failure is kept on the job (the user sees it), not raised: the page must answer either way."""
    job = ExportJob.objects.select_related("user").filter(pk=job_id).first()
    if job is None or job.state == ExportJob.State.DONE:
        return
    ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.RUNNING, rows_done=0)
    relative = f"{EXPORTS_DIR}/{uuid.uuid4().hex}.{job.kind}"
    path = Path(str(settings.MEDIA_ROOT)) / relative
    part = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with translation.override(job.language or settings.LANGUAGE_CODE), replica_reads():
            total, headers, rows = import_string(BACKGROUND_EXPORTS[job.name])(job.user, **job.filters)
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
            written = write_xlsx(str(part), headers, rows, on_progress=lambda n: ExportJob.objects.filter(
                pk=job.pk).update(rows_done=n))
        os.replace(part, path)
    except Exception as exc:  # noqa: BLE001 - whatever failed, the job says so
        logger.exception("export job %s failed", job.pk)
        part.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.FAILED, finished_at=timezone.now(),
                                                   error=type(exc).__name__[:200])
        return
    ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.DONE, rows_done=written, file=relative,
                                               finished_at=timezone.now())
    if job.access_id:
        PersonalDataAccess.objects.filter(pk=job.access_id).update(row_count=written)


def export_jobs_sweep(*, older_than: timedelta = EXPORT_JOB_KEEP) -> int:
    """Remove export jobs created more than ``older_than`` ago and their files, and any other file as old in the
    exports folder (left by a killed worker or a deleted user); returns how many jobs. The files hold personal
    data: they are not kept once the user has had a day to fetch them."""
    cutoff = timezone.now() - older_than
    old = list(ExportJob.objects.filter(created_at__lt=cutoff).values_list("pk", "file"))
    root = Path(str(settings.MEDIA_ROOT))
    for _pk, name in old:
        if name:
            (root / name).unlink(missing_ok=True)
    for left in (root / EXPORTS_DIR).glob("*"):
        if left.is_file() and left.stat().st_mtime < cutoff.timestamp():
            left.unlink(missing_ok=True)
    ExportJob.objects.filter(pk__in=[pk for pk, _name in old]).delete()
    return len(old)
