"""Spreadsheet downloads: one response shape for every export (Excel or CSV)."""
from django.http import Http404, HttpResponse

SPREADSHEET_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     "csv": "text/csv; charset=utf-8"}


def spreadsheet_response(dataset, name: str, kind: str) -> HttpResponse:
    """A tablib dataset as a download; an unknown format answers 404."""
    if kind not in SPREADSHEET_TYPES:
        raise Http404
    response = HttpResponse(dataset.export(kind), content_type=SPREADSHEET_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response
