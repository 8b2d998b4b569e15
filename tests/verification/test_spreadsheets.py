"""Spreadsheets: export a round, import decisions checked row by row, atomically; approved list; visits."""
import io

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import Role
from verification.models import RoundFamily

from ..factories import VILLAGE, UserFactory, post_and_run_jobs
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client():
    client = Client()
    client.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    return client


def upload(rows, name="keputusan.csv", headers=("nomor_kk", "keputusan", "alasan", "catatan")):
    dataset = tablib.Dataset(*rows, headers=headers)
    content = dataset.export("xlsx") if name.endswith(".xlsx") else dataset.export("csv").encode()
    return SimpleUploadedFile(name, content)


def test_the_round_exports_as_excel_with_one_row_per_family(operator_client):
    round_ = make_round(3)
    response = operator_client.get(reverse("round-export", args=[round_.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("desa", "nomor_kk", "kepala_keluarga")
    assert sorted(r[1] for r in rows[1:]) == sorted(round_.entries.values_list("family__kk_number", flat=True))


def test_an_import_with_a_bad_row_shows_every_error_and_saves_nothing(operator_client):
    round_ = make_round(3)
    kks = sorted(round_.entries.values_list("family__kk_number", flat=True))
    file = upload([(kks[0], "layak", "", ""), (kks[1], "tidak layak", "", "tanpa alasan"),
                   ("9999999999999999", "layak", "", ""), (kks[2], "mungkin", "", "")], name="keputusan.xlsx")
    response = operator_client.post(reverse("round-import", args=[round_.pk]), {"file": file})
    page = response.content.decode()
    assert "perlu alasan" in page
    assert "9999999999999999" in page and "mungkin" in page
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {""}


def test_a_clean_import_is_checked_then_applied_on_confirmation(operator_client):
    round_ = make_round(2)
    kks = sorted(round_.entries.values_list("family__kk_number", flat=True))
    file = upload([(kks[0], "Layak", "", "ok"), (kks[1], "tidak layak", "mampu", "punya mobil")])
    preview = operator_client.post(reverse("round-import", args=[round_.pk]), {"file": file}).content.decode()
    # The preview speaks the page's words, not the stored codes.
    assert "Tidak layak" in preview and "not_eligible" not in preview and "well_off" not in preview
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {""}
    done = post_and_run_jobs(operator_client, reverse("round-import", args=[round_.pk]), {"confirm": "1"})
    assert "2 keputusan diimpor" in done.content.decode()
    decided = dict(RoundFamily.objects.filter(round=round_).values_list("family__kk_number", "reason"))
    assert decided == {kks[0]: "", kks[1]: "well_off"}


def test_a_file_with_wrong_columns_is_refused_with_the_expected_columns_named(operator_client):
    round_ = make_round(1)
    file = upload([("x", "y")], headers=("kk", "status"))
    page = operator_client.post(reverse("round-import", args=[round_.pk]), {"file": file}).content.decode()
    assert "nomor_kk" in page and "keputusan" in page
    assert RoundFamily.objects.get(round=round_).decision == ""


def test_the_approved_list_holds_only_eligible_families_of_approved_rounds():
    approved, pending = make_round(2), make_round(1)
    first, second = approved.entries.order_by("pk")
    RoundFamily.objects.filter(pk=first.pk).update(decision="eligible")
    RoundFamily.objects.filter(pk=second.pk).update(decision="not_eligible", reason="well_off")
    RoundFamily.objects.filter(round=pending).update(decision="eligible")
    type(approved).objects.filter(pk=approved.pk).update(state="approved")
    client = Client()
    client.force_login(UserFactory(role=Role.DINSOS, area_id="12.09"))
    content = client.get(reverse("approved-export", args=["csv"])).getvalue().decode()
    assert first.family.kk_number in content
    assert second.family.kk_number not in content and pending.entries.get().family.kk_number not in content


def test_an_import_shows_and_applies_only_the_rows_that_change(operator_client):
    round_ = make_round(3)
    kks = sorted(round_.entries.values_list("family__kk_number", flat=True))
    operator_client.post(reverse("round-import", args=[round_.pk]), {"file": upload([(kks[0], "layak", "", "")])})
    post_and_run_jobs(operator_client, reverse("round-import", args=[round_.pk]), {"confirm": "1"})
    decided = RoundFamily.objects.get(round=round_, family__kk_number=kks[0])
    version = decided.version

    # The same sheet again, with one more family decided: only that one is shown and imported.
    file = upload([(kks[0], "layak", "", ""), (kks[1], "tidak layak", "mampu", "punya mobil")])
    response = operator_client.post(reverse("round-import", args=[round_.pk]), {"file": file})
    assert [r.kk_number for r in response.context["rows"]] == [kks[1]]
    assert "1 baris sama dengan yang sudah ada" in response.content.decode()
    post_and_run_jobs(operator_client, reverse("round-import", args=[round_.pk]), {"confirm": "1"})
    assert RoundFamily.objects.get(pk=decided.pk).version == version  # not re-decided
    assert RoundFamily.objects.get(round=round_, family__kk_number=kks[1]).reason == "well_off"

    # Nothing new at all: said so, nothing to confirm.
    again = operator_client.post(reverse("round-import", args=[round_.pk]), {"file": upload(
        [(kks[0], "layak", "", ""), (kks[1], "tidak layak", "mampu", "punya mobil")])}).content.decode()
    assert "tidak ada yang diimpor" in again and 'name="confirm"' not in again
