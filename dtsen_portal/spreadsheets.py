"""Spreadsheets: one response shape for every export, one reader for every upload (Excel or CSV).

Every export goes through ``neutralise_cell`` at write time (``spreadsheet_response`` for the pages,
``SafeExportResource`` for django-import-export and the admin), so a name typed as ``=HYPERLINK(...)`` stays
text in Excel. Large exports (a regency's approved list: hundreds of thousands of rows) go through
``streamed_spreadsheet_response``: rows are read from a server-side cursor and written as they come, CSV
streamed to the client and XLSX written by xlsxwriter in constant-memory mode to a temporary file, so memory
stays flat whatever the number of rows. Every upload is measured before it is parsed (``read_upload``): its
bytes, and for .xlsx the declared size of the sheet and the unpacked size of the zip, so a small file cannot
ask for millions of rows.
"""
import csv
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence

import openpyxl
import tablib
import xlsxwriter
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from import_export import resources

SPREADSHEET_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     "csv": "text/csv; charset=utf-8"}


class SpreadsheetKindConverter:
    """``<sheet:kind>`` in a URL: only a format we write matches, so any other answers 404 before a view builds
    an export it could not send."""

    regex = "|".join(SPREADSHEET_TYPES)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# A cell starting with one of these is run as a formula by Excel/LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A text cell that a spreadsheet would run as a formula, prefixed with ' so it stays text.

    Only strings: a negative number is a number, and a cell holding one stays a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    """A copy of the dataset with every header and cell neutralised (idempotent: ' does not start a formula)."""
    safe = tablib.Dataset(title=dataset.title)
    if dataset.headers:
        safe.headers = [neutralise_cell(header) for header in dataset.headers]
    for row in dataset:
        safe.append([neutralise_cell(value) for value in row])
    return safe


class SafeExportResource(resources.ModelResource):
    """A django-import-export resource whose exported cells are neutralised (the admin's export included).

    django-import-export's own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops a leading "=" and turns
    every cell, numbers too, into text; this keeps the value readable and numbers numeric.
    """

    def export_resource(self, instance, selected_fields=None, **kwargs):
        return [neutralise_cell(value) for value in super().export_resource(instance, selected_fields, **kwargs)]


def spreadsheet_response(dataset, name: str, kind: str) -> HttpResponse:
    """A tablib dataset as a download, its cells neutralised; an unknown format answers 404."""
    if kind not in SPREADSHEET_TYPES:
        raise Http404
    response = HttpResponse(neutralise_dataset(dataset).export(kind), content_type=SPREADSHEET_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


# -- streamed exports ------------------------------------------------------------------------------------------

# Rows fetched per round trip of a server-side cursor, and bytes of CSV gathered before a chunk is sent: large
# enough that the per-chunk costs vanish, small enough that memory does not grow with the export.
STREAM_CHUNK_ROWS = 2000
STREAM_CHUNK_BYTES = 64 * 1024


def neutralised_rows(rows: Iterable[Sequence]) -> Iterator[list]:
    """Each row with its formula-like text cells neutralised (``neutralise_cell``, inlined: this runs for every
    cell of exports of millions of cells)."""
    starts = FORMULA_STARTS
    for row in rows:
        yield [("'" + v) if v.__class__ is str and v.startswith(starts) else v for v in row]


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence],
               on_finish: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The CSV (UTF-8, header first) of ``rows`` as chunks of about ``STREAM_CHUNK_BYTES``; cells neutralised.

    ``on_finish(rows_written)`` runs when the stream ends, also when the client goes away before the end (the
    generator is then closed), with the rows handed out so far."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise_cell(h) for h in headers])
    written = 0
    try:
        for row in neutralised_rows(rows):
            writer.writerow(row)
            written += 1
            if buffer.tell() >= STREAM_CHUNK_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
    finally:
        if on_finish is not None:
            on_finish(written)


def write_xlsx(file, headers: Sequence[str], rows: Iterable[Sequence],
               on_progress: Callable[[int], None] | None = None, every: int = 10 * STREAM_CHUNK_ROWS) -> int:
    """Write the XLSX of ``rows`` (header first, cells neutralised) to ``file`` (a path or a binary file) and
    return the number of rows written; ``on_progress(rows_written)`` runs every ``every`` rows.

    xlsxwriter's constant-memory mode flushes each row to disk once the next one starts, so memory does not
    grow with the sheet. Text is written as text: no string is read as a formula, a URL or a number."""
    book = xlsxwriter.Workbook(file, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, [neutralise_cell(h) for h in headers])
    written = 0
    for written, row in enumerate(neutralised_rows(rows), start=1):
        sheet.write_row(written, 0, row)
        if on_progress is not None and written % every == 0:
            on_progress(written)
    book.close()
    return written


def xlsx_file(headers: Sequence[str], rows: Iterable[Sequence]):
    """The XLSX of ``rows`` (``write_xlsx``) in an anonymous temporary file, rewound, and the number of rows
    written."""
    file = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes (and so deletes) it
    written = write_xlsx(file, headers, rows)
    file.seek(0)
    return file, written


