"""Large exports (issue 14): the approved list and a round's sheet are written while the rows are read, CSV
streamed and XLSX by xlsxwriter in constant-memory mode, with flat memory and a constant number of queries;
every cell neutralised, no NIK, the export recorded in the personal-data access log."""
import csv
import io
import tracemalloc

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from accounts.models import Role
from dtsen_portal.spreadsheets import csv_chunks, xlsx_file
from privacy.models import PersonalDataAccess
from registry.models import Member
from verification.models import RoundFamily, VerificationRound
from verification.spreadsheets import EXPORT_COLUMNS

from .factories import REGENCY, VILLAGE, VILLAGE_OTHER_REGENCY, UserFactory, round_with_families

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","y")'
HEADERS = [header for header, _field in EXPORT_COLUMNS]


def dinsos_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    return client


def approved_round(n: int, code: str = VILLAGE) -> VerificationRound:
    """A round of ``n`` families in ``code``, approved, every family decided eligible."""
    round_ = round_with_families(n, code=code)
    RoundFamily.objects.filter(round=round_).update(decision=RoundFamily.Decision.ELIGIBLE)
    VerificationRound.objects.filter(pk=round_.pk).update(state="approved")
    return round_


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.getvalue().decode(), newline="")))


def xlsx_rows(response) -> list[tuple]:
    return list(load_workbook(io.BytesIO(response.getvalue())).active.iter_rows(values_only=True))


def test_the_approved_list_streams_a_csv_attachment_with_a_known_familys_row():
    round_ = approved_round(2)
    entry = round_.entries.select_related("family", "round__village").order_by("family__kk_number").first()
    RoundFamily.objects.filter(pk=entry.pk).update(note="rumah dicek", is_proposal=True)
    family, head = entry.family, Member.objects.get(family=entry.family)
    response = dinsos_client().get(reverse("approved-export", args=["csv"]))
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="daftar-disetujui.csv"'
    rows = csv_rows(response)
    assert rows[0] == HEADERS and len(rows) == 3
    with translation.override("id"):
        eligible, yes = str(RoundFamily.Decision.ELIGIBLE.label), translation.gettext("yes")
    assert rows[1] == [entry.round.village.name, family.kk_number, head.name, family.dusun, family.rt, family.rw,
                       str(family.desil or ""), eligible, "", "rumah dicek", yes, "", "1"]


def test_the_approved_list_as_excel_keeps_numbers_numbers_and_text_text():
    round_ = approved_round(2)
    response = dinsos_client().get(reverse("approved-export", args=["xlsx"]))
    assert response["Content-Disposition"] == 'attachment; filename="daftar-disetujui.xlsx"'
    rows = xlsx_rows(response)
    assert list(rows[0]) == HEADERS
    assert sorted(r[1] for r in rows[1:]) == sorted(round_.entries.values_list("family__kk_number", flat=True))
    assert all(isinstance(r[12], int) for r in rows[1:])  # versi, read back by the import


def test_a_hostile_name_stays_text_and_no_nik_leaves_in_either_format():
    round_ = approved_round(1)
    head = Member.objects.get(family=round_.entries.get().family)
    Member.objects.filter(pk=head.pk).update(name=FORMULA)
    client = dinsos_client()
    text = client.get(reverse("approved-export", args=["csv"])).getvalue().decode()
    assert "'" + FORMULA.replace('"', '""') in text and head.nik not in text
    response = client.get(reverse("approved-export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    cell = sheet.cell(row=2, column=HEADERS.index("kepala_keluarga") + 1)
    assert cell.data_type == "s" and cell.value == "'" + FORMULA
    assert not any(head.nik in str(v) for row in sheet.iter_rows(values_only=True) for v in row)


def test_the_approved_list_keeps_to_the_users_area():
    approved_round(1)
    other = approved_round(1, code=VILLAGE_OTHER_REGENCY)
    text = dinsos_client().get(reverse("approved-export", args=["csv"])).getvalue().decode()
    assert other.entries.get().family.kk_number not in text


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_export_is_recorded_with_the_rows_handed_out(kind):
    approved_round(3)
    response = dinsos_client().get(reverse("approved-export", args=[kind]))
    # Recorded before the first row goes out; the count is set once the rows are written.
    assert PersonalDataAccess.objects.get().export_name == f"daftar-disetujui.{kind}"
    response.getvalue()
    access = PersonalDataAccess.objects.get()
    assert (access.kind, access.area_id, access.row_count) == ("export", REGENCY, 3)


def _queries(n_families: int, kind: str) -> int:
    client = dinsos_client()
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("approved-export", args=[kind])).getvalue()
    return len(queries)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_number_of_queries_does_not_grow_with_the_list(kind):
    approved_round(2)
    few = _queries(2, kind)
    approved_round(6, code=VILLAGE)
    assert _queries(8, kind) == few


def _rows(n: int):
    for i in range(n):
        yield ("Desa Contoh", f"{1209000000000000 + i}", f"=NAMA {i}" if i % 100 == 0 else f"NAMA {i}", "Dusun I",
               "001", "002", 1 + i % 10, "Layak", "", "catatan", "", "", 1)


def _peak(write, n: int) -> int:
    tracemalloc.start()
    try:
        write(_rows(n))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _write_csv(rows) -> None:
    for _chunk in csv_chunks(HEADERS, rows):
        pass


def _write_xlsx(rows) -> None:
    file, _written = xlsx_file(HEADERS, rows)
    file.close()


@pytest.mark.parametrize("write", [_write_csv, _write_xlsx], ids=["csv", "xlsx"])
def test_memory_stays_flat_whatever_the_number_of_rows(write):
    write(_rows(10))  # imports and caches out of the measure
    small, large = _peak(write, 5_000), _peak(write, 20_000)
    # Four times the rows: the peak may not follow (an in-memory writer's peak grows about fourfold).
    assert large < small * 1.5 + 256 * 1024, (small, large)


def test_the_writers_neutralise_every_text_cell_and_count_the_rows():
    counted = []
    text = b"".join(csv_chunks(["=h"], [["=1+1", -5], ["aman", None]], on_finish=counted.append)).decode()
    assert text.splitlines() == ["'=h", "'=1+1,-5", "aman,"] and counted == [2]
    file, written = xlsx_file(["=h"], [["=1+1", -5], ["@me", 2.5]])
    rows = list(load_workbook(file).active.iter_rows())
    assert written == 2 and [c.value for c in rows[1]] == ["'=1+1", -5] and rows[1][0].data_type == "s"
    assert [c.value for c in rows[2]] == ["'@me", 2.5]
