"""The round's rules, enforced by the services whatever the browser sends."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Role
from dtsen_portal.errors import Conflict, InvalidState, NotAllowed, NotInScope
from registry.models import Family, Member
from verification import services
from verification.models import FieldCorrection, Musdesus, RoundEvent, RoundFamily, RoundState, VerificationRound

from ..factories import VILLAGE, VILLAGE_SAME_KECAMATAN, FamilyFactory, MemberFactory, UserFactory, nik_for
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db
ELIGIBLE, NOT_ELIGIBLE = RoundFamily.Decision.ELIGIBLE, RoundFamily.Decision.NOT_ELIGIBLE


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE, first_name="Rina", last_name="Operator")


@pytest.fixture
def head():
    return UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE)


def fresh(round_):
    # django-fsm's protected state field cannot be refreshed in place; read the round again.
    return VerificationRound.objects.get(pk=round_.pk)


def decide_all(round_, operator, decision=ELIGIBLE):
    for entry in round_.entries.all():
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=decision,
                              expected_version=entry.version)


def hold_musdesus(round_, operator):
    return services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20),
                                    place="Balai Desa", chair="Sekretaris Desa", notes="",
                                    attendees=[{"name": "Pak RT", "role": "Ketua RT", "count": 6}])


def test_the_first_decision_starts_the_round_and_records_who(operator):
    round_ = make_round(2)
    entry = round_.entries.first()
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=NOT_ELIGIBLE,
                          reason="well_off", note="Punya mobil", expected_version=1)
    entry.refresh_from_db()
    round_ = fresh(round_)
    assert round_.state == RoundState.IN_VERIFICATION
    assert (entry.decision, entry.reason, entry.decided_by, entry.version) == (NOT_ELIGIBLE, "well_off", operator, 2)
    assert RoundEvent.objects.filter(round=round_, to_state=RoundState.IN_VERIFICATION, actor=operator).exists()


def test_not_eligible_needs_a_reason_and_a_refusal_changes_nothing(operator):
    round_ = make_round(1)
    entry = round_.entries.get()
    with pytest.raises(InvalidState):
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=NOT_ELIGIBLE,
                              expected_version=1)
    entry.refresh_from_db()
    assert (entry.decision, entry.version) == ("", 1)


def test_a_second_operator_with_an_old_version_gets_a_conflict_and_the_first_save_stands(operator):
    colleague = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = make_round(1)
    entry = round_.entries.get()
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=ELIGIBLE,
                          expected_version=1)
    with pytest.raises(Conflict, match="Rina Operator"):
        services.entry_decide(actor=colleague, round_id=round_.pk, entry_id=entry.pk, decision=NOT_ELIGIBLE,
                              reason="moved", expected_version=1)
    entry.refresh_from_db()
    assert (entry.decision, entry.decided_by) == (ELIGIBLE, operator)


@pytest.mark.parametrize("role,area,error", [
    (Role.VILLAGE_OPERATOR, VILLAGE_SAME_KECAMATAN, NotInScope),  # a forged POST for another village
    (Role.VILLAGE_HEAD, VILLAGE, NotAllowed),
    (Role.FACILITATOR, "12.09.08", NotAllowed),
    (Role.DINSOS, "12.09", NotAllowed),
])
def test_only_the_villages_own_operator_decides(role, area, error):
    round_ = make_round(1)
    entry = round_.entries.get()
    with pytest.raises(error):
        services.entry_decide(actor=UserFactory(role=role, area_id=area), round_id=round_.pk, entry_id=entry.pk,
                              decision=ELIGIBLE, expected_version=1)
    entry.refresh_from_db()
    assert entry.decision == ""


def test_bulk_decision_is_all_or_nothing(operator):
    round_ = make_round(3)
    entries = list(round_.entries.order_by("pk"))
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entries[0].pk, decision=ELIGIBLE,
                          expected_version=1)
    with pytest.raises(Conflict, match=entries[0].family.kk_number):
        services.entries_decide_bulk(actor=operator, round_id=round_.pk, versions={e.pk: 1 for e in entries},
                                     decision=NOT_ELIGIBLE, reason="not_found")
    assert list(RoundFamily.objects.filter(pk__in=[e.pk for e in entries[1:]]).values_list("decision", flat=True)) \
        == ["", ""]
    done = services.entries_decide_bulk(actor=operator, round_id=round_.pk,
                                        versions={e.pk: 1 for e in entries[1:]}, decision=ELIGIBLE)
    assert done == 2 and services.round_progress(round_)["decided"] == 3


def test_a_correction_keeps_before_and_after_in_the_round_and_in_the_register_history(operator):
    round_ = make_round(1)
    entry = round_.entries.get()
    family = entry.family
    count = services.family_correct(actor=operator, round_id=round_.pk, entry_id=entry.pk,
                                    changes={"floor_type": "ceramic", "has_car": True}, expected_version=1)
    assert count == 2
    corrections = {c.field: (c.old_value, c.new_value, c.corrected_by) for c in FieldCorrection.objects.all()}
    assert corrections["floor_type"] == ("Tanah", "Keramik", operator)
    assert corrections["has_car"] == ("tidak", "ya", operator)
    family.refresh_from_db()
    assert family.floor_type == "ceramic" and family.version == 2
    record = family.history.latest()
    assert record.history_user == operator and record.history_type == "~"
    entry.refresh_from_db()
    assert entry.decision == RoundFamily.Decision.CORRECTED


def test_member_changes_mark_deceased_and_add_a_newborn_with_a_valid_nik(operator):
    round_ = make_round(1)
    entry = round_.entries.get()
    spouse = MemberFactory(family=entry.family, relationship="spouse", sex="P", birth_date=dt.date(1985, 3, 2))
    with pytest.raises(InvalidState, match="tanggal meninggal"):
        services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=spouse.pk,
                               changes={"life_status": "deceased"}, expected_version=1)
    with pytest.raises(InvalidState, match="masa depan"):
        services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=spouse.pk,
                               changes={"life_status": "deceased", "life_event_date": dt.date(2099, 1, 1)},
                               expected_version=1)
    services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=spouse.pk,
                           changes={"life_status": "deceased", "life_event_date": dt.date(2026, 9, 30)},
                           expected_version=1)
    born = dt.date(2026, 10, 1)
    baby = services.member_add(actor=operator, round_id=round_.pk, entry_id=entry.pk, expected_version=2, data={
        "nik": nik_for(VILLAGE, born, "P"), "name": "Bayi Putri", "sex": "P", "birth_date": born,
        "relationship": "child", "education": "", "occupation": "", "disability": "none",
        "life_status": "present", "birth_place": "Meranti"})
    assert baby.family_id == entry.family_id
    fields = list(FieldCorrection.objects.order_by("id").values_list("field", "new_value"))
    assert fields[:2] == [("life_status", "Meninggal"), ("life_event_date", "2026-09-30")]
    assert fields[2][0] == FieldCorrection.ADDED
    with pytest.raises(ValidationError):
        services.member_add(actor=operator, round_id=round_.pk, entry_id=entry.pk, expected_version=3, data={
            "nik": "1209081234", "name": "Salah", "sex": "L", "birth_date": born, "relationship": "child"})
    assert entry.family.members.count() == 3


def test_a_proposal_shows_possible_duplicates_first_and_refuses_a_nik_already_registered(operator):
    round_ = make_round(1)
    existing = round_.entries.get().family.members.get()
    born = dt.date(1990, 7, 7)
    member = {"nik": nik_for(VILLAGE, born), "name": existing.name, "sex": "L", "birth_date": existing.birth_date,
              "relationship": "head", "education": "sd", "occupation": "Petani", "disability": "none",
              "life_status": "present", "birth_place": ""}
    family = {"kk_number": "1209081501250001", "dusun": "Dusun II", "rt": "003", "rw": "001", "address": "Gg. Baru"}
    with pytest.raises(services.PossibleDuplicates) as caught:
        services.proposal_create(actor=operator, round_id=round_.pk, family_data=family, members=[member])
    assert not caught.value.blocking and caught.value.candidates[0]["family_id"] == existing.family_id
    entry = services.proposal_create(actor=operator, round_id=round_.pk, family_data=family, members=[member],
                                     confirm_duplicates=True)
    assert entry.is_proposal and entry.family.origin == Family.Origin.PROPOSAL
    assert entry.family.village_id == VILLAGE and entry.family.members.count() == 1
    with pytest.raises(services.PossibleDuplicates) as caught:
        services.proposal_create(actor=operator, round_id=round_.pk, members=[{**member, "name": "Lain"}],
                                 family_data={**family, "kk_number": "1209081501250002"}, confirm_duplicates=True)
    assert caught.value.blocking
    assert Family.objects.filter(origin=Family.Origin.PROPOSAL).count() == 1


def test_musdesus_needs_every_family_decided_then_freezes_decisions(operator):
    round_ = make_round(2)
    first = round_.entries.first()
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=first.pk, decision=ELIGIBLE,
                          expected_version=1)
    with pytest.raises(InvalidState, match="1"):
        hold_musdesus(round_, operator)
    assert not Musdesus.objects.exists()
    last = round_.entries.exclude(pk=first.pk).get()
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=last.pk, decision=ELIGIBLE,
                          expected_version=1)
    musdesus = hold_musdesus(round_, operator)
    round_ = fresh(round_)
    assert round_.state == RoundState.MUSDESUS_HELD and musdesus.total_attendance == 6
    assert musdesus.document_number.startswith(f"BA-{VILLAGE}-")
    with pytest.raises(InvalidState):
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=last.pk, decision=NOT_ELIGIBLE,
                              reason="moved", expected_version=2)


def test_submission_needs_the_village_heads_own_sign_off_and_then_the_round_is_read_only(operator, head):
    round_ = make_round(2)
    decide_all(round_, operator)
    hold_musdesus(round_, operator)
    with pytest.raises(InvalidState, match="Kepala desa harus menyetujui"):
        services.round_submit(actor=operator, round_id=round_.pk)
    with pytest.raises(NotAllowed):
        services.musdesus_sign_off(actor=operator, round_id=round_.pk)
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    with pytest.raises(InvalidState):
        services.musdesus_sign_off(actor=head, round_id=round_.pk)
    with pytest.raises(NotAllowed):
        services.round_submit(actor=head, round_id=round_.pk)
    services.round_submit(actor=operator, round_id=round_.pk)
    round_ = fresh(round_)
    assert round_.state == RoundState.SUBMITTED
    entry = round_.entries.first()
    with pytest.raises(InvalidState):
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=NOT_ELIGIBLE,
                              reason="moved", expected_version=entry.version)
    with pytest.raises(InvalidState):
        services.family_correct(actor=operator, round_id=round_.pk, entry_id=entry.pk,
                                changes={"floor_type": "ceramic"}, expected_version=entry.version)
    assert list(RoundEvent.objects.filter(round=round_).values_list("to_state", flat=True)) == [
        RoundState.IN_VERIFICATION, RoundState.MUSDESUS_HELD, RoundState.MUSDESUS_HELD, RoundState.SUBMITTED]


def test_a_returned_round_reopens_with_the_regencys_notes_on_the_round_and_the_family(operator, head):
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    round_ = make_round(2)
    decide_all(round_, operator)
    hold_musdesus(round_, operator)
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    services.round_submit(actor=operator, round_id=round_.pk)
    entry = round_.entries.first()
    services.round_return(actor=dinsos, round_id=round_.pk, note="Periksa ulang KK berikut",
                          family_notes={entry.pk: "Kepala keluarga sudah pindah?"})
    round_ = fresh(round_)
    entry.refresh_from_db()
    assert round_.state == RoundState.RETURNED and round_.return_note == "Periksa ulang KK berikut"
    assert entry.return_note == "Kepala keluarga sudah pindah?"
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=NOT_ELIGIBLE,
                          reason="moved", expected_version=entry.version)
    round_ = fresh(round_)
    assert round_.state == RoundState.IN_VERIFICATION


def test_reopening_the_musdesus_withdraws_the_sign_off(operator, head):
    round_ = make_round(1)
    decide_all(round_, operator)
    hold_musdesus(round_, operator)
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    services.musdesus_reopen(actor=operator, round_id=round_.pk)
    assert Musdesus.objects.get(round=round_).signed_off_at is None
    round_ = fresh(round_)
    assert round_.state == RoundState.IN_VERIFICATION


def test_members_of_another_family_cannot_be_changed_through_this_one(operator):
    round_ = make_round(1)
    entry = round_.entries.get()
    stranger = MemberFactory(family=FamilyFactory())
    with pytest.raises(NotInScope):
        services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=stranger.pk,
                               changes={"life_status": "moved"}, expected_version=1)
    assert Member.objects.get(pk=stranger.pk).life_status == "present"


def test_signing_off_first_shows_what_is_signed_and_signs_only_on_the_explicit_confirmation(operator, head):
    from django.urls import reverse

    from ..factories import client_for

    round_ = make_round(2)
    decide_all(round_, operator)
    hold_musdesus(round_, operator)
    client, url = client_for(head), reverse("round-musdesus-sign", args=[round_.pk])
    summary = client.post(url).content.decode()
    assert Musdesus.objects.get(round=round_).signed_off_at is None  # nothing signed by the first button
    assert "Tanda tangani berita acara?" in summary and "2 keluarga" in summary and 'name="confirm"' in summary
    assert round_.musdesus.document_number in summary
    client.post(url, {"confirm": "1"})
    assert Musdesus.objects.get(round=round_).signed_off_by == head
    # Once signed, the confirmation page is not offered again.
    assert client.post(url).url == reverse("round-musdesus", args=[round_.pk])
