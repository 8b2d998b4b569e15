"""REST API basics: token and session auth, scoped lists, the stable error shape and its language."""
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import (
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    DesilRankingFactory,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    village,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def families():
    home = FamilyFactory(village=village(VILLAGE))
    MemberFactory(family=home)
    DesilRankingFactory(family=home)
    away = FamilyFactory(village=village(VILLAGE_OTHER_REGENCY))
    MemberFactory(family=away)
    return home, away


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_family_list_by_token_holds_only_the_users_area(families):
    home, away = families
    body = token_client(UserFactory(role=Role.DINSOS, area_id=REGENCY)).get("/api/v1/families/").json()
    assert [f["kk_number"] for f in body["results"]] == [home.kk_number]
    nik = home.members.get().nik
    assert body["results"][0]["members"][0]["nik"] == nik[:4] + "********" + nik[-4:]  # a list masks NIKs
    assert body["results"][0]["desil_history"][0]["desil"] == 3


def test_family_of_another_area_answers_404_in_the_stable_shape(families):
    _home, away = families
    response = token_client(UserFactory(role=Role.VILLAGE_OPERATOR)).get(f"/api/v1/families/{away.pk}/")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "field_errors"}
    assert response.json()["message"] == "Tidak ditemukan."


def test_errors_speak_english_when_asked(families):
    _home, away = families
    client = token_client(UserFactory(role=Role.VILLAGE_OPERATOR))
    response = client.get(f"/api/v1/families/{away.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["message"] == "Not found."


def test_anonymous_request_is_refused_with_401():
    response = APIClient().get("/api/v1/families/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_family_list_query_count_does_not_grow_with_families(django_assert_max_num_queries):
    for _ in range(30):
        MemberFactory(family=FamilyFactory())
    client = token_client(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/families/?page_size=30")
    assert len(response.json()["results"]) == 30


def test_search_by_nik_finds_the_family_once(families):
    home, _away = families
    MemberFactory(family=home, relationship="child", birth_date=home.members.get().birth_date)
    nik = home.members.first().nik
    client = token_client(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    results = client.get(f"/api/v1/families/?search={nik}").json()["results"]
    assert [f["id"] for f in results] == [home.pk]


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_every_stored_code_comes_with_its_label_in_the_requests_language():
    from tests.factories import round_with_families
    from verification.models import RoundFamily

    round_ = round_with_families(1)
    RoundFamily.objects.filter(round=round_).update(decision="not_eligible", reason="well_off")
    client = token_client(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    entry = client.get("/api/v1/decisions/").json()["results"][0]
    assert (entry["decision"], entry["decision_display"]) == ("not_eligible", "Tidak layak")
    assert entry["reason_display"] == "Mampu"
    assert client.get(f"/api/v1/rounds/{round_.pk}/").json()["state_display"] == "Dibuka"
    english = client.get("/api/v1/decisions/", HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]
    assert english["decision_display"] == "Not eligible"
