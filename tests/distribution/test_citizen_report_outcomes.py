"""Outcomes that do something. An accepted objection flags the family in the village's open round and becomes a
ground-check for the kecamatan's least busy facilitator; an accepted usulan is entered as a proposal of the open
round (or the next one), prefilled from the report, through verification's proposal creation. The citizen's
status page follows either to the centre's answer."""
import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Role
from distribution import services
from distribution.models import CitizenReport
from dtsen_portal.errors import InvalidState
from groundcheck.models import Assignment
from verification.models import CentreOutcome, RoundFamily, RoundState, VerificationRound

from ..factories import (
    KECAMATAN,
    VILLAGE,
    VILLAGE_SAME_KECAMATAN,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    kk_for,
    nik_for,
    registered_reporter,
    round_with_families,
    village,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


def file_report(kind="sanggahan", **fields) -> CitizenReport:
    data = {"kind": kind, "village": VILLAGE, "subject_name": "Siti Aminah", "subject_nik": "",
            "reason": "Sudah mampu", "website": "", **registered_reporter()} | fields
    response = Client().post(reverse("cek-bansos-report"), data)
    assert response.status_code == 302, response.content.decode()[:300]
    return CitizenReport.objects.get(reason=data["reason"])


def progress(report: CitizenReport) -> str:
    return Client().get(reverse("cek-bansos-status"), {"reference": report.reference}).context["progress"]


def says(message: str) -> str:
    with translation.override("id"):
        return translation.gettext(message)


# -- objections -----------------------------------------------------------------------------------------------
def test_an_accepted_objection_goes_to_the_least_busy_facilitator_not_the_lowest_id(operator):
    busy, free = (UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN) for _ in range(2))
    assert busy.pk < free.pk
    for _ in range(2):
        Assignment.objects.create(family=FamilyFactory(village=village(VILLAGE)), facilitator=busy)
    Assignment.objects.create(family=FamilyFactory(village=village(VILLAGE)), facilitator=free,
                              completed_at=timezone.now())  # a finished visit is no load
    round_ = round_with_families(0)
    subject = MemberFactory(family=FamilyFactory(village=village(VILLAGE)), name="Siti Aminah")
    entry = RoundFamily.objects.create(round=round_, family=subject.family)
    report = file_report(subject_nik=subject.nik)
    assert progress(report) == says("Received, waiting for the village")
    services.report_resolve(actor=operator, report_id=report.pk, accept=True, resolution="")
    report.refresh_from_db()
    assert report.assignment.facilitator == free and report.assignment.family == subject.family
    assert report.assignment.source == Assignment.Source.OBJECTION
    assert RoundFamily.objects.get(pk=entry.pk).flagged and report.entry == entry
    assert progress(report) == says(
        "In the village's verval round; a facilitator will check the family on the ground.")
    Assignment.objects.filter(pk=report.assignment_id).update(completed_at=timezone.now())
    assert progress(report) == says(
        "In the village's verval round; the facilitator has checked the family on the ground.")


def test_an_objection_about_no_known_family_needs_the_kk_number_of_a_family_of_the_village(operator):
    UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    elsewhere = FamilyFactory(village=village(VILLAGE_SAME_KECAMATAN))
    family = FamilyFactory(village=village(VILLAGE))
    report = file_report()  # no NIK of the person concerned
    for kk in ("", elsewhere.kk_number):
        with pytest.raises(InvalidState) as refused:
            services.report_resolve(actor=operator, report_id=report.pk, accept=True, resolution="", kk_number=kk)
        assert "kk_number" in refused.value.field_errors
    assert CitizenReport.objects.get(pk=report.pk).status == "received" and not Assignment.objects.exists()
    client_for(operator).post(reverse("report-resolve", args=[report.pk]),
                              {"action": "accept", "resolution": "", "kk_number": family.kk_number})
    report.refresh_from_db()
    assert report.status == "accepted" and report.family == family
    assert report.assignment.family == family
    # No open round: it waits for the next one, with the ground-check under way.
    assert progress(report) == says("Accepted; a facilitator will check the family on the ground, and it will be "
                                    "discussed in the next verval round.")


