"""What one request may cost is bounded before the work starts (issue 13, finding 5 and "HTTP 500 for deeply
nested JSON"): every text field of every form has the API's length, and a JSON body nested too deep answers
400 in the API's error shape."""
import importlib
import inspect
import json
from pathlib import Path

import pytest
from django import forms
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from verification.models import Musdesus, RoundFamily

from .factories import VILLAGE, UserFactory, round_with_families

pytestmark = pytest.mark.django_db

HUGE_NOTE = "catatan " * 300_000  # 2.4 MB, the note that kept a worker busy for 13 minutes


def project_form_classes() -> list[type]:
    """Every form class defined in a forms module of the project's own apps."""
    found = []
    for app in apps.get_app_configs():
        if not Path(app.path).is_relative_to(settings.BASE_DIR) or ".venv" in Path(app.path).parts:
            continue
        try:
            module = importlib.import_module(f"{app.name}.forms")
        except ModuleNotFoundError:
            continue
        found += [cls for _name, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__]
    return found


def test_every_text_field_of_every_form_has_a_maximum_length():
    classes = project_form_classes()
    assert len(classes) >= 15  # the walk found the project's forms
    unbounded = [f"{cls.__module__}.{cls.__name__}.{name}" for cls in classes
                 for name, field in cls.base_fields.items()
                 # A UUID field parses its text into a UUID (or refuses it) and keeps no text.
                 if isinstance(field, forms.CharField) and not isinstance(field, forms.UUIDField)
                 and not field.max_length]
    assert unbounded == []


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


def test_a_2_4_mb_decision_note_is_refused_on_the_page_in_bahasa_indonesia_and_nothing_is_saved(operator):
    round_ = round_with_families(1)
    entry = round_.entries.get()
    client = Client()
    client.force_login(operator)
    response = client.post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "eligible", "note": HUGE_NOTE, "version": 1})
    assert response.status_code == 200
    assert "paling banyak 2000 karakter" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.decision, entry.note, entry.version) == ("", "", 1)


def test_a_2_4_mb_musdesus_note_is_refused_and_no_musdesus_is_recorded(operator):
    round_ = round_with_families(1)
    RoundFamily.objects.filter(round=round_).update(decision="eligible")
    client = Client()
    client.force_login(operator)
    response = client.post(reverse("round-musdesus", args=[round_.pk]), {
        "held_on": "2026-11-20", "place": "Balai", "chair": "Kades", "notes": HUGE_NOTE,
        "attendees-TOTAL_FORMS": "1", "attendees-INITIAL_FORMS": "0", "attendees-MIN_NUM_FORMS": "1",
        "attendees-MAX_NUM_FORMS": "1000", "attendees-0-name": "BPD", "attendees-0-role": "BPD",
        "attendees-0-count": "3"})
    assert response.status_code == 200
    assert "paling banyak 4000 karakter" in response.content.decode()
    assert not Musdesus.objects.filter(round=round_).exists()


@pytest.mark.parametrize("path", ["/api/v1/proposals/", "/api/v1/visits/", "/api/v1/families/"])
def test_a_json_body_nested_100000_levels_deep_answers_400_in_the_error_shape(operator, path):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(operator)
    nested = {"a": 1}
    for _level in range(30):
        nested = {"a": [nested]}
    for body in ("[" * 100_000, "[" * 100_000 + "]" * 100_000, json.dumps(nested)):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code in (400, 405), (path, response.status_code)
        if response.status_code == 400:
            assert set(response.json()) >= {"code", "message", "field_errors"}
