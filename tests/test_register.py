"""The register's own rules: desil history per publication, current desil = latest, identifiers unique."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from registry.models import DesilRanking, Member
from registry.services import desil_record
from tests.factories import FamilyFactory, MemberFactory

pytestmark = pytest.mark.django_db


def test_current_desil_follows_the_latest_publication_not_the_latest_write():
    family = FamilyFactory(desil=None)
    desil_record(family=family, period=dt.date(2026, 10, 20), desil=3)
    desil_record(family=family, period=dt.date(2026, 8, 20), desil=7)  # a late, older publication
    family.refresh_from_db()
    assert family.desil == 3
    desil_record(family=family, period=dt.date(2026, 11, 20), desil=5)
    family.refresh_from_db()
    assert family.desil == 5
    assert list(family.desil_rankings.values_list("desil", flat=True)) == [5, 3, 7]


def test_recording_the_same_period_again_replaces_it_instead_of_adding_a_row():
    family = FamilyFactory(desil=None)
    desil_record(family=family, period=dt.date(2026, 10, 20), desil=3)
    desil_record(family=family, period=dt.date(2026, 10, 20), desil=4)
    assert DesilRanking.objects.filter(family=family).count() == 1
    family.refresh_from_db()
    assert family.desil == 4


def test_desil_outside_one_to_ten_is_refused_by_the_database():
    family = FamilyFactory()
    with pytest.raises(IntegrityError):
        DesilRanking.objects.create(family=family, period=dt.date(2026, 10, 20), desil=11)


def test_duplicate_kk_number_is_refused_with_a_message():
    family = FamilyFactory()
    copy = FamilyFactory.build(kk_number=family.kk_number, village=family.village)
    with pytest.raises(ValidationError) as exc:
        copy.full_clean()
    assert "kk_number" in exc.value.message_dict


def test_member_with_malformed_nik_fails_validation_in_bahasa_indonesia():
    member = MemberFactory.build(family=FamilyFactory(), nik="12345")
    with pytest.raises(ValidationError) as exc:
        member.full_clean()
    assert exc.value.message_dict["nik"] == ["NIK harus tepat 16 digit; yang diisi 5 digit."]


def test_changes_to_a_family_are_kept_with_before_and_after():
    family = FamilyFactory(floor_type="earth")
    family.floor_type = "ceramic"
    family.save()
    newest, older = family.history.all()[:2]
    delta = newest.diff_against(older)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("floor_type", "earth", "ceramic")]


def test_member_life_status_change_is_audited():
    member = MemberFactory()
    member.life_status = Member.LifeStatus.DECEASED
    member.save()
    assert member.history.count() == 2
    assert member.history.first().life_status == "deceased"
