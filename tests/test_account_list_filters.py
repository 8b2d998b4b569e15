"""Dinsos finds village accounts by username or name, role, area and status, page by page, in a fixed number
of queries; another regency's accounts never show, whatever the query string says."""
import pytest
from django.urls import reverse

from accounts.models import Role

from .factories import (
    KECAMATAN,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    UserFactory,
    client_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id=REGENCY)


@pytest.fixture
def accounts():
    return {
        "sari": UserFactory(username="op-meranti", first_name="Sari", last_name="Lubis",
                            role=Role.VILLAGE_OPERATOR, area_id=VILLAGE),
        "kades": UserFactory(username="kades-meranti", first_name="Ahmad", role=Role.VILLAGE_HEAD, area_id=VILLAGE),
        "tksk": UserFactory(username="tksk-meranti", first_name="Rina", role=Role.FACILITATOR, area_id=KECAMATAN),
        "airjoman": UserFactory(username="op-airjoman", first_name="Budi", role=Role.VILLAGE_OPERATOR,
                                area_id=VILLAGE_OTHER_KECAMATAN, is_active=False),
        "away": UserFactory(username="op-siantar", first_name="Sari", role=Role.VILLAGE_OPERATOR,
                            area_id=VILLAGE_OTHER_REGENCY),
    }


def listed(client, **query) -> set[str]:
    response = client.get(reverse("account-list"), query)
    assert response.status_code == 200
    return {u.username for u in response.context["users"]}


def test_the_search_finds_by_username_or_by_name(dinsos, accounts):
    client = client_for(dinsos)
    assert listed(client, q="airjoman") == {"op-airjoman"}
    assert listed(client, q="sari") == {"op-meranti"}  # the other regency's Sari stays out
    assert listed(client, q="lubis") == {"op-meranti"}


def test_the_role_area_and_status_filters_filter(dinsos, accounts):
    client = client_for(dinsos)
    assert listed(client, role=Role.FACILITATOR) == {"tksk-meranti"}
    # A kecamatan takes its villages' accounts with it; a village only its own.
    assert listed(client, area=KECAMATAN) == {"op-meranti", "kades-meranti", "tksk-meranti"}
    assert listed(client, area=VILLAGE) == {"op-meranti", "kades-meranti"}
    assert listed(client, active="no") == {"op-airjoman"}
    assert listed(client, active="yes", role=Role.VILLAGE_OPERATOR) == {"op-meranti"}


@pytest.mark.parametrize("query", [{"area": VILLAGE_OTHER_REGENCY}, {"area": "12.72"}, {"role": "dinsos"},
                                   {"active": "maybe"}])
def test_a_value_that_is_no_choice_is_refused_beside_its_field_and_widens_nothing(dinsos, accounts, query):
    response = client_for(dinsos).get(reverse("account-list"), query)
    assert response.status_code == 200 and response.context["filter"].form.errors
    assert "op-siantar" not in {u.username for u in response.context["users"]}


def test_the_list_pages_and_keeps_its_filters(dinsos, monkeypatch):
    from accounts import views

    monkeypatch.setattr(views, "ACCOUNTS_PER_PAGE", 2)
    operators = {UserFactory(username=f"op-{n}", area_id=VILLAGE).username for n in range(3)}
    UserFactory(username="tksk-x", role=Role.FACILITATOR, area_id=KECAMATAN)
    client = client_for(dinsos)
    first = client.get(reverse("account-list"), {"role": Role.VILLAGE_OPERATOR})
    assert "role=village_operator&amp;page=2" in first.content.decode()
    second = client.get(reverse("account-list"), {"role": Role.VILLAGE_OPERATOR, "page": 2})
    assert {u.username for u in first.context["users"]} | {u.username for u in second.context["users"]} == operators


def test_the_list_reads_a_fixed_number_of_queries(dinsos, django_assert_num_queries):
    client = client_for(dinsos)
    client.get(reverse("account-list"))
    for n in (1, 5):
        for i in range(n):
            UserFactory(username=f"op-{n}-{i}", first_name="Sari", area_id=VILLAGE)
        # session, user, area (header), the picker's villages and kecamatan, how many accounts, the page,
        # the page's accounts' history and the names of the areas it names
        with django_assert_num_queries(9):
            response = client.get(reverse("account-list"), {"q": "sari", "area": KECAMATAN, "active": "yes"})
        assert response.status_code == 200


def test_the_filter_and_the_new_account_form_share_no_field_id(dinsos):
    body = client_for(dinsos).get(reverse("account-list")).content.decode()
    assert body.count('id="id_role"') == 1 and 'id="filter_role"' in body
