"""Ground-check visits: stored once per phone id, only by the assigned facilitator, flagging disagreements."""
import datetime as dt
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import Role
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from groundcheck import services
from groundcheck.models import Assignment, Visit
from verification.models import RoundFamily

from ..factories import KECAMATAN, VILLAGE, UserFactory
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db
WHEN = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def facilitator():
    return UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN, first_name="Pendamping")


@pytest.fixture
def assignment(facilitator):
    round_ = make_round(1)
    entry = round_.entries.get()
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    return services.assignment_create(actor=dinsos, family_id=entry.family_id, facilitator_id=facilitator.pk,
                                      note="Cek lantai")


def photo(name="rumah.jpg", size=(3000, 2000), exif=True) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (120, 90, 60))
    buffer = io.BytesIO()
    exif_data = Image.Exif()
    if exif:
        exif_data[0x010F] = "PhoneMaker"  # Make: must not survive
    image.save(buffer, format="JPEG", exif=exif_data)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def record(facilitator, assignment, **overrides):
    data = {"actor": facilitator, "assignment_id": assignment.pk, "client_uuid": uuid.uuid4(), "visited_at": WHEN,
            "checklist": {"floor_type": "ceramic", "has_car": False}, "findings": "Rumah sudah dikeramik",
            "recommendation": "reverify", "latitude": "2.95", "longitude": "99.60", "accuracy_m": 12}
    data.update(overrides)
    return services.visit_record(**data)


def test_a_visit_that_disagrees_flags_the_family_with_both_values(facilitator, assignment):
    visit, created = record(facilitator, assignment)
    assert created and visit.entry_id == assignment.entry_id
    assert visit.differences == [["floor_type", "lantai", "Tanah", "Keramik"]]
    assert RoundFamily.objects.get(pk=assignment.entry_id).flagged
    assert Assignment.objects.get(pk=assignment.pk).completed_at is not None


def test_the_same_phone_id_twice_is_stored_once(facilitator, assignment):
    same = uuid.uuid4()
    first, created = record(facilitator, assignment, client_uuid=same)
    again, created_again = record(facilitator, assignment, client_uuid=same, findings="kirim ulang")
    assert created and not created_again and first.pk == again.pk
    assert Visit.objects.count() == 1 and Visit.objects.get().findings == "Rumah sudah dikeramik"


def test_only_the_assigned_facilitator_may_record(assignment):
    colleague = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    with pytest.raises(NotAllowed):
        record(colleague, assignment)
    assert not Visit.objects.exists()


def test_photos_are_shrunk_and_stripped_of_metadata(facilitator, assignment):
    visit, _ = record(facilitator, assignment, photos=[photo()])
    stored = visit.photos.get()
    assert max(stored.width, stored.height) == 1600
    with stored.image.open("rb") as handle:
        image = Image.open(handle)
        assert image.format == "JPEG" and not image.getexif()


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_stored(facilitator, assignment):
    fake = SimpleUploadedFile("rumah.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    with pytest.raises(Exception, match="bukan gambar|not an image|JPEG"):
        record(facilitator, assignment, photos=[fake])
    assert not Visit.objects.exists()


def test_the_endpoint_answers_json_and_refuses_gps_outside_indonesia(facilitator, assignment):
    client = Client()
    client.force_login(facilitator)
    data = {"assignment": assignment.pk, "client_uuid": str(uuid.uuid4()), "visited_at": "2026-11-22T09:30:00Z",
            "recommendation": "continue", "latitude": "51.5", "longitude": "-0.12", "floor_type": "earth"}
    response = client.post(reverse("groundcheck-visit"), data)
    assert response.status_code == 400 and "di luar Indonesia" in response.json()["errors"]["latitude"][0]
    data.update(latitude="2.95", longitude="99.6")
    response = client.post(reverse("groundcheck-visit"), data)
    assert response.status_code == 201 and response.json()["status"] == "stored"
    assert client.post(reverse("groundcheck-visit"), data).json()["status"] == "duplicate"
    assert Visit.objects.count() == 1


def test_the_village_can_request_a_ground_check_from_the_kecamatans_least_busy_facilitator(facilitator):
    busy = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    round_ = make_round(2)
    first, second = round_.entries.order_by("pk")
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    services.assignment_create(actor=dinsos, family_id=first.family_id, facilitator_id=busy.pk)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    assignment = services.assignment_request_by_village(actor=operator, entry_id=second.pk, note="Pindah?")
    assert assignment.facilitator == facilitator and assignment.source == Assignment.Source.VILLAGE_FLAG


def test_dinsos_cannot_assign_outside_its_regency_or_to_a_facilitator_of_another_kecamatan(facilitator):
    round_ = make_round(1)
    family_id = round_.entries.get().family_id
    with pytest.raises(NotInScope):
        services.assignment_create(actor=UserFactory(role=Role.DINSOS, area_id="12.72"), family_id=family_id,
                                   facilitator_id=facilitator.pk)
    elsewhere = UserFactory(role=Role.FACILITATOR, area_id="12.09.09")
    with pytest.raises(InvalidState):
        services.assignment_create(actor=UserFactory(role=Role.DINSOS, area_id="12.09"), family_id=family_id,
                                   facilitator_id=elsewhere.pk)
