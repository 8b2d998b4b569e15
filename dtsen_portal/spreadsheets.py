"""Spreadsheets: one response shape for every export, one reader for every upload (Excel or CSV)."""
from collections.abc import Iterator

import tablib
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _

SPREADSHEET_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     "csv": "text/csv; charset=utf-8"}


# A cell starting with one of these is run as a formula by Excel/LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A text cell that a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_response(dataset, name: str, kind: str) -> HttpResponse:
    """A tablib dataset as a download; an unknown format answers 404."""
    if kind not in SPREADSHEET_TYPES:
        raise Http404
    response = HttpResponse(dataset.export(kind), content_type=SPREADSHEET_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


def read_upload(content: bytes, filename: str, *, required: list[str], expected: list[str]
                ) -> tuple[Iterator[tuple[int, dict[str, str]]], str]:
    """Open an uploaded .xlsx or .csv whose first row names its columns.

    Returns (rows, file-level error): rows yield (spreadsheet line, {column: stripped text}) for every line,
    empty ones included, so each import checks its own rows; the error names what is wrong with the file.
    """
    kind = "xlsx" if filename.lower().endswith(".xlsx") else "csv" if filename.lower().endswith(".csv") else ""
    if not kind:
        return iter(()), _("Upload an .xlsx or .csv file.")
    try:
        dataset = tablib.Dataset().load(content if kind == "xlsx" else content.decode("utf-8-sig"), format=kind)
    except Exception:  # noqa: BLE001 - tablib raises many kinds of errors for a damaged file
        return iter(()), _("The file cannot be read as %(kind)s.") % {"kind": kind.upper()}
    headers = [str(h or "").strip().lower() for h in (dataset.headers or [])]
    missing = [c for c in required if c not in headers]
    if missing:
        return iter(()), _("Missing columns: %(missing)s. The first row must hold the column names "
                           "%(expected)s.") % {"missing": ", ".join(missing), "expected": ", ".join(expected)}

    def rows():
        for line, values in enumerate(dataset, start=2):
            yield line, {h: ("" if values[i] is None else str(values[i]).strip()) for i, h in enumerate(headers)
                         if i < len(values)}

    return rows(), ""
