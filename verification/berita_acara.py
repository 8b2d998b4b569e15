"""Berita acara Musdesus: the minutes of the village deliberation that ratifies a verification round, as a PDF.

The document is a formal Indonesian record, so its wording is fixed Bahasa Indonesia and is not routed
through the interface translations. Everything is a pure function of a ``BeritaAcara`` value: the caller
reads the database, this module only lays out text. ``berita_acara_text`` gives the prose the PDF prints
(handy for checks and previews); ``render_berita_acara`` builds the PDF with reportlab's platypus, using
only the standard Helvetica fonts so that nothing has to be installed or downloaded.

The first page opens with the village's letterhead (kop surat): the regency's, kecamatan's and village's names
from the region table, the office's address, phone and e-mail when the village gave them, its logo at the
left, and a double rule under it.

The appendix lists every family's decision (up to a few thousand rows) on landscape pages in one table whose
header row repeats on each page.

What one render may cost is bounded before layout starts (a 2.4 MB note once took 13 minutes: reportlab
re-wraps the rest of a paragraph at every page it splits, and wraps an unbroken word character by
character): each note is cut to a length that fits on one page, words longer than a cell line are broken
once, all notes of the appendix share a budget, and the appendix stops at ``MAX_APPENDIX_ROWS`` families.
"""
from __future__ import annotations

import datetime
import io
import re
import unicodedata
from dataclasses import dataclass

# escape() only quotes user text for reportlab's paragraph markup; nothing here parses XML.
from xml.sax.saxutils import escape  # nosec B406

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    HRFlowable,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

TITLE = "BERITA ACARA MUSYAWARAH DESA KHUSUS (MUSDESUS)"
SUBTITLE = "VERIFIKASI DAN VALIDASI DATA TUNGGAL SOSIAL DAN EKONOMI NASIONAL (DTSEN)"
APPENDIX_TITLE = "Lampiran: Daftar Keputusan per Keluarga"
BLANK_SIGNATURE = "(.........................)"

# Spelled out here rather than taken from the OS locale, which servers rarely have for Indonesian.
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
         "November", "Desember")
# Indonesian time-zone names by UTC offset in hours.
ZONA_WAKTU = {7: "WIB", 8: "WITA", 9: "WIT"}

_SATUAN = ("", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan", "sepuluh",
           "sebelas")

MARGIN = 20 * mm
# A row taller than a page (a note thousands of characters long) may be cut across pages, but never into a
# sliver smaller than this many points; ordinary rows move whole to the next page.
MIN_ROW_PART = 36
CELL_PADDING = 6  # reportlab's default left and right padding in table cells, in points
FOOTER_Y = 10 * mm

# Bounds on the text one document lays out. A note of the appendix keeps its first NOTE_CHARS characters
# (about 17 lines of the "Catatan" column, so a row always fits on a page); once the notes of the appendix
# have used NOTES_BUDGET characters, the rest keep SHORT_NOTE_CHARS. The minutes' own notes keep
# MINUTES_NOTES_CHARS (the form's limit). Rows beyond MAX_APPENDIX_ROWS (larger than any village) are
# counted, not listed. Cut text ends with ELLIPSIS; the whole text stays in the portal.
NOTE_CHARS = 500
NOTES_BUDGET = 100_000
SHORT_NOTE_CHARS = 20  # with the ellipsis still one line of the column: no paragraph to wrap
MINUTES_NOTES_CHARS = 4000
MAX_APPENDIX_ROWS = 10_000
LONG_WORD_CHARS = 24  # a longer run without spaces is broken here once, not by reportlab letter by letter
ELLIPSIS = " [...]"


@dataclass(frozen=True)
class Attendee:
    name: str
    role: str
    count: int = 1


@dataclass(frozen=True)
class DecisionLine:
    kk_number: str
    head_name: str
    dusun: str
    rt: str
    rw: str
    desil: int | None
    decision: str  # already a human label in Indonesian, e.g. "Layak", "Data dikoreksi"
    reason: str  # e.g. "Mampu", "Meninggal" or ""
    note: str


@dataclass(frozen=True)
class Letterhead:
    """What the village adds to the letterhead (kop surat); the names come from the region table."""

    address: str = ""
    phone: str = ""
    email: str = ""
    logo: bytes | None = None  # a PNG or JPEG the portal rebuilt on upload (dtsen_portal.uploads.clean_logo)