# -- usulan ---------------------------------------------------------------------------------------------------
def proposal_post(round_id: int, report_id: int, nik: str) -> dict:
    return {"laporan": str(report_id), "kk_number": kk_for(VILLAGE), "dusun": "Dusun I", "rt": "001", "rw": "002",
            "address": "Jl. Baru", "members-TOTAL_FORMS": "1", "members-INITIAL_FORMS": "1",
            "members-MIN_NUM_FORMS": "1", "members-MAX_NUM_FORMS": "1000", "members-0-nik": nik,
            "members-0-name": "Keluarga Baru", "members-0-sex": "L", "members-0-birth_place": "Kisaran",
            "members-0-birth_date": "1980-05-17", "members-0-relationship": "head", "members-0-disability": "none",
            "members-0-life_status": "present"}


def test_an_accepted_usulan_is_entered_prefilled_through_proposal_creation_and_followed_to_the_centre(operator):
    round_ = round_with_families(0)
    nik = nik_for(VILLAGE, dt.date(1980, 5, 17))
    report = file_report("usulan", subject_name="Keluarga Baru", subject_nik=nik, reason="Belum terdata")
    services.report_resolve(actor=operator, report_id=report.pk, accept=True, resolution="")
    assert progress(report) == says(
        "Accepted; the village has yet to enter it as an usulan in its current verval round.")
    client = client_for(operator)
    queue = client.get(reverse("report-queue")).content.decode()
    link = f'{reverse("round-proposal", args=[round_.pk])}?laporan={report.pk}'
    assert link in queue
    form = client.get(link)
    assert form.context["members"].forms[0]["name"].value() == "Keluarga Baru"
    assert form.context["members"].forms[0]["nik"].value() == nik
    response = client.post(reverse("round-proposal", args=[round_.pk]), proposal_post(round_.pk, report.pk, nik))
    assert response.status_code == 302, response.context and response.context["members"].errors
    report.refresh_from_db()
    entry = report.entry
    assert entry.is_proposal and entry.round == round_ and entry.family.members.get().nik == nik
    assert progress(report) == says("Entered as an usulan in the village's verval round.")
    # Entered once: a second entry of the same report is refused.
    assert client.get(link).status_code == 302
    VerificationRound.objects.filter(pk=round_.pk).update(state=RoundState.SUBMITTED)
    assert progress(report) == says("In the village's verval, sent to the regency for approval.")
    VerificationRound.objects.filter(pk=round_.pk).update(state=RoundState.APPROVED)
    assert progress(report) == says(
        "Approved by the regency with the village's verval; waiting for the centre's answer.")
    CitizenReport.objects.filter(pk=report.pk).update(centre_outcome=CentreOutcome.ACCEPTED)
    with translation.override("id"):
        expected = translation.gettext("The centre's answer: %(outcome)s.") % {
            "outcome": CentreOutcome.ACCEPTED.label}
    assert progress(report) == expected


def test_an_accepted_usulan_waits_for_the_next_round_then_can_be_entered(operator):
    report = file_report("usulan", subject_name="Keluarga Baru", reason="Belum terdata")
    services.report_resolve(actor=operator, report_id=report.pk, accept=True, resolution="")
    client = client_for(operator)
    assert 'data-testid="enter-usulan"' not in client.get(reverse("report-queue")).content.decode()
    assert progress(report) == says("Accepted; it will be discussed in the next verval round.")
    round_ = round_with_families(0)
    assert f'?laporan={report.pk}' in client.get(reverse("report-queue")).content.decode()
    assert round_.state in (RoundState.OPEN, RoundState.IN_VERIFICATION)


def test_an_usulan_cannot_be_entered_in_another_villages_round(operator):
    other_round = round_with_families(0, code=VILLAGE_SAME_KECAMATAN)
    report = file_report("usulan", subject_name="Keluarga Baru", reason="Belum terdata")
    services.report_resolve(actor=operator, report_id=report.pk, accept=True, resolution="")
    admin = UserFactory(role=Role.ADMIN, area=None)
    with pytest.raises(InvalidState):
        services.report_proposal_create(actor=admin, report_id=report.pk, round_id=other_round.pk, family_data={},
                                        members=[{"relationship": "head"}])
    assert CitizenReport.objects.get(pk=report.pk).entry is None


def test_an_unaccepted_report_cannot_be_entered_as_an_usulan(operator):
    round_ = round_with_families(0)
    report = file_report("usulan", subject_name="Keluarga Baru", reason="Belum terdata")
    response = client_for(operator).get(f'{reverse("round-proposal", args=[round_.pk])}?laporan={report.pk}')
    assert response.status_code == 302 and not RoundFamily.objects.filter(is_proposal=True).exists()
