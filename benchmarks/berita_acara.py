"""The berita acara of the largest village when every decision carries a hostile note (one unbroken 2.4 MB word,
which once took a worker 13 minutes), against the same document with ordinary short notes. The bounds in
``verification.berita_acara`` should keep the hostile document within a small multiple of the ordinary one."""
import dataclasses
import datetime as dt
import time

from verification.berita_acara import Attendee, BeritaAcara, DecisionLine, render_berita_acara

from .table import Figure, at_least_ratio_of_time


def _minutes(families: int, note: str) -> BeritaAcara:
    lines = [DecisionLine(kk_number=f"120908010120{i % 10000:04d}", head_name=f"Kepala Keluarga {i}", dusun="Dusun II",
                          rt="001", rw="002", desil=i % 10 + 1, decision="Layak", reason="", note=note)
             for i in range(1, families + 1)]
    return BeritaAcara(village_name="Meranti", village_kind="Desa", kecamatan_name="Meranti",
                       regency_name="Kabupaten Asahan", province_name="Sumatera Utara", batch_ref="DTSEN-2026-11",
                       programme="PKH", held_on=dt.date(2026, 11, 23), place="Balai Desa", chair="Ahmad Siregar",
                       notes="x" * 2_400_000, attendees=[Attendee("Budi Santoso", "Kepala Desa")], decisions=lines,
                       summary={"Layak": families}, signed_by=None, signed_at=None, document_number="BA-1")


def _render(data: BeritaAcara) -> tuple[float, int]:
    started = time.perf_counter()
    pdf = render_berita_acara(data)
    return time.perf_counter() - started, pdf.count(b"/Type /Page\n")


def run(*, families: int) -> list[Figure]:
    print(f"rendering the berita acara of {families:,} families ...", flush=True)
    ordinary = _minutes(families, "Rumah sudah permanen.")
    plain, _pages = _render(dataclasses.replace(ordinary, notes="Tidak ada."))
    # One string object shared by every row: 2.4 MB of memory, as if each note were that long.
    hostile, pages = _render(_minutes(families, "x" * 2_400_000))
    return [at_least_ratio_of_time(f"berita acara, {families:,} families each with a 2.4 MB note ({pages} pages)",
                                   hostile, plain, 0.2, baseline_label="short notes")]
