"""The phone's outbox may only forget a visit the portal confirmed by the phone's own id: an expired session
answers 401 JSON (never a redirect to the login page), and a retry after a lost answer stores nothing twice."""
import uuid

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from groundcheck import services
from groundcheck.models import Visit

from ..factories import KECAMATAN, UserFactory
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def facilitator():
    return UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)


@pytest.fixture
def visit_data(facilitator):
    entry = make_round(1).entries.get()
    assignment = services.assignment_create(actor=UserFactory(role=Role.DINSOS, area_id="12.09"),
                                            family_id=entry.family_id, facilitator_id=facilitator.pk, note="")
    return {"assignment": assignment.pk, "client_uuid": str(uuid.uuid4()), "visited_at": "2026-11-22T09:30:00Z",
            "recommendation": "continue", "latitude": "2.95", "longitude": "99.6", "floor_type": "earth"}


def test_a_visit_sent_after_the_session_expired_answers_401_json_not_a_redirect(facilitator, visit_data):
    client = Client(enforce_csrf_checks=False)
    client.force_login(facilitator)
    Session.objects.all().delete()  # the session ended on the server while the phone was offline
    response = client.post(reverse("groundcheck-visit"), visit_data)
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "unauthenticated" and body["login_url"].startswith(reverse("login"))
    assert "masuk lagi" in body["errors"]["__all__"][0]
    assert not Visit.objects.exists()


def test_an_anonymous_visit_answers_401_json(visit_data):
    response = Client().post(reverse("groundcheck-visit"), visit_data)
    assert response.status_code == 401 and response.json()["status"] == "unauthenticated"


def test_a_stored_visit_is_confirmed_by_the_phones_id_and_a_retry_stores_nothing_twice(facilitator, visit_data):
    client = Client()
    client.force_login(facilitator)
    first = client.post(reverse("groundcheck-visit"), visit_data)
    again = client.post(reverse("groundcheck-visit"), visit_data)  # the first answer was lost on the way
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["client_uuid"] == again.json()["client_uuid"] == visit_data["client_uuid"]
    assert first.json()["id"] == again.json()["id"] == Visit.objects.get(client_uuid=visit_data["client_uuid"]).pk
