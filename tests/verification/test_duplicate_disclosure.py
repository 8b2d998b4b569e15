"""The duplicate check of an usulan looks across the whole country but tells the operator only what lies in
their own area: a candidate elsewhere is named as "outside your area" with who can resolve it, never by its
KK, NIK, family id, names or village."""
import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from registry.models import Family
from verification import services

from ..factories import (
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    VILLAGE_SAME_KECAMATAN,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    kk_for,
    nik_for,
    round_with_families,
    village,
)

pytestmark = pytest.mark.django_db
BORN = dt.date(1979, 3, 9)


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


@pytest.fixture
def round_():
    return round_with_families(1)


@pytest.fixture
def foreign():
    """A family in another regency (Kota Pematangsiantar), with a name nobody in the test types."""
    family = FamilyFactory(village=village(VILLAGE_OTHER_REGENCY))
    return MemberFactory(family=family, name="Rahasia Kebun Sayur", birth_date=BORN)


@pytest.fixture
def neighbour():
    """A family of another village of the same regency (and kecamatan)."""
    family = FamilyFactory(village=village(VILLAGE_SAME_KECAMATAN))
    return MemberFactory(family=family, name="Tetangga Sei Balai", birth_date=BORN)


def member(nik, name="Pengusul Baru", born=BORN):
    return {"nik": nik, "name": name, "sex": "L", "birth_place": "Kisaran", "birth_date": born.isoformat(),
            "relationship": "head", "disability": "none", "life_status": "present"}


def secrets_of(person) -> list[str]:
    fam = person.family
    return [fam.kk_number, person.nik, person.name, fam.village.name, f"/keluarga/{fam.pk}/",
            f'"family_id": {fam.pk}']


def post_page(operator, round_, kk, people, **extra):
    data = {"kk_number": kk, "dusun": "Dusun I", "rt": "001", "rw": "002", "address": "Jl. Baru",
            "members-TOTAL_FORMS": str(len(people)), "members-INITIAL_FORMS": "0",
            "members-MIN_NUM_FORMS": "1", "members-MAX_NUM_FORMS": "1000", **extra}
    for i, person in enumerate(people):
        data.update({f"members-{i}-{k}": v for k, v in person.items()})
    client = Client()
    client.force_login(operator)
    return client.post(reverse("round-proposal", args=[round_.pk]), data)


def post_api(operator, round_, kk, people):
    client = APIClient()
    client.force_authenticate(operator)
    return client.post("/api/v1/proposals/", {
        "round": round_.pk, "family": {"kk_number": kk, "dusun": "I", "rt": "001", "rw": "002", "address": "Jl."},
        "members": people}, format="json")


def test_a_nik_registered_in_another_regency_is_refused_on_the_page_without_saying_where(operator, round_, foreign):
    response = post_page(operator, round_, kk_for(VILLAGE), [member(foreign.nik)])
    page = response.content.decode()
    for secret in secrets_of(foreign)[:1] + secrets_of(foreign)[2:]:  # the typed NIK is the operator's own input
        assert secret not in page, secret
    assert response.status_code == 200 and "sudah ada dalam register" in page
    assert "di luar wilayah Anda" in page and "pusat" in page.lower()
    assert not Family.objects.filter(origin=Family.Origin.PROPOSAL).exists()


def test_a_nik_registered_in_another_regency_answers_409_without_its_family(operator, round_, foreign):
    response = post_api(operator, round_, kk_for(VILLAGE), [member(foreign.nik)])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "possible_duplicates" and body["details"]["blocking"] is True
    [candidate] = body["details"]["candidates"]
    assert candidate["in_area"] is False and candidate["family_id"] is None
    assert candidate["kk_number"] is None and candidate["village"] is None
    assert "pusat" in candidate["resolver"].lower()
    text = json.dumps(body)
    for secret in secrets_of(foreign)[:1] + secrets_of(foreign)[2:]:
        assert secret not in text, secret


def test_a_kk_registered_elsewhere_is_refused_and_the_answer_names_no_place(operator, round_, foreign):
    response = post_api(operator, round_, foreign.family.kk_number, [member(nik_for(VILLAGE, BORN))])
    assert response.status_code == 409 and response.json()["details"]["blocking"] is True
    text = json.dumps(response.json())
    for secret in secrets_of(foreign)[1:]:
        assert secret not in text, secret


def test_a_namesake_in_another_village_of_the_regency_points_to_the_regencys_dinsos(operator, round_, neighbour):
    people = [member(nik_for(VILLAGE, BORN), name=neighbour.name.upper())]
    response = post_page(operator, round_, kk_for(VILLAGE), people)
    page = response.content.decode()
    for secret in secrets_of(neighbour):  # typed in capitals: the register's spelling stays hidden
        assert secret not in page, secret
    assert "di luar wilayah Anda" in page and "Dinas Sosial" in page and "Asahan" in page
    # A name-and-birth-date match only needs a look: the operator can still save after checking.
    response = post_page(operator, round_, kk_for(VILLAGE), people, confirm_duplicates="1")
    assert response.status_code == 302
    assert Family.objects.filter(origin=Family.Origin.PROPOSAL).count() == 1


