"""The regency's round list filters by state (shown as labels), kecamatan and village name or code, keeps the
review queue (?state=submitted), pages, and reads a fixed number of queries whatever the filters."""
import pytest
from django.urls import reverse

from accounts.models import Role
from verification.models import RoundState

from ..factories import (
    KECAMATAN,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    VILLAGE_SAME_KECAMATAN,
    UserFactory,
    client_for,
    round_with_families,
    submitted_round,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id=REGENCY)


@pytest.fixture
def rounds():
    """Meranti (open), Perkebunan Sei Balai (submitted) in kecamatan Meranti; Air Joman (in verification)
    in another kecamatan; Kebun Sayur in another regency."""
    return {
        "meranti": round_with_families(1, code=VILLAGE, state=RoundState.OPEN),
        "sei_balai": submitted_round(code=VILLAGE_SAME_KECAMATAN, n=1)[0],
        "air_joman": round_with_families(1, code=VILLAGE_OTHER_KECAMATAN, state=RoundState.IN_VERIFICATION),
        "other_regency": round_with_families(1, code=VILLAGE_OTHER_REGENCY, state=RoundState.OPEN),
    }


def listed(client, **query) -> set[int]:
    response = client.get(reverse("round-list"), query)
    assert response.status_code == 200
    return {r.pk for r in response.context["rounds"]}


def test_without_filters_the_list_shows_every_round_of_the_regency_and_nothing_beyond(dinsos, rounds):
    assert listed(client_for(dinsos)) == {rounds[k].pk for k in ("meranti", "sei_balai", "air_joman")}


def test_the_state_filter_keeps_the_review_queue_working(dinsos, rounds):
    client = client_for(dinsos)
    assert listed(client, state="submitted") == {rounds["sei_balai"].pk}
    assert listed(client, state="in_verification") == {rounds["air_joman"].pk}


def test_the_kecamatan_filter_shows_only_that_kecamatans_villages(dinsos, rounds):
    assert listed(client_for(dinsos), kecamatan=KECAMATAN) == {rounds["meranti"].pk, rounds["sei_balai"].pk}


def test_the_search_finds_a_village_by_name_or_by_code(dinsos, rounds):
    client = client_for(dinsos)
    assert listed(client, q="air jom") == {rounds["air_joman"].pk}
    assert listed(client, q=VILLAGE) == {rounds["meranti"].pk}
    assert listed(client, q="sei balai", state="open") == set()  # filters combine
    assert listed(client, q="kebun sayur") == set()  # another regency's village stays out


@pytest.mark.parametrize("query", [{"kecamatan": "12.72.01"}, {"kecamatan": "x' OR 1=1"}, {"state": "bogus"}])
def test_a_value_that_is_no_choice_cannot_widen_the_list(dinsos, rounds, query):
    response = client_for(dinsos).get(reverse("round-list"), query)
    assert response.status_code == 200
    assert rounds["other_regency"].pk not in {r.pk for r in response.context["rounds"]}
    assert response.context["filter"].form.errors  # said beside the field, not silently


def test_the_filter_bar_shows_state_labels_and_the_regencys_kecamatan_only(dinsos, rounds):
    body = client_for(dinsos).get(reverse("round-list")).content.decode()
    state_select = body.split('name="state"')[1].split("</select>")[0]
    assert 'value="submitted"' in state_select and ">submitted<" not in state_select
    kecamatan_select = body.split('name="kecamatan"')[1].split("</select>")[0]
    assert f'value="{KECAMATAN}"' in kecamatan_select and "12.72.01" not in kecamatan_select


def test_pages_keep_the_filters(dinsos, monkeypatch):
    from verification import views

    monkeypatch.setattr(views, "ROUNDS_PER_PAGE", 2)
    in_meranti = {round_with_families(1, code=VILLAGE).pk for _ in range(3)}
    round_with_families(1, code=VILLAGE_OTHER_KECAMATAN)
    client = client_for(dinsos)
    first = client.get(reverse("round-list"), {"kecamatan": KECAMATAN})
    assert f"kecamatan={KECAMATAN}&amp;page=2" in first.content.decode()
    second = client.get(reverse("round-list"), {"kecamatan": KECAMATAN, "page": 2})
    assert {r.pk for r in first.context["rounds"]} | {r.pk for r in second.context["rounds"]} == in_meranti


def test_the_filtered_list_reads_a_fixed_number_of_queries(dinsos, django_assert_num_queries):
    client = client_for(dinsos)
    client.get(reverse("round-list"))
    for code in (VILLAGE, VILLAGE_SAME_KECAMATAN, VILLAGE_OTHER_KECAMATAN):
        round_with_families(3, code=code)
        # session, user, area (header), the kecamatan choices, how many rounds, the page with its counts
        with django_assert_num_queries(6):
            response = client.get(reverse("round-list"), {"kecamatan": KECAMATAN, "state": "open", "q": "a"})
        assert response.status_code == 200
