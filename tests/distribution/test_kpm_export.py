"""The KPM list of a payment period as CSV or Excel: the families of the user's area only, codes as their
Indonesian labels, no NIK, the export recorded; a large Excel list goes to the background."""
import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import Role
from distribution.models import Disbursement, PaymentPeriod
from privacy.models import PersonalDataAccess

from ..factories import VILLAGE, FamilyFactory, MemberFactory, UserFactory, client_for, village
from ..factories import VILLAGE_OTHER_REGENCY as OTHER

pytestmark = pytest.mark.django_db


@pytest.fixture
def period():
    return PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")


def kpm(period, n: int, code: str = VILLAGE, status="scheduled") -> list:
    made = []
    for _ in range(n):
        family = FamilyFactory(village=village(code))
        head = MemberFactory(family=family)
        Disbursement.objects.create(family=family, programme=period.programme, period=period, amount_planned=900_000,
                                    amount_paid=900_000 if status == "received" else 0, status=status)
        made.append((family, head))
    return made


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_the_csv_lists_the_areas_kpm_with_labels_and_no_nik_and_is_recorded(period):
    paid = kpm(period, 2, status="received")
    away = kpm(period, 1, code=OTHER)
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    response = client_for(dinsos).get(reverse("kpm-export", args=["csv"]), {"period": period.pk})
    assert response.status_code == 200 and response["Content-Disposition"].endswith(f'daftar-kpm-{period.pk}.csv"')
    rows = csv_rows(response)
    assert sorted(r["nomor_kk"] for r in rows) == sorted(f.kk_number for f, _h in paid)
    assert {r["kepala_keluarga"] for r in rows} == {h.name for _f, h in paid}
    assert {(r["status"], r["saluran"], r["rencana_rp"], r["dibayar_rp"]) for r in rows} == {
        ("Diterima", "PT Pos Indonesia", "900000", "900000")}
    body = "".join(",".join(r.values()) for r in rows)
    assert all(h.nik not in body for _f, h in paid) and away[0][0].kk_number not in body
    access = PersonalDataAccess.objects.get(export_name=f"daftar-kpm-{period.pk}.csv")
    assert access.row_count == 2 and access.filters == {"period": str(period.pk)}


def test_the_export_reads_a_fixed_number_of_queries_whatever_the_list(period):
    dinsos = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    counts = []
    for n in (2, 8):
        kpm(period, n if not counts else n - 2)
        with CaptureQueriesContext(connection) as queries:
            assert len(csv_rows(dinsos.get(reverse("kpm-export", args=["csv"]), {"period": period.pk}))) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_small_excel_list_downloads_at_once(period):
    kpm(period, 3)
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    response = client_for(dinsos).get(reverse("kpm-export", args=["xlsx"]), {"period": period.pk})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("kecamatan", "desa", "nomor_kk") and len(rows) == 4 and rows[1][11] == "Dijadwalkan"


def test_a_large_excel_list_is_offered_to_the_background_and_the_job_writes_it(period, monkeypatch, settings,
                                                                               tmp_path):
    from distribution import views
    from privacy.models import ExportJob
    from privacy.services import export_job_run

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(views, "BACKGROUND_EXPORT_ROWS", 2)
    kpm(period, 3)
    client = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    url = reverse("kpm-export", args=["xlsx"]) + f"?period={period.pk}"
    assert b"Siapkan berkas" in client.get(url).content or b"Prepare the file" in client.get(url).content
    answer = client.post(url)
    job = ExportJob.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("export-job", args=[job.pk])
    export_job_run(job.pk)  # what the queued task does (its worker is tested in test_export_jobs)
    job.refresh_from_db()
    assert job.state == ExportJob.State.DONE and job.rows_done == 3 and job.filters == {"period": period.pk}


@pytest.mark.parametrize("query", [{}, {"period": "x"}, {"period": "99999999"}, {"period": "1" * 40}])
def test_a_missing_or_bad_period_answers_404(query):
    dinsos = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    assert dinsos.get(reverse("kpm-export", args=["csv"]), query).status_code == 404


def test_village_staff_cannot_export_the_kpm_list(period):
    kpm(period, 1)
    operator = client_for(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert operator.get(reverse("kpm-export", args=["csv"]), {"period": period.pk}).status_code == 403
    assert not PersonalDataAccess.objects.exists()