@dataclass(frozen=True)
class BeritaAcara:
    village_name: str
    village_kind: str  # "Desa" / "Kelurahan"
    kecamatan_name: str
    regency_name: str  # as in the region tree, e.g. "Kabupaten Asahan" or "Kota Pematangsiantar"
    province_name: str
    batch_ref: str
    programme: str
    held_on: datetime.date
    place: str
    chair: str
    notes: str
    attendees: list[Attendee]
    decisions: list[DecisionLine]
    summary: dict[str, int]  # label -> count, in the order to print
    signed_by: str | None  # village head, once signed off; the sign-off shows only when both are set
    signed_at: datetime.datetime | None
    document_number: str
    letterhead: Letterhead = Letterhead()


# --- Indonesian wording --------------------------------------------------------------------------------

def nama_hari(day: datetime.date) -> str:
    """``2026-11-23`` -> ``Senin``."""
    return HARI[day.weekday()]


def format_tanggal(day: datetime.date) -> str:
    """``2026-11-23`` -> ``23 November 2026``."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def format_hari_tanggal(day: datetime.date) -> str:
    """``2026-11-23`` -> ``Senin, 23 November 2026``."""
    return f"{nama_hari(day)}, {format_tanggal(day)}"


def format_waktu(moment: datetime.datetime) -> str:
    """``2026-11-23 14:05 +07:00`` -> ``23 November 2026 pukul 14.05 WIB`` (Indonesian writes times with a dot).

    An aware time is shown in the site's time zone; a naive one is shown as given, without a zone name.
    """
    zone = ""
    if moment.tzinfo is not None:
        moment = timezone.localtime(moment)
        offset = moment.utcoffset() or datetime.timedelta(0)
        hours, rest = divmod(int(offset.total_seconds()), 3600)
        zone = " " + (ZONA_WAKTU.get(hours) if not rest and hours in ZONA_WAKTU else moment.strftime("UTC%z"))
    return f"{format_tanggal(moment.date())} pukul {moment:%H.%M}{zone}"


def _number(count: int) -> str:
    return f"{count:,}".replace(",", ".")  # Indonesian groups thousands with a dot: 5.000


def terbilang(number: int) -> str:
    """Number in Indonesian words, as formal documents repeat counts: ``146`` -> ``seratus empat puluh enam``."""
    if number < 0:
        return "minus " + terbilang(-number)
    if number == 0:
        return "nol"
    if number < 12:
        return _SATUAN[number]
    if number < 20:
        return f"{_SATUAN[number - 10]} belas"
    if number < 100:
        tens, rest = divmod(number, 10)
        return f"{_SATUAN[tens]} puluh {terbilang(rest) if rest else ''}".strip()
    if number < 200:
        return f"seratus {terbilang(number - 100) if number > 100 else ''}".strip()
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_SATUAN[hundreds]} ratus {terbilang(rest) if rest else ''}".strip()
    if number < 2000:
        return f"seribu {terbilang(number - 1000) if number > 1000 else ''}".strip()
    for size, word in ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"), (1000, "ribu")):
        if number >= size:
            big, rest = divmod(number, size)
            return f"{terbilang(big)} {word} {terbilang(rest) if rest else ''}".strip()
    raise AssertionError("unreachable")  # pragma: no cover


def _with_prefix(name: str, prefixes: tuple[str, ...], default: str) -> str:
    # Region names from the region tree may or may not carry their kind ("Kabupaten Asahan", "Kota ...").
    name = (name or "").strip()
    if not name:
        return ""  # an unknown level is left out rather than printed as a bare "Kecamatan"
    return name if name.lower().startswith(prefixes) else f"{default} {name}"


def letterhead_parts(*, regency_name: str, kecamatan_name: str, village_kind: str, village_name: str,
                     address: str = "", phone: str = "", email: str = "") -> tuple[list[str], list[str]]:
    """The letterhead's lines as printed, in two groups: the names (``PEMERINTAH KABUPATEN ASAHAN``,
    ``KECAMATAN MERANTI``, ``DESA MERANTI``) and the office's address and its phone and e-mail, when given."""
    regency = _with_prefix(regency_name, ("kabupaten", "kab.", "kota"), "Kabupaten")
    names = [f"PEMERINTAH {regency}" if regency else "",
             _with_prefix(kecamatan_name, ("kecamatan", "distrik"), "Kecamatan"),
             f"{village_kind} {village_name}".strip()]
    phone, email = phone.strip(), email.strip()
    contact = "   ".join(part for part in (f"Telp. {phone}" if phone else "", f"E-mail: {email}" if email else "")
                         if part)
    return [name.upper() for name in names if name], [line for line in (address.strip(), contact) if line]