def test_a_candidate_inside_the_area_keeps_its_link_and_kk(operator, round_):
    existing = round_.entries.get().family.members.get()
    people = [member(nik_for(VILLAGE, existing.birth_date), name=existing.name, born=existing.birth_date)]
    page = post_page(operator, round_, kk_for(VILLAGE), people).content.decode()
    assert f"/keluarga/{existing.family_id}/" in page and existing.family.kk_number in page


def test_dinsos_sees_its_whole_regency_but_not_another(round_, neighbour, foreign):
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    people = [{"nik": nik_for(VILLAGE, BORN), "name": neighbour.name, "birth_date": BORN},
              {"nik": nik_for(VILLAGE, BORN), "name": foreign.name, "birth_date": BORN}]
    candidates = services.proposal_duplicates(kk_number=kk_for(VILLAGE), members=people, actor=dinsos)
    inside = [c for c in candidates if c["in_area"]]
    outside = [c for c in candidates if not c["in_area"]]
    assert [c["family_id"] for c in inside] == [neighbour.family_id]
    assert len(outside) == 1 and outside[0]["family_id"] is None and "pusat" in outside[0]["resolver"].lower()


def test_the_check_runs_the_same_queries_whether_a_nik_is_registered_elsewhere_or_nowhere(operator, foreign):
    def queries(nik):
        with CaptureQueriesContext(connection) as captured:
            services.proposal_duplicates(kk_number=kk_for(VILLAGE), members=[member(nik)], actor=operator)
        return len(captured)

    assert queries(foreign.nik) == queries(nik_for(VILLAGE, BORN))


def test_a_respelled_name_in_the_area_is_shown_side_by_side_and_the_operator_can_go_on(operator, round_):
    existing = round_.entries.get().family.members.get()
    existing.name = "Muhammad Yusuf Siregar"
    existing.save()
    typed = member(nik_for(VILLAGE, existing.birth_date), name="M. Joesoef Siregar", born=existing.birth_date)
    response = post_page(operator, round_, kk_for(VILLAGE), [typed])
    page = response.content.decode()
    assert response.status_code == 200 and 'data-testid="side-by-side"' in page
    assert "M. Joesoef Siregar" in page and "Muhammad Yusuf Siregar" in page
    assert f"/keluarga/{existing.family_id}/" in page and 'data-testid="stop-proposal"' in page
    assert not Family.objects.filter(origin=Family.Origin.PROPOSAL).exists()
    response = post_page(operator, round_, kk_for(VILLAGE), [typed], confirm_duplicates="1")
    assert response.status_code == 302
    assert Family.objects.filter(origin=Family.Origin.PROPOSAL).count() == 1


def test_a_respelled_name_with_a_swapped_date_elsewhere_reveals_nothing_of_it(operator, round_, foreign):
    foreign.name, foreign.birth_date = "Siti Nurhaliza Damanik", dt.date(1979, 3, 9)
    foreign.save()
    typed = member(nik_for(VILLAGE, BORN), name="Hj. Siti Nur Haliza Damanik", born=dt.date(1979, 9, 3))
    response = post_api(operator, round_, kk_for(VILLAGE), [typed])
    assert response.status_code == 409 and response.json()["details"]["blocking"] is False
    [candidate] = response.json()["details"]["candidates"]
    assert candidate["in_area"] is False and candidate["kinds"] == ["similar"] and candidate["side_by_side"] == []
    text = json.dumps(response.json())
    for secret in secrets_of(foreign) + ["1979-03-09"]:
        assert secret not in text, secret


def test_someone_merely_born_the_same_day_is_not_a_candidate(operator, round_, neighbour):
    people = [member(nik_for(VILLAGE, BORN), name="Bambang Pratama")]
    assert services.proposal_duplicates(kk_number=kk_for(VILLAGE), members=people, actor=operator) == []


def test_the_check_runs_the_same_queries_whether_a_similar_name_is_found_or_not(operator, foreign):
    def queries(name):
        with CaptureQueriesContext(connection) as captured:
            services.proposal_duplicates(kk_number=kk_for(VILLAGE), actor=operator,
                                         members=[{**member(nik_for(VILLAGE, BORN), name=name), "birth_date": BORN}])
        return len(captured)

    assert queries("Rahasia Kebun Sayur Siregar") == queries("Nama Lain Sekali")


def test_the_api_gives_the_side_by_side_of_a_similar_person_in_the_area(operator, round_):
    existing = round_.entries.get().family.members.get()
    existing.name = "Siti Nurhaliza Lubis"
    existing.save()
    swapped = existing.birth_date.replace(day=existing.birth_date.month, month=existing.birth_date.day) \
        if existing.birth_date.day <= 12 else existing.birth_date.replace(year=existing.birth_date.year + 1)
    response = post_api(operator, round_, kk_for(VILLAGE),
                        [member(nik_for(VILLAGE, swapped), name="Hj. Sitti Nur Haliza Lubis", born=swapped)])
    assert response.status_code == 409 and response.json()["details"]["blocking"] is False
    [candidate] = response.json()["details"]["candidates"]
    [pair] = candidate["side_by_side"]
    assert candidate["family_id"] == existing.family_id and candidate["kinds"] == ["similar"]
    assert pair["name"] == "Siti Nurhaliza Lubis" and pair["birth_date"] == existing.birth_date.isoformat()
    assert pair["typed_name"] == "Hj. Sitti Nur Haliza Lubis" and pair["reasons"]
