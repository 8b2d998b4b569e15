"""Uploaded spreadsheets are measured before they are read (issue 13, finding 5: a 361 KB .xlsx with a million
rows took 133 s and 2.4 GB): the declared dimension of the sheet, the unpacked size of the zip, and the rows
and columns as they are read. Each refusal names the limit in Bahasa Indonesia and nothing is saved."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from dtsen_portal.spreadsheets import MAX_COLUMNS, MAX_ROWS, read_upload
from verification.models import RoundFamily

from .factories import VILLAGE, UserFactory, round_with_families
from .spreadsheet_files import raw_xlsx

pytestmark = pytest.mark.django_db

HEADERS = ("nomor_kk", "keputusan", "alasan", "catatan")


def read(content: bytes, name: str) -> str:
    with translation.override("id"):
        _rows, error = read_upload(content, name, required=["nomor_kk", "keputusan"], expected=list(HEADERS))
    return error


def test_a_million_row_sheet_is_refused_on_the_import_page_and_no_decision_is_saved():
    round_ = round_with_families(2)
    content = raw_xlsx(HEADERS, 1_000_000, row_values=(1, 2))
    assert len(content) < 400_000  # as small as the file of the report
    client = Client()
    client.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    response = client.post(reverse("round-import", args=[round_.pk]),
                           {"file": SimpleUploadedFile("keputusan.xlsx", content)})
    assert response.status_code == 200
    assert "lebih dari 20.000 baris" in response.content.decode()
    assert not RoundFamily.objects.filter(round=round_).exclude(decision="").exists()


def test_a_sheet_that_understates_its_size_is_refused_when_its_rows_are_counted():
    content = raw_xlsx(HEADERS, MAX_ROWS + 5, dimension="A1:D2", row_values=(1, 2))
    assert "lebih dari 20.000 baris" in read(content, "keputusan.xlsx")


def test_a_sheet_that_declares_more_columns_than_the_limit_is_refused():
    content = raw_xlsx(HEADERS, 3, dimension="A1:ZZ4")
    assert f"lebih dari {MAX_COLUMNS} kolom" in read(content, "keputusan.xlsx")
    wide = raw_xlsx([*HEADERS, *(f"k{i}" for i in range(MAX_COLUMNS))], 3, dimension="A1:B4")
    assert f"lebih dari {MAX_COLUMNS} kolom" in read(wide, "keputusan.xlsx")


def test_a_zip_bomb_is_refused_from_its_unpacked_size_before_it_is_parsed():
    content = raw_xlsx(HEADERS, 3, extra_members={"xl/media/image1.bin": bytes(60 * 1024 * 1024)})
    assert len(content) < 200_000
    assert "setelah dibuka lebih dari 40 MB" in read(content, "keputusan.xlsx")


def test_a_csv_with_too_many_rows_or_a_cell_too_big_is_refused():
    rows = ("nomor_kk,keputusan\n" + "1209080101200001,layak\n" * (MAX_ROWS + 1)).encode()
    assert "lebih dari 20.000 baris" in read(rows, "keputusan.csv")
    big_cell = ("nomor_kk,keputusan\n1,\"" + "x" * 200_000 + "\"\n").encode()
    assert "tidak dapat dibaca" in read(big_cell, "keputusan.csv")


def test_a_file_that_is_no_zip_or_no_text_is_refused_with_a_message():
    assert "tidak dapat dibaca" in read(b"PK\x03\x04 not really a zip", "keputusan.xlsx")
    assert "tidak dapat dibaca" in read(b"\xff\xfe\x00bad", "keputusan.csv")


def test_a_sheet_within_the_limits_is_read_row_by_row():
    rows, error = read_upload(raw_xlsx(HEADERS, 3), "keputusan.xlsx", required=["nomor_kk"], expected=list(HEADERS))
    assert error == ""
    assert [cells["keputusan"] for _line, cells in rows] == ["layak"] * 3


def test_an_imported_note_longer_than_the_forms_limit_is_a_row_error():
    from verification.spreadsheets import read_decisions

    content = ("nomor_kk,keputusan,alasan,catatan\n1209080101200001,layak,,\"" + "x" * 5000 + "\"\n").encode()
    with translation.override("id"):
        rows, error = read_decisions(content, "keputusan.csv", known_kk={"1209080101200001": 1})
    assert error == ""
    assert any("5000 karakter" in e for e in rows[0].errors)
