"""Evidence on a citizen's report: a photo of the house (checked and re-encoded as the facilitators' photos are,
served only to staff whose area covers the village) and the phone's position (inside Indonesia). A file that is
not an image, a position outside Indonesia or a forged village: a message beside the field, nothing saved."""
import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from accounts.models import Role
from distribution.models import CitizenReport
from groundcheck.forms import OUTSIDE_INDONESIA

from ..factories import KECAMATAN, VILLAGE, VILLAGE_SAME_KECAMATAN, UserFactory, registered_reporter
from ..hostile_files import HTML_WITH_JPEG_MAGIC

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    yield tmp_path
    cache.clear()


def photo_with_gps_exif() -> bytes:
    image = Image.new("RGB", (2400, 1200), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = "Pemilik Ponsel"  # Artist: an owner's name that must not travel with the photo
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def send(kind="sanggahan", **fields):
    data = {"kind": kind, "village": VILLAGE, "subject_name": "Siti Aminah", "subject_nik": "",
            "reason": "Rumah permanen, punya mobil", "reporter_phone": "", "website": "",
            **registered_reporter()}
    return Client().post(reverse("cek-bansos-report"), data | fields, HTTP_ACCEPT_LANGUAGE="id")


def errors_of(response, field) -> list[str]:
    return response.context["report_form"].errors.get(field, [])


def test_a_photo_and_a_position_are_kept_the_photo_rebuilt_without_its_metadata(media):
    response = send(photo=SimpleUploadedFile("rumah.jpg", photo_with_gps_exif(), content_type="image/jpeg"),
                    latitude="3.312345", longitude="99.154321")
    assert response.status_code == 302
    saved = CitizenReport.objects.get()
    assert (str(saved.latitude), str(saved.longitude)) == ("3.312345", "99.154321")
    assert saved.photo.name.startswith("citizen-reports/") and saved.photo.name.endswith(".jpg")
    assert "rumah" not in saved.photo.name  # the stored name is generated
    stored = Image.open(saved.photo.path)
    assert max(stored.size) == 1600 and not stored.getexif()


def test_a_file_that_is_not_an_image_is_refused_beside_the_photo_field_and_nothing_saved(media):
    response = send(photo=SimpleUploadedFile("rumah.jpg", HTML_WITH_JPEG_MAGIC, content_type="image/jpeg"))
    assert response.status_code == 400
    assert errors_of(response, "photo")
    assert not CitizenReport.objects.exists() and not list(media.rglob("*.*"))


@pytest.mark.parametrize(("latitude", "longitude", "field"), [
    ("51.507400", "-0.127800", "latitude"),  # London
    ("-6.200000", "151.200000", "longitude"),  # east of Papua
    ("-6.200000", "", "latitude"),  # half a position
])
def test_a_position_outside_indonesia_or_half_a_position_is_refused_beside_its_field(media, latitude, longitude,
                                                                                    field):
    response = send(photo=SimpleUploadedFile("rumah.jpg", photo_with_gps_exif()), latitude=latitude,
                    longitude=longitude)
    assert response.status_code == 400 and errors_of(response, field)
    if longitude:
        with translation.override("id"):
            assert errors_of(response, field) == [str(OUTSIDE_INDONESIA)]
    assert not CitizenReport.objects.exists() and not list(media.rglob("*.*"))


@pytest.mark.parametrize("code", ["12.09.08", "12.09.08.9999", "12.09.08.2002'--", ""])
def test_a_forged_village_code_is_refused_and_nothing_saved(media, code):
    response = send(kind="usulan", village=code, photo=SimpleUploadedFile("rumah.jpg", photo_with_gps_exif()))
    assert response.status_code == 400
    assert not CitizenReport.objects.exists() and not list(media.rglob("*.*"))


def test_the_photo_is_served_only_to_staff_whose_area_covers_the_village(media):
    send(photo=SimpleUploadedFile("rumah.jpg", photo_with_gps_exif()), latitude="3.3", longitude="99.1")
    url = CitizenReport.objects.get().photo.url
    own, other, facilitator = (Client(), Client(), Client())
    own.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    other.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE_SAME_KECAMATAN))
    facilitator.force_login(UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN))
    served = own.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served["Content-Disposition"].startswith("attachment")
    assert facilitator.get(url).status_code == 200
    assert other.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page, never the file
    queue = own.get(reverse("report-queue")).content.decode()
    assert url in queue and "3,300000" in queue.replace("3.300000", "3,300000")


def test_the_service_itself_refuses_a_position_outside_indonesia(media):
    from decimal import Decimal

    from distribution import services
    from dtsen_portal.errors import InvalidState

    with pytest.raises(InvalidState) as refused:
        services.report_submit(kind="usulan", village_code=VILLAGE, subject_name="Siti", reason="Belum terdata",
                               reporter_name="Warga", latitude=Decimal("51.5"), longitude=Decimal("-0.12"),
                               ip="198.51.100.5")
    assert "latitude" in refused.value.field_errors and not CitizenReport.objects.exists()


def test_the_api_gives_a_reports_deadline_identification_and_evidence_but_never_the_reporter(media):
    import datetime as dt

    from rest_framework.test import APIClient

    send(photo=SimpleUploadedFile("rumah.jpg", photo_with_gps_exif()), latitude="3.3", longitude="99.1")
    report = CitizenReport.objects.get()
    CitizenReport.objects.filter(pk=report.pk).update(due_on=dt.date(2020, 1, 1))
    client, operator = APIClient(), UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    client.force_authenticate(operator)
    [row] = client.get("/api/v1/citizen-reports/", HTTP_ACCEPT_LANGUAGE="id").json()["results"]
    assert row["due_on"] == "2020-01-01" and row["overdue"] is True
    assert row["reporter_verified"] is True and row["kind_display"] == "Sanggahan"
    assert row["photo"].endswith(report.photo.url) and (row["latitude"], row["longitude"]) == ("3.300000", "99.100000")
    client.force_login(operator)  # the photo is the queue's scoped media address, read with a session
    assert client.get(row["photo"]).status_code == 200
    assert not {"reporter_name", "reporter_phone", "reporter_email", "reporter_member", "subject_nik"} & set(row)