def _letterhead_parts(data: BeritaAcara) -> tuple[list[str], list[str]]:
    # The field limits again, so a value from anywhere (the admin, a test) cannot stretch the header.
    return letterhead_parts(regency_name=data.regency_name, kecamatan_name=data.kecamatan_name,
                            village_kind=data.village_kind, village_name=data.village_name,
                            address=bounded(data.letterhead.address, 200), phone=data.letterhead.phone[:20],
                            email=data.letterhead.email[:120])


def _village_label(data: BeritaAcara) -> str:
    return f"{data.village_kind} {data.village_name}".strip()


def _head_title(data: BeritaAcara) -> str:
    return "Lurah" if data.village_kind.strip().lower() == "kelurahan" else "Kepala Desa"


def total_attendance(data: BeritaAcara) -> int:
    return sum(a.count for a in data.attendees)


@dataclass(frozen=True)
class _Wording:
    """The prose of the minutes, in reading order; the PDF and ``berita_acara_text`` both come from here."""

    number: str
    opening: str
    chair: str
    attendance: str
    summary_intro: str
    appendix_ref: str
    notes_heading: str
    notes: str
    closing: str
    place_date: str
    chair_title: str
    chair_name: str
    head_title: str
    head_name: str
    sign_off: str  # "" until the village head has signed


def _wording(data: BeritaAcara) -> _Wording:
    region = ", ".join(part for part in (
        _village_label(data),
        _with_prefix(data.kecamatan_name, ("kecamatan", "distrik"), "Kecamatan"),
        _with_prefix(data.regency_name, ("kabupaten", "kab.", "kota"), "Kabupaten"),
        _with_prefix(data.province_name, ("provinsi",), "Provinsi"),
    ) if part)
    programme = f" program {data.programme.strip()}" if data.programme.strip() else ""
    people = total_attendance(data)
    signed = bool(data.signed_by and data.signed_at)
    return _Wording(
        number=f"Nomor: {data.document_number}",
        opening=(
            f"Pada hari ini {nama_hari(data.held_on)}, tanggal {format_tanggal(data.held_on)}, bertempat di "
            f"{data.place.strip()}, telah dilaksanakan Musyawarah Desa Khusus (Musdesus) {region}, dalam rangka "
            f"verifikasi dan validasi Data Tunggal Sosial dan Ekonomi Nasional (DTSEN){programme} untuk batch "
            f"data {data.batch_ref}."
        ),
        chair=f"Musyawarah dipimpin oleh {data.chair.strip()} dan dihadiri oleh unsur-unsur sebagai berikut:",
        attendance=f"Jumlah peserta yang hadir sebanyak {_number(people)} ({terbilang(people)}) orang.",
        summary_intro=(
            "Setelah membahas hasil verifikasi dan validasi data keluarga, musyawarah menyepakati hasil "
            "sebagai berikut:"
        ),
        appendix_ref=(
            "Rincian keputusan untuk setiap keluarga tercantum dalam Lampiran yang merupakan bagian tidak "
            "terpisahkan dari berita acara ini."
        ),
        notes_heading="Catatan musyawarah:",
        notes=bounded(data.notes.strip(), MINUTES_NOTES_CHARS) or "Tidak ada catatan.",
        closing=(
            "Demikian berita acara ini dibuat dengan sebenar-benarnya untuk dapat dipergunakan sebagaimana "
            "mestinya."
        ),
        place_date=f"{data.village_name.strip()}, {format_tanggal(data.held_on)}",
        chair_title="Pimpinan Musdesus,",
        chair_name=f"({data.chair.strip()})" if data.chair.strip() else BLANK_SIGNATURE,
        head_title=f"{_head_title(data)} {data.village_name.strip()},",
        head_name=f"({data.signed_by.strip()})" if signed else BLANK_SIGNATURE,
        sign_off=(
            f"Disetujui secara elektronik pada {format_waktu(data.signed_at)} oleh {data.signed_by.strip()}"
            if signed else ""
        ),
    )


