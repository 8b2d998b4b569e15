"""Berita acara Musdesus PDF: Indonesian wording and dates, tables, sign-off, escaping and long appendices.

The PDF's page streams are decoded here with the standard library (reportlab writes them ASCII85 + Flate
encoded) so the tests can read what each page prints without a PDF library.
"""
import base64
import dataclasses
import datetime as dt
import re
import zlib

import pytest

from verification import berita_acara as ba
from verification.berita_acara import (
    BLANK_SIGNATURE,
    Attendee,
    BeritaAcara,
    DecisionLine,
    berita_acara_text,
    format_hari_tanggal,
    format_waktu,
    render_berita_acara,
    terbilang,
)

SUMMARY = {"Layak": 120, "Tidak layak": 14, "Data dikoreksi": 9, "Usulan baru": 3, "Jumlah keluarga": 146}


def decisions(count: int) -> list[DecisionLine]:
    kinds = [("Layak", ""), ("Tidak layak", "Mampu"), ("Tidak layak", "Meninggal"), ("Data dikoreksi", ""),
             ("Usulan baru", "")]
    return [
        DecisionLine(kk_number=f"120908010120{i:04d}", head_name=f"Kepala Keluarga {i}", dusun="Dusun II",
                     rt=f"{i % 9 + 1:03d}", rw="001", desil=None if i % 7 == 0 else i % 10 + 1,
                     decision=kinds[i % 5][0], reason=kinds[i % 5][1],
                     note="Rumah sudah permanen dan memiliki kendaraan roda empat." if i % 3 == 0 else "")
        for i in range(1, count + 1)
    ]


def minutes(**changes) -> BeritaAcara:
    data = BeritaAcara(
        village_name="Meranti", village_kind="Desa", kecamatan_name="Meranti", regency_name="Kabupaten Asahan",
        province_name="Sumatera Utara", batch_ref="DTSEN-2026-11", programme="PKH",
        held_on=dt.date(2026, 11, 23), place="Balai Desa Meranti", chair="Ahmad Siregar",
        notes="Warga meminta pendataan ulang di Dusun III.",
        attendees=[Attendee("Budi Santoso", "Kepala Desa"), Attendee("Ketua RT se-desa", "Ketua RT", 12),
                   Attendee("Perwakilan warga", "Tokoh masyarakat", 5)],
        decisions=decisions(10), summary=SUMMARY, signed_by=None, signed_at=None,
        document_number="BA-12.09.08.2002-2026-0001",
    )
    return dataclasses.replace(data, **changes)


def _unescape(match: re.Match) -> str:
    code = match.group(1)
    if code.isdigit():
        return chr(int(code, 8))
    return {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}.get(code, code)


def pdf_pages(pdf: bytes) -> list[str]:
    """The text each page prints: one line per text block, a paragraph's lines joined by spaces."""
    pages = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        content = zlib.decompress(base64.a85decode(stream.strip().removesuffix(b"~>"))).decode("latin-1")
        blocks = []
        for block in re.findall(r"\bBT\b(.*?)\bET\b", content, re.S):
            parts = re.findall(r"\(((?:\\.|[^\\)])*)\)\s*Tj|(T\*)", block)
            text = "".join(" " if star else re.sub(r"\\([0-7]{1,3}|.)", _unescape, s) for s, star in parts)
            # Standard fonts use the Windows Latin-1 encoding.
            blocks.append(" ".join(text.encode("latin-1").decode("cp1252").split()))
        pages.append("\n".join(b for b in blocks if b))
    return pages


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))  # \b leaves out the "/Type /Pages" tree node


@pytest.fixture(scope="module")
def short_pdf() -> bytes:
    return render_berita_acara(minutes())


@pytest.fixture(scope="module")
def long_pdf() -> bytes:
    return render_berita_acara(minutes(decisions=decisions(3000)))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 23), "Senin, 23 November 2026"),
        (dt.date(2026, 11, 22), "Minggu, 22 November 2026"),
        (dt.date(2026, 8, 17), "Senin, 17 Agustus 2026"),
        (dt.date(2027, 1, 1), "Jumat, 1 Januari 2027"),
        (dt.date(2026, 2, 4), "Rabu, 4 Februari 2026"),
    ],
)
def test_dates_are_written_with_indonesian_day_and_month_names(day, expected):
    assert format_hari_tanggal(day) == expected


def test_sign_off_time_is_shown_in_the_site_time_zone_with_a_dot_between_hours_and_minutes():
    assert format_waktu(dt.datetime(2026, 11, 24, 7, 5, tzinfo=dt.UTC)) == "24 November 2026 pukul 14.05 WIB"


@pytest.mark.parametrize(
    ("number", "words"),
    [(1, "satu"), (11, "sebelas"), (12, "dua belas"), (18, "delapan belas"), (100, "seratus"),
     (146, "seratus empat puluh enam"), (1000, "seribu"), (2026, "dua ribu dua puluh enam"),
     (1_250_000, "satu juta dua ratus lima puluh ribu")],
)
def test_counts_are_spelled_out_in_indonesian(number, words):
    assert terbilang(number) == words


