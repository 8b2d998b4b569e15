"""A deadline for the village: a citizen's report is due 14 days after it came. Still waiting after that, it has
escalated: Dinsos sees it first in its queue, marked overdue, and may resolve it; the regency scorecard counts it
against the village. Before that, the report is the village's alone."""
import csv
import datetime as dt
import io
import re
from html import unescape

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from distribution import services
from distribution.models import CitizenReport
from dtsen_portal.errors import NotAllowed
from verification.models import UpdatePeriod

from ..factories import VILLAGE, VILLAGE_SAME_KECAMATAN, UserFactory, client_for, registered_reporter

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id="12.09")


def file_report(village_code=VILLAGE, reason="Sudah mampu") -> CitizenReport:
    cache.clear()  # the village's report allowance is not what these tests are about
    Client().post(reverse("cek-bansos-report"), {
        "kind": "sanggahan", "village": village_code, "subject_name": "Siti Aminah", "reason": reason,
        "website": "", **registered_reporter(village_code)})
    return CitizenReport.objects.get(reason=reason)


def overdue(report: CitizenReport, days: int = 1) -> CitizenReport:
    CitizenReport.objects.filter(pk=report.pk).update(due_on=TODAY - dt.timedelta(days=days))
    report.refresh_from_db()
    return report


def test_a_report_is_due_fourteen_days_after_it_came():
    report = file_report()
    assert report.due_on == TODAY + dt.timedelta(days=14) and not report.is_overdue


def test_before_its_due_date_dinsos_may_not_resolve_it_and_it_is_not_marked_overdue(dinsos):
    report = file_report()
    with pytest.raises(NotAllowed) as refused:
        services.report_resolve(actor=dinsos, report_id=report.pk, accept=True, resolution="")
    assert report.due_on.strftime("%d-%m-%Y") in refused.value.message
    page = client_for(dinsos).get(reverse("report-queue")).content.decode()
    assert 'data-testid="overdue"' not in page
    assert reverse("report-resolve", args=[report.pk]) not in page  # no form to resolve it yet
    assert CitizenReport.objects.get(pk=report.pk).status == CitizenReport.Status.RECEIVED


def test_past_its_due_date_it_comes_first_in_dinsos_queue_marked_overdue_and_dinsos_resolves_it(dinsos):
    fresh = file_report(reason="Baru saja")
    late = overdue(file_report(reason="Lama sekali"))
    client = client_for(dinsos)
    page = client.get(reverse("report-queue")).content.decode()
    assert page.index(late.reference) < page.index(fresh.reference)  # the overdue one first
    assert page.count('data-testid="overdue"') == 1
    assert reverse("report-resolve", args=[late.pk]) in page
    assert reverse("report-resolve", args=[fresh.pk]) not in page
    client.post(reverse("report-resolve", args=[late.pk]), {"action": "reject", "resolution": "Tidak terbukti"})
    late.refresh_from_db()
    assert (late.status, late.resolved_by, late.resolution) == ("rejected", dinsos, "Tidak terbukti")
    assert not late.is_overdue


def test_dinsos_of_another_regency_cannot_resolve_an_overdue_report():
    late = overdue(file_report())
    stranger = client_for(UserFactory(role=Role.DINSOS, area_id="12.72"))
    assert stranger.post(reverse("report-resolve", args=[late.pk]), {"action": "accept"}).status_code == 404
    assert CitizenReport.objects.get(pk=late.pk).status == CitizenReport.Status.RECEIVED


def test_the_village_operator_still_resolves_an_overdue_report():
    late = overdue(file_report())
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    services.report_resolve(actor=operator, report_id=late.pk, accept=False, resolution="Sudah dicek")
    assert CitizenReport.objects.get(pk=late.pk).status == CitizenReport.Status.REJECTED


def row_text(page: str, village_code: str) -> str:
    match = re.search(rf'<tr data-village="{re.escape(village_code)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {village_code}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def test_the_regency_scorecard_counts_each_villages_overdue_reports(dinsos):
    UpdatePeriod.objects.create(code="2026-Q4", name="Periode uji", starts_on=TODAY - dt.timedelta(days=60),
                                ends_on=TODAY + dt.timedelta(days=30), verval_deadline=TODAY,
                                publication_on=TODAY + dt.timedelta(days=18))
    overdue(file_report(reason="satu"))
    overdue(file_report(reason="dua"), days=10)
    file_report(reason="belum lewat")  # not yet due: not counted
    resolved = overdue(file_report(reason="sudah selesai"))
    CitizenReport.objects.filter(pk=resolved.pk).update(status=CitizenReport.Status.ACCEPTED)
    overdue(file_report(VILLAGE_SAME_KECAMATAN, reason="tetangga"))
    page = client_for(dinsos).get(reverse("scorecard"), {"kecamatan": "12.09.08"}, HTTP_ACCEPT_LANGUAGE="en")
    page = page.content.decode()
    assert "2 laporan warga terlambat" in row_text(page, VILLAGE)
    assert "1 laporan warga terlambat" in row_text(page, VILLAGE_SAME_KECAMATAN)
    assert re.search(r'data-testid="sum-overdue-reports">3<', page)
    # The scorecard's spreadsheet carries the same counts per village.
    export = client_for(dinsos).get(reverse("scorecard-export", args=["csv"]), {"kecamatan": "12.09.08"})
    by_village = {r["kode_desa"]: r for r in csv.DictReader(io.StringIO(export.content.decode()))}
    assert by_village[VILLAGE]["laporan_warga_lewat_tenggat"] == "2"
    assert by_village[VILLAGE_SAME_KECAMATAN]["laporan_warga_lewat_tenggat"] == "1"
