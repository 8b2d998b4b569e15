"""Payments: KPM list from the centre's determinations, the channel's report checked then applied,
reconciliation that adds up, and the targeting report."""
import datetime as dt

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from distribution import services
from distribution.models import Determination, Disbursement, PaymentPeriod, PendingChange
from registry.services import demo_seed
from verification.models import RoundFamily

from ..factories import VILLAGE_OTHER_REGENCY as OTHER
from ..factories import FamilyFactory, UserFactory, client_for, post_and_run_jobs, round_with_families, village

pytestmark = pytest.mark.django_db


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id="12.09")


@pytest.fixture
def period():
    return PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")


@pytest.fixture
def demo_kpm(dinsos, period):
    demo_seed(regency="12.09", households=120, seed=3, as_of=dt.date(2026, 11, 23))
    services.demo_determinations_create(regency="12.09")
    services.kpm_build(actor=dinsos, period_id=period.pk)
    return list(Disbursement.objects.select_related("family").order_by("pk"))


def report_file(rows, name="laporan.csv"):
    dataset = tablib.Dataset(*rows, headers=["nomor_kk", "saluran", "jumlah", "status", "alasan"])
    return SimpleUploadedFile(name, dataset.export("csv").encode())



def test_programmes_are_seeded_as_data_with_blts_kesra_paying_rp900000(period):
    assert period.amount == 900_000 and period.months == ["2025-10", "2025-11", "2025-12"]
    assert period.programme.max_desil == 4 and period.programme.monthly_amount == 300_000
    assert services.rupiah(1_250_000) == "Rp1.250.000"


def test_the_kpm_list_holds_each_determined_family_once(dinsos, period, demo_kpm):
    assert len(demo_kpm) == Determination.objects.count() == 48  # desil 1-4 of 120 families
    assert services.kpm_build(actor=dinsos, period_id=period.pk) == 0
    assert {d.amount_planned for d in demo_kpm} == {900_000}


def test_the_kpm_list_takes_each_family_once_over_the_months_and_only_inside_the_area(dinsos, period):
    here, twice, away, other_programme = (FamilyFactory(), FamilyFactory(), FamilyFactory(village=village(OTHER)),
                                          FamilyFactory())
    for n, (family, programme, month) in enumerate([
            (here, "BLTS-KESRA", "2025-10"), (twice, "BLTS-KESRA", "2025-10"), (twice, "BLTS-KESRA", "2025-11"),
            (away, "BLTS-KESRA", "2025-10"), (other_programme, "PKH", "2025-10"), (here, "BLTS-KESRA", "2026-01")]):
        Determination.objects.create(determination_id=f"D{n}", central_id=f"C{n}", family=family,
                                     village_id=family.village_id, programme=programme, period=month)
    Determination.objects.create(determination_id="D-none", central_id="C-none", family=None,
                                 village_id=here.village_id, programme="BLTS-KESRA", period="2025-10")
    assert services.kpm_build(actor=dinsos, period_id=period.pk) == 2
    scheduled = Disbursement.objects.filter(period=period)
    assert sorted(scheduled.values_list("family_id", flat=True)) == sorted([here.pk, twice.pk])
    assert {(d.amount_planned, d.status, d.channel, d.programme_id) for d in scheduled} == {
        (900_000, "scheduled", "pos", "BLTS-KESRA")}
    FamilyFactory()  # nothing new determined: nothing added
    assert services.kpm_build(actor=dinsos, period_id=period.pk) == 0


def test_a_report_with_unknown_families_wrong_amounts_or_duplicates_changes_nothing(dinsos, period, demo_kpm):
    first, second = demo_kpm[0].family.kk_number, demo_kpm[1].family.kk_number
    file = report_file([(first, "pos", "900000", "diterima", ""), (first, "pos", "900000", "diterima", ""),
                        (second, "pos", "850000", "tersalur", ""),
                        ("1209089999999999", "pos", "900000", "diterima", "")])
    page = client_for(dinsos).post(f"{reverse('payments')}?period={period.pk}", {"file": file}).content.decode()
    assert "dua kali" in page and "Rp850.000" in page and "1209089999999999" in page
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"scheduled"}


def test_reconciliation_adds_up_to_the_imported_report(dinsos, period, demo_kpm):
    rows = []
    for i, payment in enumerate(demo_kpm):
        status = ("diterima", "tersalur", "retur")[i % 3] if i < 40 else None
        if status:
            rows.append((payment.family.kk_number, "himbara" if i % 2 else "pos", "900.000", status,
                         "rekening tidak aktif" if status == "retur" else ""))
    client = client_for(dinsos)
    preview = client.post(f"{reverse('payments')}?period={period.pk}", {"file": report_file(rows)}).content.decode()
    assert "Tersalur" in preview and ">disbursed<" not in preview and ">returned<" not in preview
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"scheduled"}  # nothing applied yet
    change = PendingChange.objects.get()
    second = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    done = post_and_run_jobs(second, f"{reverse('payments')}?period={period.pk}",
                             {"action": "confirm", "change": change.pk})
    assert "40 penyaluran diperbarui dari laporan" in done.content.decode()
    report = services.reconciliation(user=dinsos, period_id=period.pk)["total"]
    paid_in_report = sum(900_000 for r in rows if r[3] in ("diterima", "tersalur"))
    returned_in_report = sum(900_000 for r in rows if r[3] == "retur")
    assert report["paid"] == paid_in_report
    assert report["returned"] == returned_in_report
    assert report["outstanding"] == 900_000 * (len(demo_kpm) - len(rows))
    assert report["planned"] == report["paid"] + report["returned"] + report["outstanding"]
    page = client.get(f"{reverse('payments')}?period={period.pk}").content.decode()
    assert services.rupiah(paid_in_report) in page


def test_targeting_finds_inclusion_and_exclusion_errors(dinsos, period):
    round_ = round_with_families(3)
    rich, poor_unpaid, poor_paid = [e.family for e in round_.entries.order_by("pk")]
    rich.desil, poor_unpaid.desil, poor_paid.desil = 8, 2, 3
    for family in (rich, poor_unpaid, poor_paid):
        family.save()
    RoundFamily.objects.filter(round=round_).update(decision="eligible")
    for family in (rich, poor_paid):
        Disbursement.objects.create(family=family, programme_id="BLTS-KESRA", period=period, amount_planned=900_000)
    result = services.targeting(user=dinsos, programme_code="BLTS-KESRA")
    assert [f.pk for f in result["inclusion"]] == [rich.pk]
    assert [f.pk for f in result["exclusion"]] == [poor_unpaid.pk]
    csv = client_for(dinsos).get(reverse("targeting"), {"programme": "BLTS-KESRA", "format": "csv"}).content.decode()
    assert f"inklusi,{rich.kk_number}" in csv and f"eksklusi,{poor_unpaid.kk_number}" in csv


def test_eligibility_conditions_kept_as_data_count_in_the_targeting_report(dinsos, period):
    from distribution.models import Programme

    round_ = round_with_families(1)
    family = round_.entries.get().family
    family.desil = 2
    family.save()
    RoundFamily.objects.filter(round=round_).update(decision="eligible")
    assert [f.pk for f in services.targeting(user=dinsos, programme_code="BLTS-KESRA")["exclusion"]] == [family.pk]
    Programme.objects.filter(code="BLTS-KESRA").update(conditions={"min_living_members": 2})  # a one-person card
    assert list(services.targeting(user=dinsos, programme_code="BLTS-KESRA")["exclusion"]) == []