def test_opening_paragraph_names_the_day_date_place_and_region_in_indonesian():
    text = berita_acara_text(minutes())
    assert text.startswith("BERITA ACARA MUSYAWARAH DESA KHUSUS (MUSDESUS)\n\n"
                           "VERIFIKASI DAN VALIDASI DATA TUNGGAL SOSIAL DAN EKONOMI NASIONAL (DTSEN)\n\n"
                           "Nomor: BA-12.09.08.2002-2026-0001")
    assert ("Pada hari ini Senin, tanggal 23 November 2026, bertempat di Balai Desa Meranti, telah dilaksanakan "
            "Musyawarah Desa Khusus (Musdesus) Desa Meranti, Kecamatan Meranti, Kabupaten Asahan, Provinsi "
            "Sumatera Utara") in text
    assert "Musyawarah dipimpin oleh Ahmad Siregar" in text
    assert "Jumlah peserta yang hadir sebanyak 18 (delapan belas) orang." in text
    assert "Warga meminta pendataan ulang di Dusun III." in text
    assert "Demikian berita acara ini dibuat dengan sebenar-benarnya" in text


def test_region_names_get_their_kind_once_and_a_missing_level_is_left_out():
    text = berita_acara_text(minutes(regency_name="Kota Pematangsiantar", kecamatan_name="Siantar Barat",
                                     province_name="Sumatera Utara"))
    assert "Kecamatan Siantar Barat, Kota Pematangsiantar, Provinsi Sumatera Utara" in text
    assert "Desa Meranti, Kabupaten Asahan, Provinsi" in berita_acara_text(minutes(kecamatan_name=""))


def test_pdf_prints_the_minutes_tables_and_page_numbers(short_pdf):
    assert short_pdf.startswith(b"%PDF-")
    assert short_pdf.rstrip().endswith(b"%%EOF")
    pages = pdf_pages(short_pdf)
    everything = "\n".join(pages)
    assert "Pada hari ini Senin, tanggal 23 November 2026, bertempat di Balai Desa Meranti" in everything
    for expected in ("Unsur/Peran", "Ketua RT se-desa", "Jumlah peserta hadir", "Uraian", "Tidak layak",
                     "Jumlah keluarga", "146", "Catatan musyawarah:", "Pimpinan Musdesus,", "(Ahmad Siregar)",
                     "Kepala Desa Meranti,"):
        assert expected in everything, expected
    for number, page in enumerate(pages, 1):
        assert f"Halaman {number}" in page


def test_appendix_starts_on_its_own_page_with_every_family(short_pdf):
    pages = pdf_pages(short_pdf)
    first = next(i for i, page in enumerate(pages) if "Lampiran: Daftar Keputusan per Keluarga" in page)
    assert first > 0 and "Pada hari ini" not in pages[first]
    assert "Demikian berita acara" not in "\n".join(pages[first:])
    appendix = "\n".join(pages[first:])
    for header in ("Nomor KK", "Kepala Keluarga", "Dusun", "RT/RW", "Desil", "Keputusan", "Alasan", "Catatan"):
        assert header in appendix
    assert "1209080101200010" in appendix and "Kepala Keluarga 10" in appendix and "Meninggal" in appendix


def test_thousands_of_families_make_a_longer_pdf_with_the_header_on_every_page(short_pdf, long_pdf):
    assert len(long_pdf) > 10 * len(short_pdf)
    assert page_count(long_pdf) > page_count(short_pdf) + 40
    pages = pdf_pages(long_pdf)
    assert len(pages) == page_count(long_pdf)
    first = next(i for i, page in enumerate(pages) if "Lampiran:" in page)
    for page in pages[first:]:
        assert page.count("Nomor KK") == 1  # the header row, repeated on each page
    assert "Kepala Keluarga 3000" in pages[-1]


def test_special_characters_in_names_are_printed_literally():
    data = minutes(
        chair="Siti & Sons <b>",
        place='Aula "Serbaguna" & <Balai>',
        notes="Nilai a < b & c > d\nBaris kedua </para>",
        attendees=[Attendee("<b>Pak RT</b>", "Ketua RT & RW"), Attendee("Nguyễn Văn An", "Tamu")],
        decisions=[dataclasses.replace(d, head_name="O'Neil & <i>Co</i>", note="<br/>&amp; \x07")
                   for d in decisions(3)],
    )
    everything = "\n".join(pdf_pages(render_berita_acara(data)))
    for expected in ("Musyawarah dipimpin oleh Siti & Sons <b>", 'Aula "Serbaguna" & <Balai>',
                     "<b>Pak RT</b>", "Ketua RT & RW", "Nilai a < b & c > d", "Baris kedua </para>",
                     "O'Neil & <i>Co</i>", "<br/>&amp;", "Nguyen Van An"):
        assert expected in everything, expected


