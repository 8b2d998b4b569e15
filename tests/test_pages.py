"""The browser pages: login, the home page per role, the family list and the family page with its audit trail."""
import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from registry.models import Family

from .factories import (
    KECAMATAN,
    PASSWORD,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    round_with_families,
    village,
)

pytestmark = pytest.mark.django_db



@pytest.fixture
def spread():
    """Families in the home village (desil 2 and 7), another kecamatan and another regency."""
    home_poor = FamilyFactory(village=village(VILLAGE), desil=2, dusun="Dusun I")
    home_rich = FamilyFactory(village=village(VILLAGE), desil=7, dusun="Dusun II")
    elsewhere = FamilyFactory(village=village(VILLAGE_OTHER_KECAMATAN), desil=3)
    away = FamilyFactory(village=village(VILLAGE_OTHER_REGENCY), desil=1)
    for family in (home_poor, home_rich, elsewhere, away):
        MemberFactory(family=family, name=f"Kepala {family.kk_number}")
    return {"home_poor": home_poor, "home_rich": home_rich, "elsewhere": elsewhere, "away": away}


def test_pages_need_a_login_and_the_login_page_speaks_indonesian():
    response = Client().get(reverse("family-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    page = Client().get(reverse("login")).content.decode()
    assert "Masuk" in page and "Kata sandi" in page


def test_a_wrong_password_says_so_in_indonesian():
    UserFactory(username="siti")
    response = Client().post(reverse("login"), {"username": "siti", "password": "salah"})
    assert response.status_code == 200
    assert "benar" in response.content.decode()  # "Masukkan nama pengguna dan sandi yang benar ..."


def test_login_then_logout():
    UserFactory(username="budi")
    client = Client()
    response = client.post(reverse("login"), {"username": "budi", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("role,area,families,aid_band", [
    (Role.VILLAGE_OPERATOR, VILLAGE, 2, 1),
    (Role.VILLAGE_HEAD, VILLAGE, 2, 1),
    (Role.FACILITATOR, KECAMATAN, 2, 1),
    (Role.DINSOS, REGENCY, 3, 2),
    (Role.ADMIN, None, 4, 3),
])
def test_home_page_shows_the_users_area_and_its_numbers(spread, role, area, families, aid_band):
    user = UserFactory(role=role, area_id=area)
    response = client_for(user).get(reverse("home"))
    summary = response.context["summary"]
    assert (summary["families"], summary["families_desil_1_4"], summary["members"]) == (families, aid_band, families)
    page = response.content.decode()
    if area:
        assert user.area.name in page
    assert "Desil 1" in page


def test_regency_home_breaks_numbers_down_by_kecamatan_with_links(spread):
    response = client_for(UserFactory(role=Role.DINSOS, area_id=REGENCY)).get(reverse("home"))
    rows = {row.label.split()[0]: (row.families, row.aid_band) for row in response.context["breakdown"]}
    assert rows == {KECAMATAN: (2, 1), VILLAGE_OTHER_KECAMATAN[:8]: (1, 1)}
    assert f"?area={KECAMATAN}" in response.content.decode()


def test_village_home_breaks_numbers_down_by_dusun(spread):
    response = client_for(UserFactory(role=Role.VILLAGE_OPERATOR)).get(reverse("home"))
    assert [(r.label, r.families) for r in response.context["breakdown"]] == [("Dusun I", 1), ("Dusun II", 1)]


def test_family_list_shows_only_the_users_area(spread):
    response = client_for(UserFactory(role=Role.DINSOS, area_id=REGENCY)).get(reverse("family-list"))
    shown = {f.pk for f in response.context["page"].object_list}
    assert shown == {spread["home_poor"].pk, spread["home_rich"].pk, spread["elsewhere"].pk}
    assert spread["away"].kk_number not in response.content.decode()


def test_family_list_searches_by_nik_kk_and_name_and_filters_by_desil_and_area(spread):
    client = client_for(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    nik = spread["home_rich"].members.get().nik

    def found(**params):
        return {f.pk for f in client.get(reverse("family-list"), params).context["page"].object_list}

    assert found(q=nik) == {spread["home_rich"].pk}
    assert found(q=spread["elsewhere"].kk_number) == {spread["elsewhere"].pk}
    assert found(q=f"kepala {spread['home_poor'].kk_number}") == {spread["home_poor"].pk}
    assert found(desil=2) == {spread["home_poor"].pk}
    assert found(area=KECAMATAN) == {spread["home_poor"].pk, spread["home_rich"].pk}
    # Another regency's NIK finds nothing, as if it did not exist.
    assert found(q=spread["away"].members.get().nik) == set()


def test_family_list_runs_a_fixed_number_of_queries_whatever_the_page_size(django_assert_num_queries):
    user = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    client = client_for(user)
    client.get(reverse("family-list"))  # warm the session/user caches
    for n in (3, 40):
        Family.objects.all().delete()
        for _ in range(n):
            MemberFactory(family=FamilyFactory())
        # session, user, the user's area (header), count, page of families, village picker
        with django_assert_num_queries(6):
            response = client.get(reverse("family-list"))
        assert response.context["page"].paginator.count == n


def test_home_page_query_count_does_not_grow_with_the_data(spread, django_assert_num_queries):
    round_with_families(2)
    client = client_for(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    # session, user, area, by desil, living members, breakdown, region names, and the regency dashboard:
    # verval per kecamatan, kecamatan names, rounds waiting for review, ground-check coverage, citizens' reports,
    # payments per programme and period; next steps: how many rounds wait for review
    with django_assert_num_queries(14):
        client.get(reverse("home"))
    for _ in range(10):
        MemberFactory(family=FamilyFactory(village=village(VILLAGE_OTHER_KECAMATAN)))
    round_with_families(3, code=VILLAGE_OTHER_KECAMATAN)
    with django_assert_num_queries(14):
        client.get(reverse("home"))


def test_family_page_outside_the_area_answers_404(spread):
    client = client_for(UserFactory(role=Role.VILLAGE_OPERATOR))
    assert client.get(reverse("family-detail", args=[spread["home_poor"].pk])).status_code == 200
    assert client.get(reverse("family-detail", args=[spread["elsewhere"].pk])).status_code == 404
    assert client.get(reverse("family-detail", args=[spread["away"].pk])).status_code == 404


def test_family_page_shows_members_desil_and_who_changed_what(spread):
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, first_name="Rina", last_name="Operator")
    family = spread["home_poor"]
    family.floor_type = "ceramic"
    family._history_user = operator
    family.save()
    member = family.members.get()
    member.life_status = "deceased"
    member._history_user = operator
    member.save()

    response = client_for(operator).get(reverse("family-detail", args=[family.pk]))
    page = response.content.decode()
    assert member.nik in page
    trail = response.context["audit_trail"]
    changes = {(label, str(old), str(new)) for entry in trail for label, old, new in entry.changes}
    assert ("lantai", "Tanah", "Keramik") in changes
    assert ("status keberadaan", "Ada", "Meninggal") in changes
    assert all(entry.who == "Rina Operator" for entry in trail if entry.changes)
    assert "Rina Operator" in page and "Keramik" in page


def test_admin_lists_and_change_pages_are_scoped(spread):
    staff = UserFactory(role=Role.DINSOS, area_id=REGENCY, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_family", "change_family"]))
    client = client_for(staff)
    listing = client.get(reverse("admin:registry_family_changelist"))
    assert listing.status_code == 200
    shown = {f.pk for f in listing.context["cl"].result_list}
    assert shown == {spread["home_poor"].pk, spread["home_rich"].pk, spread["elsewhere"].pk}
    assert client.get(reverse("admin:registry_family_change", args=[spread["home_poor"].pk])).status_code == 200
    assert client.get(reverse("admin:registry_family_change", args=[spread["away"].pk])).status_code == 404
    assert client.get(reverse("admin:registry_family_history", args=[spread["home_poor"].pk])).status_code == 200


def test_every_model_has_an_admin():
    from django.apps import apps
    from django.contrib import admin

    ours = [m for m in apps.get_models()
            if m._meta.app_label in {"accounts", "registry", "verification", "distribution", "central"}
            and not m.__name__.startswith("Historical")]
    assert ours and [m.__name__ for m in ours if not admin.site.is_registered(m)] == []