def streamed_spreadsheet_response(headers: Sequence[str], rows: Iterable[Sequence], name: str, kind: str, *,
                                  on_finish: Callable[[int], None] | None = None):
    """A large export as a download with flat memory: CSV streamed while ``rows`` are read, XLSX written to a
    temporary file and then streamed from it. ``rows`` should come from a server-side cursor (a queryset's
    ``values_list(...).iterator(chunk_size=STREAM_CHUNK_ROWS)``). ``on_finish(rows_written)`` runs once the
    rows are written (for CSV, when the stream ends). An unknown format answers 404."""
    if kind not in SPREADSHEET_TYPES:
        raise Http404
    filename = f"{name}.{kind}"
    if kind == "csv":
        response = StreamingHttpResponse(csv_chunks(headers, rows, on_finish), content_type=SPREADSHEET_TYPES[kind])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    file, written = xlsx_file(headers, rows)
    if on_finish is not None:
        on_finish(written)
    return FileResponse(file, as_attachment=True, filename=filename, content_type=SPREADSHEET_TYPES[kind])


# What one upload may cost. A decision or payment sheet of a whole regency has a few thousand rows and a dozen
# columns; the unpacked limit stops a "zip bomb" (a 361 KB .xlsx declaring a million rows took 133 s and
# 2.4 GB before these checks).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 60
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_ZIP_MEMBERS = 200


class UploadRefused(Exception):
    """The upload is not read: its message (translated) says why."""


def _too_many_rows() -> UploadRefused:
    return UploadRefused(_("The file has more than %(rows)s rows; split it into smaller files.")
                         % {"rows": f"{MAX_ROWS:,}".replace(",", ".")})


def _too_many_columns() -> UploadRefused:
    return UploadRefused(_("The file has more than %(columns)d columns.") % {"columns": MAX_COLUMNS})


def _trimmed(row) -> list:
    # Formatting can reach far to the right of the data: only the cells up to the last filled one count.
    values = list(row)
    while values and values[-1] in (None, ""):
        values.pop()
    if len(values) > MAX_COLUMNS:
        raise _too_many_columns()
    return values


def _xlsx_rows(content: bytes) -> list[list]:
    """The first sheet's rows, after checking what the archive and the sheet declare (nothing is unpacked
    or parsed beyond the limits)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UploadRefused(_("The file cannot be read as %(kind)s.") % {"kind": "XLSX"}) from None
    # The sizes come from the archive's directory; zipfile stops a member that unpacks to more than its
    # declared size (and its checksum fails), so the declared total bounds the work.
    if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise UploadRefused(_("The file unpacks to more than %(mb)d MB; split it into smaller files.")
                            % {"mb": MAX_UNPACKED_BYTES // (1024 * 1024)})
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds of errors for a damaged file
        raise UploadRefused(_("The file cannot be read as %(kind)s.") % {"kind": "XLSX"}) from None
    try:
        sheet = book.active
        # The sheet's declared dimension (<dimension ref="A1:Z1000000"/>) is read without reading its rows.
        if (sheet.max_row or 0) > MAX_ROWS + 1:
            raise _too_many_rows()
        if (sheet.max_column or 0) > MAX_COLUMNS:
            raise _too_many_columns()
        rows = []
        # A sheet may leave out or understate its dimension (openpyxl would then stop at the declared last
        # row and drop the rest unseen), so every row is read and counted.
        sheet.reset_dimensions()
        for row in sheet.iter_rows(values_only=True):
            if len(rows) > MAX_ROWS:
                raise _too_many_rows()
            rows.append(_trimmed(row))
        return rows
    except UploadRefused:
        raise
    except Exception:  # noqa: BLE001 - a damaged sheet fails while its rows are read
        raise UploadRefused(_("The file cannot be read as %(kind)s.") % {"kind": "XLSX"}) from None
    finally:
        book.close()


def _csv_rows(content: bytes) -> list[list]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRefused(_("The file cannot be read as %(kind)s.") % {"kind": "CSV"}) from None
    rows = []
    try:
        # csv limits one cell to 128 KB and raises csv.Error beyond it.
        for row in csv.reader(io.StringIO(text, newline="")):
            if len(rows) > MAX_ROWS:
                raise _too_many_rows()
            rows.append(_trimmed(row))
    except csv.Error:
        raise UploadRefused(_("The file cannot be read as %(kind)s.") % {"kind": "CSV"}) from None
    return rows


def read_upload(content: bytes, filename: str, *, required: list[str], expected: list[str]
                ) -> tuple[Iterator[tuple[int, dict[str, str]]], str]:
    """Open an uploaded .xlsx or .csv whose first row names its columns.

    Returns (rows, file-level error): rows yield (spreadsheet line, {column: stripped text}) for every line,
    empty ones included, so each import checks its own rows; the error names what is wrong with the file.
    The file's size, rows and columns are checked before (for .xlsx) or while (for .csv) it is read, and
    reading stops at the first limit crossed.
    """
    kind = "xlsx" if filename.lower().endswith(".xlsx") else "csv" if filename.lower().endswith(".csv") else ""
    if not kind:
        return iter(()), _("Upload an .xlsx or .csv file.")
    if len(content) > MAX_UPLOAD_BYTES:
        return iter(()), _("The file is larger than %(mb)d MB.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
    try:
        table = _xlsx_rows(content) if kind == "xlsx" else _csv_rows(content)
    except UploadRefused as exc:
        return iter(()), str(exc)
    headers = [str(h or "").strip().lower() for h in (table[0] if table else [])]
    missing = [c for c in required if c not in headers]
    if missing:
        return iter(()), _("Missing columns: %(missing)s. The first row must hold the column names "
                           "%(expected)s.") % {"missing": ", ".join(missing), "expected": ", ".join(expected)}

    def rows():
        for line, values in enumerate(table[1:], start=2):
            yield line, {h: ("" if values[i] is None else str(values[i]).strip()) for i, h in enumerate(headers)
                         if i < len(values)}

    return rows(), ""
