"""Recording access to personal data: one row per request, whatever the number of people it showed.

Views call ``record_view`` when they show someone's whole NIK (see ``privacy.masking``) and ``record_export``
when they hand out a file of personal data; both write one ``PersonalDataAccess`` through ``record_access``.
"""
from __future__ import annotations

from django.http import Http404

from dtsen_portal.client_address import client_ip
from dtsen_portal.spreadsheets import SPREADSHEET_TYPES, spreadsheet_response, streamed_spreadsheet_response

from .masking import mask_numbers_in_text
from .models import PersonalDataAccess

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