def berita_acara_text(data: BeritaAcara) -> str:
    """The minutes' prose as plain text, one block per paragraph or signature line, as the PDF prints it
    (the tables and the appendix are not included)."""
    w = _wording(data)
    blocks = [TITLE, SUBTITLE, w.number, w.opening, w.chair, w.attendance, w.summary_intro, w.appendix_ref,
              w.notes_heading, w.notes, w.closing, w.place_date, w.chair_title, w.chair_name, w.head_title,
              w.head_name, w.sign_off, APPENDIX_TITLE]
    return "\n\n".join(_clean(b) for b in blocks if b)


# --- PDF layout ----------------------------------------------------------------------------------------

# Control characters (other than tab and newline) are invalid in the markup reportlab parses.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _latin(char: str) -> str:
    # The standard Helvetica font only has the Windows Latin-1 characters; anything else would print as a
    # black box. Keep the base letter of accented ones ("ễ" -> "e") and mark the rest with "?".
    try:
        char.encode("cp1252")
        return char
    except UnicodeEncodeError:
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        try:
            return base.encode("cp1252").decode("cp1252") or "?"
        except UnicodeEncodeError:
            return "?"


def _clean(text) -> str:
    text = _CONTROL.sub("", "" if text is None else str(text)).replace("\r\n", "\n").replace("\r", "\n").strip()
    return text if text.isascii() else "".join(_latin(c) for c in text)


_LONG_WORD = re.compile(rf"\S{{{LONG_WORD_CHARS + 1},}}")


