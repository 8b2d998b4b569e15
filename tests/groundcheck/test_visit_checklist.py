"""The visit form's checklist beside the register: the phone shows the register's values as labels, a visit
that agrees is recorded as the register's own values, and an item marked "not as registered" without the value
seen is kept by name and reads in words on the village's and Dinsos' side."""
import datetime as dt
import json
import re
import uuid
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from dtsen_portal.errors import InvalidState
from groundcheck import selectors, services
from groundcheck.forms import VisitForm
from groundcheck.models import Visit
from verification.models import RoundFamily

from ..factories import KECAMATAN, UserFactory
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db
WHEN = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)
NOT_NOTED = "tidak sesuai register (nilai di lapangan tidak dicatat)"


@pytest.fixture
def facilitator():
    return UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)


def assign(facilitator, n=1):
    round_ = make_round(n)
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    return [services.assignment_create(actor=dinsos, family_id=entry.family_id, facilitator_id=facilitator.pk)
            for entry in round_.entries.order_by("pk")]


@pytest.fixture
def assignment(facilitator):
    return assign(facilitator)[0]


def record(facilitator, assignment, **overrides):
    data = {"actor": facilitator, "assignment_id": assignment.pk, "client_uuid": uuid.uuid4(), "visited_at": WHEN,
            "checklist": {}, "findings": "", "recommendation": "continue"}
    data.update(overrides)
    return services.visit_record(**data)


def phone_post(assignment, **fields):
    """What the phone sends: every item answered "as registered" carries the register's value."""
    data = {"assignment": assignment.pk, "client_uuid": str(uuid.uuid4()), "visited_at": "2026-11-22T09:30:00Z",
            "recommendation": "continue", "latitude": "2.95", "longitude": "99.6"}
    data.update({name: value for name, (value, _label) in selectors.register_checklist(assignment.family).items()
                 if value})
    data.update(fields)
    return data


def test_the_register_values_are_given_with_their_labels_never_as_codes_alone(assignment):
    register = selectors.register_checklist(assignment.family)
    assert register["floor_type"] == ["earth", "Tanah"]
    assert register["has_car"] == ["0", "tidak"]
    assert register["floor_area_m2"] == ["", ""]  # the register holds nothing: nothing to agree with
    assert register["house_ownership"] == ["", ""]
    assert list(register) == list(services.CHECKLIST_FIELDS)


def test_a_visit_that_agrees_with_the_register_flags_nothing(facilitator, assignment):
    client = Client()
    client.force_login(facilitator)
    response = client.post(reverse("groundcheck-visit"), phone_post(assignment))
    assert response.status_code == 201
    visit = Visit.objects.get()
    assert visit.checklist["floor_type"] == "earth" and visit.checklist["has_car"] is False
    assert visit.differences == [] and visit.mismatches == []
    assert not RoundFamily.objects.get(pk=assignment.entry_id).flagged


def test_an_item_marked_not_as_registered_without_a_value_is_a_difference_in_words(facilitator, assignment):
    visit, _ = record(facilitator, assignment, mismatches=["wall_type"])
    assert visit.mismatches == ["wall_type"] and visit.checklist == {}
    assert visit.differences == [["wall_type", "dinding", "Anyaman bambu", NOT_NOTED]]
    assert RoundFamily.objects.get(pk=assignment.entry_id).flagged


def test_a_noted_value_outweighs_marking_the_same_item_not_as_registered(facilitator, assignment):
    visit, _ = record(facilitator, assignment, checklist={"floor_type": "ceramic"},
                      mismatches=["floor_type", "floor_type"])
    assert visit.mismatches == []
    assert visit.differences == [["floor_type", "lantai", "Tanah", "Keramik"]]


def test_an_unknown_item_marked_not_as_registered_is_refused_and_nothing_is_stored(facilitator, assignment):
    with pytest.raises(InvalidState):
        record(facilitator, assignment, mismatches=["password"])
    assert not Visit.objects.exists()


