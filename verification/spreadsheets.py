"""Spreadsheets of a round: export of families and decisions (django-import-export resources), and the
import of decisions filled in offline, checked row by row before anything is saved."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from import_export import fields

from dtsen_portal.spreadsheets import SafeExportResource, read_upload
from registry.validators import ascii_int

from .models import NOTE_MAX_LENGTH, RoundFamily

DECISION_WORDS = {
    "layak": RoundFamily.Decision.ELIGIBLE, "eligible": RoundFamily.Decision.ELIGIBLE,
    "tidak layak": RoundFamily.Decision.NOT_ELIGIBLE, "tidak_layak": RoundFamily.Decision.NOT_ELIGIBLE,
    "not_eligible": RoundFamily.Decision.NOT_ELIGIBLE,
    "data dikoreksi": RoundFamily.Decision.CORRECTED, "data diperbaiki": RoundFamily.Decision.CORRECTED,
    "corrected": RoundFamily.Decision.CORRECTED,
}
REASON_WORDS = {
    "mampu": "well_off", "well_off": "well_off", "meninggal": "deceased", "deceased": "deceased",
    "pindah": "moved", "moved": "moved", "tidak ditemukan": "not_found", "not_found": "not_found",
    "ganda": "duplicate", "duplikat": "duplicate", "duplicate": "duplicate",
}
IMPORT_COLUMNS = ("nomor_kk", "keputusan", "alasan", "catatan", "versi")
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class RoundEntryResource(SafeExportResource):
    """One row per family of the round: who they are and what the village decided."""

    desa = fields.Field(attribute="round__village__name", column_name="desa")
    nomor_kk = fields.Field(attribute="family__kk_number", column_name="nomor_kk")
    kepala_keluarga = fields.Field(attribute="head_name", column_name="kepala_keluarga")
    dusun = fields.Field(attribute="family__dusun", column_name="dusun")
    rt = fields.Field(attribute="family__rt", column_name="rt")
    rw = fields.Field(attribute="family__rw", column_name="rw")
    desil = fields.Field(attribute="family__desil", column_name="desil")
    keputusan = fields.Field(column_name="keputusan")
    alasan = fields.Field(column_name="alasan")
    catatan = fields.Field(attribute="note", column_name="catatan")
    usulan = fields.Field(column_name="usulan")
    ditandai_cek_lapangan = fields.Field(column_name="ditandai_cek_lapangan")
    # The decision's version when the sheet was made: an import refuses a row changed in the portal since.
    versi = fields.Field(attribute="version", column_name="versi")

    class Meta:
        model = RoundFamily
        fields = ("desa", "nomor_kk", "kepala_keluarga", "dusun", "rt", "rw", "desil", "keputusan", "alasan", "catatan",
                  "usulan", "ditandai_cek_lapangan", "versi")
        export_order = fields

    def dehydrate_keputusan(self, entry):
        return str(entry.get_decision_display()) if entry.decision else ""

    def dehydrate_alasan(self, entry):
        return str(entry.get_reason_display()) if entry.reason else ""

    def dehydrate_usulan(self, entry):
        return _("yes") if entry.is_proposal else ""

    def dehydrate_ditandai_cek_lapangan(self, entry):
        return _("yes") if entry.flagged else ""


@dataclass
class ImportRow:
    line: int
    kk_number: str
    decision: str = ""
    reason: str = ""
    note: str = ""
    version: int | None = None
    errors: list[str] = field(default_factory=list)


def read_decisions(content: bytes, filename: str, *, known_kk: dict[str, int]) -> tuple[list[ImportRow], str]:
    """Parse an uploaded .xlsx or .csv of decisions. Returns (rows, file-level error); each row carries its
    own errors, so the page can show every problem before anything is saved.

    ``known_kk`` maps the round's KK numbers to their decision's current version: a row whose ``versi`` is
    older was exported before someone changed that family in the portal, and is refused (a sheet without
    the column, typed by hand, carries no version and is not checked)."""
    if len(content) > MAX_IMPORT_BYTES:
        return [], _("The file is larger than 5 MB.")
    lines, error = read_upload(content, filename, required=IMPORT_COLUMNS[:2], expected=IMPORT_COLUMNS)
    if error:
        return [], error
    rows, seen = [], set()
    for line, cells in lines:
        if not any(cells.get(c) for c in IMPORT_COLUMNS):
            continue  # an empty line
        row = ImportRow(line=line, kk_number=cells.get("nomor_kk", "").removesuffix(".0"),
                        note=cells.get("catatan", ""))
        if row.kk_number not in known_kk:
            row.errors.append(_("KK number %(kk)s is not in this round.") % {"kk": row.kk_number or "-"})
        elif row.kk_number in seen:
            row.errors.append(_("KK number %(kk)s appears twice in the file.") % {"kk": row.kk_number})
        seen.add(row.kk_number)
        version = cells.get("versi", "").removesuffix(".0")
        if version:
            # str.isdigit() takes superscript and other scripts' digits that int() then refuses.
            row.version = ascii_int(version, max_digits=9)
            current = known_kk.get(row.kk_number)
            if row.version is None:
                row.errors.append(_("Version %(value)s is not a number.") % {"value": version})
            elif current is not None and row.version < current:
                row.errors.append(_("KK number %(kk)s was changed in the portal after this sheet was exported "
                                    "(sheet version %(sheet)d, now %(current)d); export the sheet again so the "
                                    "newer decision is not overwritten.")
                                  % {"kk": row.kk_number, "sheet": row.version, "current": current})
        row.decision = DECISION_WORDS.get(cells.get("keputusan", "").lower(), "")
        if not row.decision:
            row.errors.append(_("Decision %(value)s is not one of: layak, tidak layak, data dikoreksi.")
                              % {"value": cells.get("keputusan", "") or "-"})
        reason = cells.get("alasan", "").lower()
        row.reason = REASON_WORDS.get(reason, "")
        if reason and not row.reason:
            row.errors.append(_("Reason %(value)s is not one of: mampu, meninggal, pindah, tidak ditemukan, ganda.")
                              % {"value": cells.get("alasan", "")})
        elif row.decision == RoundFamily.Decision.NOT_ELIGIBLE and not row.reason:
            row.errors.append(_("A family that is not eligible needs a reason."))
        if len(row.note) > NOTE_MAX_LENGTH:
            row.errors.append(_("The note has %(count)d characters; at most %(limit)d are allowed.")
                              % {"count": len(row.note), "limit": NOTE_MAX_LENGTH})
        rows.append(row)
    if not rows:
        return [], _("The file holds no decisions.")
    return rows, ""
