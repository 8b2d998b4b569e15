"""The regency's KPM list: filtered by area, payment status and name or KK, paged, in a fixed number of
queries, without NIK; its CSV, Excel and background exports list exactly the families the page shows."""
import csv
import io

import pytest
from django.urls import reverse

from accounts.models import Role
from distribution.models import Disbursement, PaymentPeriod
from privacy.models import ExportJob, PersonalDataAccess

from ..factories import (
    KECAMATAN,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    village,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def period():
    return PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")


@pytest.fixture
def dinsos():
    return client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))


def kpm(period, code: str, name: str, status: str = "scheduled"):
    family = FamilyFactory(village=village(code))
    MemberFactory(family=family, name=name)
    Disbursement.objects.create(family=family, programme=period.programme, period=period, amount_planned=900_000,
                                status=status)
    return family


@pytest.fixture
def families(period):
    return {
        "siti": kpm(period, VILLAGE, "Siti Aminah", "received"),
        "budi": kpm(period, VILLAGE, "Budi Santoso"),
        "rahmat": kpm(period, VILLAGE_OTHER_KECAMATAN, "Rahmat Hidayat", "failed"),
        "away": kpm(period, VILLAGE_OTHER_REGENCY, "Siti Aminah"),
    }


def listed(client, period, **query) -> set[str]:
    response = client.get(reverse("kpm-list"), {"period": period.pk, **query})
    assert response.status_code == 200
    return {d.family.kk_number for d in response.context["page"].object_list}


def exported(client, period, **query) -> set[str]:
    response = client.get(reverse("kpm-export", args=["csv"]), {"period": period.pk, **query})
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    return {row["nomor_kk"] for row in rows}


def kk(families, *names) -> set[str]:
    return {families[name].kk_number for name in names}


def test_without_filters_the_list_shows_the_regencys_kpm_only(dinsos, period, families):
    assert listed(dinsos, period) == kk(families, "siti", "budi", "rahmat")


@pytest.mark.parametrize("query,expected", [
    ({"area": KECAMATAN}, ("siti", "budi")),
    ({"area": VILLAGE_OTHER_KECAMATAN}, ("rahmat",)),
    ({"status": "received"}, ("siti",)),
    ({"status": "failed", "area": KECAMATAN}, ()),
    ({"q": "aminah"}, ("siti",)),  # the other regency's Siti Aminah stays out
    ({"q": "santoso", "status": "scheduled"}, ("budi",)),
])
def test_the_filters_filter_the_page_and_the_export_alike(dinsos, period, families, query, expected):
    assert listed(dinsos, period, **query) == kk(families, *expected)
    assert exported(dinsos, period, **query) == kk(families, *expected)


def test_the_search_finds_a_family_by_its_kk_number(dinsos, period, families):
    assert listed(dinsos, period, q=families["rahmat"].kk_number) == kk(families, "rahmat")


def test_the_list_shows_no_nik_and_its_export_links_carry_the_filters(dinsos, period, families):
    response = dinsos.get(reverse("kpm-list"), {"period": period.pk, "area": KECAMATAN, "status": "received"})
    body = response.content.decode()
    assert families["siti"].members.get().nik not in body
    assert f"daftar-kpm.csv?period={period.pk}&amp;area={KECAMATAN}&amp;status=received" in body


@pytest.mark.parametrize("query", [{"area": VILLAGE_OTHER_REGENCY}, {"status": "paid_twice"}, {"q": "%%"}])
def test_a_bad_filter_is_said_beside_its_field_and_refused_by_the_export(dinsos, period, families, query):
    response = dinsos.get(reverse("kpm-list"), {"period": period.pk, **query})
    assert response.status_code == 200 and response.context["filter"].form.errors
    assert families["away"].kk_number not in {d.family.kk_number for d in response.context["page"].object_list}
    assert dinsos.get(reverse("kpm-export", args=["csv"]), {"period": period.pk, **query}).status_code == 400
    assert not PersonalDataAccess.objects.exists()


def test_the_background_excel_export_keeps_the_filters(dinsos, period, families, monkeypatch, settings,
                                                       tmp_path):
    from distribution import views
    from privacy.services import export_job_run

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(views, "BACKGROUND_EXPORT_ROWS", 0)
    url = reverse("kpm-export", args=["xlsx"]) + f"?period={period.pk}&area={KECAMATAN}&status=scheduled"
    assert dinsos.post(url).status_code == 302
    job = ExportJob.objects.get()
    assert job.filters == {"period": period.pk, "area": KECAMATAN, "status": "scheduled"}
    export_job_run(job.pk)
    job.refresh_from_db()
    assert job.state == ExportJob.State.DONE and job.rows_done == 1  # Budi only


def test_the_list_pages_and_keeps_its_filters(dinsos, period, monkeypatch):
    from distribution import views

    monkeypatch.setattr(views, "KPM_PER_PAGE", 2)
    in_meranti = {kpm(period, VILLAGE, f"Warga {n}").kk_number for n in range(3)}
    kpm(period, VILLAGE_OTHER_KECAMATAN, "Warga lain")
    first = dinsos.get(reverse("kpm-list"), {"period": period.pk, "area": KECAMATAN})
    assert f"area={KECAMATAN}&amp;page=2" in first.content.decode()
    second = dinsos.get(reverse("kpm-list"), {"period": period.pk, "area": KECAMATAN, "page": 2})
    pages = [{d.family.kk_number for d in r.context["page"].object_list} for r in (first, second)]
    assert pages[0] | pages[1] == in_meranti and not pages[0] & pages[1]


def test_the_list_reads_a_fixed_number_of_queries(dinsos, period, django_assert_num_queries):
    dinsos.get(reverse("kpm-list"), {"period": period.pk})
    for n in (1, 4):
        for _ in range(n):
            kpm(period, VILLAGE, "Warga")
        # session, user, area (header), periods, the picker's villages and kecamatan, how many KPM, the page,
        # the page's payments' history
        with django_assert_num_queries(9):
            response = dinsos.get(reverse("kpm-list"), {"period": period.pk, "area": KECAMATAN,
                                                        "status": "scheduled"})
        assert response.status_code == 200


def test_village_staff_cannot_open_the_kpm_list(period):
    operator = client_for(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert operator.get(reverse("kpm-list"), {"period": period.pk}).status_code == 403