def test_unsigned_minutes_leave_a_blank_line_for_the_village_head(short_pdf):
    text = berita_acara_text(minutes())
    assert f"Kepala Desa Meranti,\n\n{BLANK_SIGNATURE}" in text
    assert "Disetujui secara elektronik" not in text
    everything = "\n".join(pdf_pages(short_pdf))
    assert BLANK_SIGNATURE in everything
    assert "Disetujui secara elektronik" not in everything


def test_signed_minutes_carry_the_electronic_sign_off():
    data = minutes(signed_by="Budi Santoso", signed_at=dt.datetime(2026, 11, 24, 7, 5, tzinfo=dt.UTC))
    sentence = "Disetujui secara elektronik pada 24 November 2026 pukul 14.05 WIB oleh Budi Santoso"
    text = berita_acara_text(data)
    assert "Kepala Desa Meranti,\n\n(Budi Santoso)" in text
    assert sentence in text
    assert BLANK_SIGNATURE not in text
    everything = "\n".join(pdf_pages(render_berita_acara(data)))
    assert sentence in everything
    assert BLANK_SIGNATURE not in everything


def test_the_lurah_signs_for_a_kelurahan():
    text = berita_acara_text(minutes(village_kind="Kelurahan", village_name="Bantan"))
    assert "Lurah Bantan," in text
    assert "Kelurahan Bantan, Kecamatan Meranti" in text


def test_same_data_gives_the_same_bytes(short_pdf):
    # Invariant output: an archived copy can be checked against a fresh render by its hash.
    assert render_berita_acara(minutes()) == short_pdf


def test_a_long_note_and_an_empty_round_still_render():
    long = dataclasses.replace(decisions(1)[0], note="catatan yang sangat panjang " * 1500)
    assert page_count(render_berita_acara(minutes(decisions=[long]))) >= 2
    empty = render_berita_acara(minutes(decisions=[], attendees=[], summary={}, notes=""))
    everything = "\n".join(pdf_pages(empty))
    assert "Tidak ada catatan." in everything
    assert "Tidak ada keputusan keluarga dalam putaran ini." in everything


# --- bounds: what one document may cost (issue 13, finding 5) ----------------------------------------------

def _note_cells(table) -> list[str]:
    """The text of the appendix's "Catatan" column, row by row (header left out)."""
    cells = [row[-1] for row in table._cellvalues[1:]]
    return [cell if isinstance(cell, str) else cell.text for cell in cells]


def test_a_2_4_mb_decision_note_is_cut_with_an_ellipsis_and_the_pdf_stays_a_few_pages():
    # One unbroken 2.4 MB word took 13 minutes: reportlab wrapped it letter by letter, page after page.
    note = "x" * 2_400_000
    pdf = render_berita_acara(minutes(decisions=[dataclasses.replace(decisions(1)[0], note=note)]))
    assert page_count(pdf) <= 3
    appendix = pdf_pages(pdf)[-1]
    assert "x" * ba.LONG_WORD_CHARS in appendix and "[...]" in appendix
    assert appendix.count("x") <= ba.NOTE_CHARS


def test_a_200_kb_note_with_spaces_is_cut_to_the_note_bound():
    note = "kalimat catatan panjang " * 9000  # ~200 KB
    pdf = render_berita_acara(minutes(decisions=[dataclasses.replace(decisions(1)[0], note=note)]))
    assert page_count(pdf) <= 3
    assert "kalimat catatan panjang" in pdf_pages(pdf)[-1]


def test_the_notes_of_thousands_of_families_share_one_budget():
    lines = [dataclasses.replace(d, note="y" * 2000) for d in decisions(3000)]
    table = ba._appendix_table(minutes(decisions=lines), ba._styles(), 700)
    notes = _note_cells(table)
    assert len(notes) == 3000
    assert all(n.count("y") <= ba.NOTE_CHARS for n in notes)
    assert sum(len(n) for n in notes) <= ba.NOTES_BUDGET + 3000 * (ba.SHORT_NOTE_CHARS + 20)
    assert notes[-1].count("y") <= ba.SHORT_NOTE_CHARS and notes[-1].endswith("[...]")


def test_families_beyond_the_row_bound_are_counted_not_listed(monkeypatch):
    monkeypatch.setattr(ba, "MAX_APPENDIX_ROWS", 5)
    table = ba._appendix_table(minutes(decisions=decisions(8)), ba._styles(), 700)
    assert len(table._cellvalues) == 1 + 5 + 1
    assert "dan 3 keluarga lainnya" in table._cellvalues[-1][1].text


def test_the_minutes_notes_are_cut_to_the_form_limit():
    text = berita_acara_text(minutes(notes="catatan " * 300_000))
    assert len(text) < ba.MINUTES_NOTES_CHARS + 3000
    assert "[...]" in text