def bounded(text, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with ELLIPSIS when cut, its over-long words broken."""
    text = "" if text is None else str(text)
    if len(text) > limit:
        text = text[:limit].rstrip() + ELLIPSIS
    return _LONG_WORD.sub(lambda m: " ".join(m[0][i:i + LONG_WORD_CHARS]
                                             for i in range(0, len(m[0]), LONG_WORD_CHARS)), text)


def _markup(text) -> str:
    # User text goes into reportlab's mini-HTML: escape &, < and > so "Siti & Sons" or "<b>" print literally.
    return escape(_clean(text)).replace("\n", "<br/>")


def _cell(text, fits: float, style: ParagraphStyle):
    """A table cell: a plain string when the text fits on one line, else a wrapping Paragraph.

    Thousands of Paragraphs are most of the rendering time, and most names and labels fit on one line.
    """
    text = _clean(text)
    if "\n" not in text and stringWidth(text, style.fontName, style.fontSize) <= fits:
        return text
    return Paragraph(_markup(text), style)


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=10.5, leading=14, alignment=TA_JUSTIFY,
                          spaceAfter=6)
    return {
        "title": ParagraphStyle("title", parent=body, fontName="Helvetica-Bold", fontSize=12.5, leading=16,
                                alignment=TA_CENTER, spaceAfter=2),
        "number": ParagraphStyle("number", parent=body, alignment=TA_CENTER, spaceBefore=4, spaceAfter=14),
        "body": body,
        "heading": ParagraphStyle("heading", parent=body, fontName="Helvetica-Bold", spaceBefore=4, spaceAfter=3),
        "sign": ParagraphStyle("sign", parent=body, alignment=TA_CENTER, spaceAfter=0),
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, alignment=TA_CENTER,
                                spaceAfter=0),
        "kop": ParagraphStyle("kop", parent=body, fontName="Helvetica-Bold", fontSize=12.5, leading=15,
                              alignment=TA_CENTER, spaceAfter=0),
        "kop_village": ParagraphStyle("kop_village", parent=body, fontName="Helvetica-Bold", fontSize=15,
                                      leading=18, alignment=TA_CENTER, spaceAfter=0),
        "kop_detail": ParagraphStyle("kop_detail", parent=body, fontSize=9, leading=11.5, alignment=TA_CENTER,
                                     spaceAfter=0),
        "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=9.6),
        "head": ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=8, leading=9.6),
        "table": ParagraphStyle("table", fontName="Helvetica", fontSize=9.5, leading=12),
        "table_head": ParagraphStyle("table_head", fontName="Helvetica-Bold", fontSize=9.5, leading=12),
    }


_GRID = [
    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def _attendee_table(data: BeritaAcara, s, width: float) -> Table:
    p, h = s["table"], s["table_head"]
    rows = [[Paragraph("No", h), Paragraph("Nama", h), Paragraph("Unsur/Peran", h), Paragraph("Jumlah", h)]]
    rows += [[str(i), Paragraph(_markup(a.name), p), Paragraph(_markup(a.role), p), _number(a.count)]
             for i, a in enumerate(data.attendees, 1)]
    rows.append(["", Paragraph("Jumlah peserta hadir", h), "", _number(total_attendance(data))])
    table = Table(rows, colWidths=[10 * mm, width * 0.62 - 28 * mm, width * 0.38, 18 * mm], repeatRows=1,
                  splitInRow=MIN_ROW_PART)
    table.setStyle(TableStyle([*_GRID, ("FONT", (0, 0), (-1, -1), "Helvetica", 9.5),
                               ("ALIGN", (-1, 0), (-1, -1), "RIGHT"), ("SPAN", (1, -1), (2, -1)),
                               ("FONT", (-1, -1), (-1, -1), "Helvetica-Bold", 9.5)]))
    return table


def _summary_table(data: BeritaAcara, s) -> Table:
    p, h = s["table"], s["table_head"]
    rows = [[Paragraph("Uraian", h), Paragraph("Jumlah", h)]]
    rows += [[Paragraph(_markup(label), p), _number(count)] for label, count in data.summary.items()]
    table = Table(rows, colWidths=[80 * mm, 30 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([*_GRID, ("FONT", (0, 0), (-1, -1), "Helvetica", 9.5),
                               ("ALIGN", (1, 0), (1, -1), "RIGHT")]))
    return table


def _signature_block(w: _Wording, s, width: float) -> list:
    sign = s["sign"]
    left = [Paragraph(_markup(w.chair_title), sign), Spacer(1, 22 * mm), Paragraph(_markup(w.chair_name), sign)]
    right = [Paragraph(_markup(w.head_title), sign), Spacer(1, 22 * mm), Paragraph(_markup(w.head_name), sign)]
    if w.sign_off:
        right += [Spacer(1, 2 * mm), Paragraph(f"<i>{_markup(w.sign_off)}</i>", s["small"])]
    place_date = Table([["", Paragraph(_markup(w.place_date), sign)]], colWidths=[width / 2, width / 2])
    columns = Table([[left, right]], colWidths=[width / 2, width / 2])
    columns.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [place_date, Spacer(1, 2 * mm), columns]


LOGO_SIZE = 22 * mm  # the logo's box at the left of the letterhead; the same width is kept free at the right


def _logo(logo: bytes | None):
    """The logo as a flowable, or "" when there is none or it cannot be read (the letterhead reads without)."""
    if not logo:
        return ""
    try:
        ImageReader(io.BytesIO(logo)).getSize()  # read now: a failure while the PDF is built cannot be caught
    except Exception:  # noqa: BLE001 - a stored file that no longer decodes must not stop the minutes
        return ""
    return Image(io.BytesIO(logo), width=LOGO_SIZE, height=LOGO_SIZE, kind="proportional", mask="auto")


def _letterhead(data: BeritaAcara, s, width: float) -> list:
    """The kop surat: the logo at the left, the names and the office's address centred, a double rule under."""
    names, details = _letterhead_parts(data)
    text = [Paragraph(_markup(line), s["kop_village"] if i == len(names) - 1 else s["kop"])
            for i, line in enumerate(names)]
    text += [Paragraph(_markup(line), s["kop_detail"]) for line in details]
    side = LOGO_SIZE + 4 * mm
    table = Table([[_logo(data.letterhead.logo), text, ""]], colWidths=[side, width - 2 * side, side])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (0, 0), "LEFT"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [table,
            HRFlowable(width="100%", thickness=2, color=colors.black, spaceBefore=3, spaceAfter=1.2),
            HRFlowable(width="100%", thickness=0.6, color=colors.black, spaceBefore=0, spaceAfter=8 * mm)]


# Appendix columns: widths in mm on landscape A4 (257 mm between margins); the rest goes to "Catatan".
_APPENDIX_COLUMNS = (("No", 12), ("Nomor KK", 31), ("Kepala Keluarga", 51), ("Dusun", 30), ("RT/RW", 17),
                     ("Desil", 11), ("Keputusan", 28), ("Alasan", 28), ("Catatan", None))


def _appendix_table(data: BeritaAcara, s, width: float) -> Table:
    cell, head = s["cell"], s["head"]
    fixed = sum(w for _, w in _APPENDIX_COLUMNS if w) * mm
    widths = [w * mm if w else width - fixed for _, w in _APPENDIX_COLUMNS]
    rows: list[list] = [[Paragraph(name, head) for name, _ in _APPENDIX_COLUMNS]]
    fits = [w - 2 * CELL_PADDING for w in widths]
    budget = NOTES_BUDGET
    for i, d in enumerate(data.decisions[:MAX_APPENDIX_ROWS], 1):
        note = bounded(d.note, NOTE_CHARS if budget > 0 else SHORT_NOTE_CHARS)
        budget -= len(note)
        rows.append([
            str(i),
            _clean(d.kk_number),
            _cell(d.head_name, fits[2], cell),
            _cell(d.dusun, fits[3], cell),
            _cell(f"{d.rt or '-'}/{d.rw or '-'}", fits[4], cell),
            "-" if d.desil is None else str(d.desil),
            _cell(d.decision, fits[6], cell),
            _cell(d.reason, fits[7], cell),
            _cell(note, fits[8], cell),
        ])
    if len(data.decisions) > MAX_APPENDIX_ROWS:
        rest = len(data.decisions) - MAX_APPENDIX_ROWS
        rows.append(["", Paragraph(f"... dan {_number(rest)} keluarga lainnya (daftar lengkap di Portal Verval "
                                   "DTSEN).", cell)] + [""] * 7)
    if not data.decisions:
        rows.append(["", Paragraph("Tidak ada keputusan keluarga dalam putaran ini.", cell)] + [""] * 7)
    table = Table(rows, colWidths=widths, repeatRows=1, splitInRow=MIN_ROW_PART)
    table.setStyle(TableStyle([*_GRID, ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
                               ("ALIGN", (0, 1), (0, -1), "RIGHT"), ("ALIGN", (5, 1), (5, -1), "CENTER"),
                               ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f5f5")])]))
    return table


def _footer(document_number: str):
    document_number = _clean(document_number)

    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        page_width = doc.pageTemplate.pagesize[0]  # the appendix pages are landscape
        canvas.drawString(MARGIN, FOOTER_Y, f"Berita Acara Musdesus {document_number}")
        canvas.drawRightString(page_width - MARGIN, FOOTER_Y, f"Halaman {doc.page}")
        canvas.restoreState()

    return draw


def _page_template(template_id: str, pagesize, footer) -> PageTemplate:
    width, height = pagesize
    frame = Frame(MARGIN, MARGIN, width - 2 * MARGIN, height - 2 * MARGIN, id=template_id,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    return PageTemplate(id=template_id, frames=[frame], pagesize=pagesize, onPage=footer)


def render_berita_acara(data: BeritaAcara) -> bytes:
    """The signed-off (or draft) berita acara as PDF bytes: minutes on portrait A4, appendix on landscape A4."""
    s = _styles()
    w = _wording(data)
    footer = _footer(data.document_number)
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
        title=_clean(f"Berita Acara Musdesus {data.document_number}"), author=_clean(_village_label(data)),
        subject="Verifikasi dan validasi DTSEN", creator="Portal Verval DTSEN",
        invariant=True,  # same data, same bytes: archived copies can be compared by hash
    )
    doc.addPageTemplates([_page_template("minutes", A4, footer),
                          _page_template("appendix", landscape(A4), footer)])
    width = A4[0] - 2 * MARGIN
    body = s["body"]
    story = [
        *_letterhead(data, s, width),
        Paragraph(TITLE, s["title"]),
        Paragraph(SUBTITLE, s["title"]),
        Paragraph(_markup(w.number), s["number"]),
        Paragraph(_markup(w.opening), body),
        Paragraph(_markup(w.chair), body),
        _attendee_table(data, s, width),
        Spacer(1, 3 * mm),
        Paragraph(_markup(w.attendance), body),
        Paragraph(_markup(w.summary_intro), body),
        _summary_table(data, s),
        Spacer(1, 3 * mm),
        Paragraph(_markup(w.appendix_ref), body),
        Paragraph(_markup(w.notes_heading), s["heading"]),
        Paragraph(_markup(w.notes), body),
        # The closing sentence goes with the signatures so that no one signs a page that carries no text.
        KeepTogether([Paragraph(_markup(w.closing), body), Spacer(1, 4 * mm), *_signature_block(w, s, width)]),
        NextPageTemplate("appendix"),
        PageBreak(),
        Paragraph(APPENDIX_TITLE, s["heading"]),
        Paragraph(_markup(f"Berita Acara Musdesus Nomor {data.document_number} — {_village_label(data)}"),
                  s["body"]),
        _appendix_table(data, s, landscape(A4)[0] - 2 * MARGIN),
    ]
    doc.build(story)
    return buffer.getvalue()
