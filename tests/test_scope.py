"""The area scope: every role sees exactly its own area, and anything outside answers 404."""
import pytest
from django.apps import apps
from django.http import Http404

from accounts.models import Role, User
from accounts.scope import get_scoped_or_404, scope_queryset, user_covers_code
from registry.models import DesilRanking, Family, Member
from tests.factories import (
    KECAMATAN,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    VILLAGE_SAME_KECAMATAN,
    DesilRankingFactory,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    village,
)

pytestmark = pytest.mark.django_db

# Which of the four test families each role must see.
ROLE_CASES = {
    Role.VILLAGE_OPERATOR: (VILLAGE, {"home"}),
    Role.VILLAGE_HEAD: (VILLAGE, {"home"}),
    Role.FACILITATOR: (KECAMATAN, {"home", "same_kecamatan"}),
    Role.DINSOS: (REGENCY, {"home", "same_kecamatan", "other_kecamatan"}),
}


@pytest.fixture
def families():
    places = {
        "home": VILLAGE,
        "same_kecamatan": VILLAGE_SAME_KECAMATAN,
        "other_kecamatan": VILLAGE_OTHER_KECAMATAN,
        "other_regency": VILLAGE_OTHER_REGENCY,
    }
    result = {}
    for key, code in places.items():
        family = FamilyFactory(village=village(code))
        MemberFactory(family=family)
        DesilRankingFactory(family=family)
        result[key] = family
    return result


@pytest.mark.parametrize("role", list(ROLE_CASES))
def test_each_role_sees_only_families_of_its_area(role, families):
    area, visible = ROLE_CASES[role]
    user = UserFactory(role=role, area_id=area)
    expected = {families[k].pk for k in visible}
    assert set(scope_queryset(user, Family.objects.all()).values_list("pk", flat=True)) == expected
    assert set(scope_queryset(user, Member.objects.all()).values_list("family_id", flat=True)) == expected
    assert set(scope_queryset(user, DesilRanking.objects.all()).values_list("family_id", flat=True)) == expected


@pytest.mark.parametrize("role", list(ROLE_CASES))
def test_object_outside_the_area_answers_404_for_each_role(role, families):
    area, visible = ROLE_CASES[role]
    user = UserFactory(role=role, area_id=area)
    for key, family in families.items():
        if key in visible:
            assert get_scoped_or_404(user, Family.objects.all(), pk=family.pk) == family
        else:
            with pytest.raises(Http404):
                get_scoped_or_404(user, Family.objects.all(), pk=family.pk)


def test_administrator_sees_every_area(families):
    admin = UserFactory(role=Role.ADMIN, area_id=None)
    assert scope_queryset(admin, Family.objects.all()).count() == 4
    superuser = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=None, is_superuser=True)
    assert scope_queryset(superuser, Family.objects.all()).count() == 4


def test_user_without_area_or_inactive_or_anonymous_sees_nothing(families):
    from django.contrib.auth.models import AnonymousUser

    no_area = UserFactory(role=Role.DINSOS, area_id=None)
    inactive = UserFactory(role=Role.DINSOS, area_id=REGENCY, is_active=False)
    for user in (no_area, inactive, AnonymousUser()):
        assert not scope_queryset(user, Family.objects.all()).exists()


def test_prefix_match_does_not_leak_into_a_sibling_with_a_longer_code():
    # "12.09.08.2002" must not cover "12.09.08.20021"-like codes, nor kecamatan 12.09.0 cover 12.09.08.
    user = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    assert user_covers_code(user, VILLAGE)
    assert not user_covers_code(user, "12.09.080.2002")
    assert not user_covers_code(user, VILLAGE_OTHER_KECAMATAN)


def test_every_model_that_users_read_declares_its_scope():
    # A new model without area_scope_path would be unreadable through the scope (it fails loudly);
    # this keeps the list honest for the project's own apps.
    own_apps = {"registry", "accounts", "verification", "distribution", "central"}
    missing = [
        m.__name__ for m in apps.get_models()
        if m._meta.app_label in own_apps and not m.__name__.startswith("Historical")
        and not getattr(m, "area_scope_path", None) and not getattr(m, "unscoped_reference_data", False)
    ]
    assert missing == []


def test_role_area_level_is_validated():
    from django.core.exceptions import ValidationError

    wrong = User(username="x", role=Role.VILLAGE_OPERATOR, area_id=REGENCY)
    with pytest.raises(ValidationError) as exc:
        wrong.clean()
    assert "area" in exc.value.message_dict
    missing = User(username="y", role=Role.DINSOS)
    with pytest.raises(ValidationError):
        missing.clean()
    User(username="z", role=Role.DINSOS, area_id=REGENCY).clean()
