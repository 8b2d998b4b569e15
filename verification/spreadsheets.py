"""Spreadsheets of a round: export of families and decisions (streamed, see ``entry_sheet``), and the
import of decisions filled in offline, checked row by row before anything is saved."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from dtsen_portal.spreadsheets import STREAM_CHUNK_ROWS, read_upload
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


# The columns of a round's sheet and of the approved list, with the field each is read from. The headers are
# the column names the import reads back (``IMPORT_COLUMNS``), so they are the same in every language.
EXPORT_COLUMNS = (
    ("desa", "round__village__name"), ("nomor_kk", "family__kk_number"), ("kepala_keluarga", "head_name"),
    ("dusun", "family__dusun"), ("rt", "family__rt"), ("rw", "family__rw"), ("desil", "family__desil"),
    ("keputusan", "decision"), ("alasan", "reason"), ("catatan", "note"), ("usulan", "is_proposal"),
    ("ditandai_cek_lapangan", "flagged"),
    # The decision's version when the sheet was made: an import refuses a row changed in the portal since.
    ("versi", "version"),
)


def entry_sheet(entries) -> tuple[list[str], Iterator[tuple]]:
    """The headers and rows of a sheet of round entries (one row per family: who they are and what the village
    decided), read through a server-side cursor in chunks so an export of a whole regency keeps memory flat.

    ``entries`` is a RoundFamily queryset annotated with ``head_name`` (the selectors' round and approved
    lists). No NIK is exported: exports show many people at once (``privacy.masking``). The words for the
    decision, the reason and "yes" are translated once, here, in the language of the request."""
    decisions = {value: str(label) for value, label in RoundFamily.Decision.choices}
    reasons = {value: str(label) for value, label in RoundFamily.Reason.choices}
    yes = _("yes")
    fields = [f for _header, f in EXPORT_COLUMNS]
    values = entries.values_list(*fields).iterator(chunk_size=STREAM_CHUNK_ROWS)

    def rows():
        for village, kk, head, dusun, rt, rw, desil, decision, reason, note, proposal, flagged, version in values:
            yield (village, kk, head, dusun, rt, rw, desil, decisions.get(decision, decision),
                   reasons.get(reason, reason), note, yes if proposal else "", yes if flagged else "", version)

    return [header for header, _f in EXPORT_COLUMNS], rows()


@dataclass
class ImportRow:
    line: int
    kk_number: str
    decision: str = ""
    reason: str = ""
    note: str = ""
    version: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def decision_label(self) -> str:
        """The decision as the page shows it (the code only if it is none of the decisions)."""
        return str(dict(RoundFamily.Decision.choices).get(self.decision, self.decision))

    @property
    def reason_label(self) -> str:
        return str(dict(RoundFamily.Reason.choices).get(self.reason, self.reason))


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


def only_changes(rows: list[ImportRow], *, current: dict[str, tuple]) -> tuple[list[ImportRow], int]:
    """The rows that change something (or carry an error), and how many were left out as the round already
    has them (``current``: KK number -> (decision, reason, note)). A sheet exported, partly edited and sent
    back would otherwise re-decide, and re-audit, every family it holds."""
    changing = [r for r in rows if r.errors or (r.decision, r.reason, r.note) != current.get(r.kk_number)]
    return changing, len(rows) - len(changing)


def approved_sheet(user) -> tuple[int, list[str], Iterator[tuple]]:
    """The approved list of ``user``'s area as (row count, headers, rows), for an export written in the
    background (``privacy.services.BACKGROUND_EXPORTS``)."""
    from .selectors import approved_entries

    entries = approved_entries(user=user)
    return (entries.count(), *entry_sheet(entries))