def test_the_phone_form_sends_mismatches_by_name_and_ignores_the_taps_it_keeps_for_itself(facilitator,
                                                                                          assignment):
    client = Client()
    client.force_login(facilitator)
    data = phone_post(assignment, floor_type="ceramic", mismatches=["roof_type", "has_car"],
                      check_floor_type="change", check_roof_type="disagree")
    del data["roof_type"], data["has_car"]
    response = client.post(reverse("groundcheck-visit"), data)
    assert response.status_code == 201 and response.json()["differences"] == 3
    visit = Visit.objects.get()
    assert visit.mismatches == ["roof_type", "has_car"]
    assert [d[0] for d in visit.differences] == ["floor_type", "roof_type", "has_car"]
    assert "check_floor_type" not in visit.checklist


def test_the_form_refuses_an_unknown_item_marked_not_as_registered(assignment):
    form = VisitForm(phone_post(assignment, mismatches=["desil"]))
    assert not form.is_valid() and "mismatches" in form.errors


def test_a_visit_for_an_assignment_that_is_gone_answers_json_so_the_phone_does_not_wait_on_it(facilitator):
    client = Client()
    client.force_login(facilitator)
    data = {"assignment": 999999, "client_uuid": str(uuid.uuid4()), "visited_at": "2026-11-22T09:30:00Z",
            "recommendation": "continue"}
    response = client.post(reverse("groundcheck-visit"), data)
    assert response.status_code == 404 and response.json()["status"] == "refused"
    assert response.json()["errors"]["__all__"] == ["Keluarga ini tidak ditugaskan kepada Anda."]


def test_the_api_takes_and_shows_items_marked_not_as_registered(assignment):
    client = APIClient()
    client.force_authenticate(assignment.facilitator)
    payload = {"assignment": assignment.pk, "client_uuid": str(uuid.uuid4()), "visited_at": "2026-11-22T09:30:00Z",
               "recommendation": "continue", "checklist": {"floor_type": "earth"}, "mismatches": ["toilet"]}
    response = client.post("/api/v1/visits/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["mismatches"] == ["toilet"]
    assert response.json()["differences"] == [["toilet", "fasilitas BAB", "-", NOT_NOTED]]
    refused = client.post("/api/v1/visits/", {**payload, "client_uuid": str(uuid.uuid4()), "mismatches": ["nik"]},
                          format="json")
    assert refused.status_code == 400 and list(refused.json()["field_errors"]) == ["mismatches"]


def test_the_village_reads_an_item_marked_not_as_registered_in_words(facilitator, assignment):
    record(facilitator, assignment, mismatches=["wall_type"])
    entry = RoundFamily.objects.select_related("round").get(pk=assignment.entry_id)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=entry.round.village_id)
    client = Client()
    client.force_login(operator)
    page = client.get(reverse("round-entry", args=[entry.round_id, entry.pk])).content.decode()
    table = re.search(r'<table[^>]*data-testid="differences".*?</table>', page, re.S).group(0)
    cells = [unescape(cell) for cell in re.findall(r"<td[^>]*>(?:<(?:del|ins)>)?([^<]*)", table)]
    assert cells == ["dinding", "Anyaman bambu", NOT_NOTED]


def test_the_phone_page_carries_each_familys_register_values_in_a_fixed_number_of_queries(
        facilitator, django_assert_num_queries):
    assign(facilitator, n=1)
    client = Client()
    client.force_login(facilitator)
    with django_assert_num_queries(5) as one:
        client.get(reverse("groundcheck-home"))
    assign(facilitator, n=4)
    with django_assert_num_queries(len(one.captured_queries)):
        page = client.get(reverse("groundcheck-home")).content.decode()
    registers = [json.loads(unescape(value)) for value in re.findall(r'data-register="([^"]*)"', page)]
    assert len(registers) == 5
    assert all(register["floor_type"] == ["earth", "Tanah"] for register in registers)
