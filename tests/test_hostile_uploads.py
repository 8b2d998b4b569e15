"""Hostile uploads (issue 13, finding 1): a file is what its decoded content says. Each hostile file is refused
with a message in Bahasa Indonesia, or stored only as a rebuilt copy that carries none of its payload, for the
three places users upload: a family's evidence, the signed berita acara scan and a facilitator's visit photos.
What was stored is served as a download with the type the portal wrote and nosniff."""
import datetime as dt
import io
import re
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from accounts.models import Role
from dtsen_portal.errors import InvalidState
from groundcheck import services as groundcheck_services
from groundcheck.models import Visit
from verification.forms import DecisionForm, ScanForm
from verification.models import RoundFamily

from .factories import KECAMATAN, VILLAGE, UserFactory, client_for, round_with_families
from .hostile_files import APPROVING_SCRIPT, HTML_WITH_JPEG_MAGIC, REFUSED, SANITISED, jpeg, pdf, png_of_size

GENERATED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|pdf)$")
ENGLISH_ONLY = ("accepted", "cannot", "pixels; at most", "contains scripts")
refused_ids = [case[0] for case in REFUSED]
sanitised_ids = [case[0] for case in SANITISED]


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")  # the browser's type is the attacker's


def decision_form(name, content) -> DecisionForm:
    return DecisionForm({"decision": "eligible", "version": 1}, {"evidence": upload(name, content)})


def assert_refused_in_indonesian(errors: list[str]):
    assert errors, "the hostile file was accepted"
    text = " ".join(str(error) for error in errors)
    assert not any(english in text for english in ENGLISH_ONLY), text  # LANGUAGE_CODE is id


@pytest.mark.parametrize(("case", "name", "content"), REFUSED, ids=refused_ids)
def test_hostile_evidence_file_is_refused(case, name, content):
    form = decision_form(name, content)
    assert not form.is_valid()
    assert_refused_in_indonesian(form.errors["evidence"])


@pytest.mark.parametrize(("case", "name", "content"), REFUSED, ids=refused_ids)
def test_hostile_berita_acara_scan_is_refused(case, name, content):
    form = ScanForm({}, {"scan": upload(name, content)})
    assert not form.is_valid()
    assert_refused_in_indonesian(form.errors["scan"])


@pytest.mark.parametrize(("case", "name", "content"), REFUSED, ids=refused_ids)
def test_hostile_visit_photo_is_refused_and_no_visit_is_stored(case, name, content, visit_assignment):
    facilitator, assignment = visit_assignment
    with pytest.raises((ValidationError, InvalidState)) as refused:
        record_visit(facilitator, assignment, photos=[upload(name, content)])
    messages = refused.value.messages if isinstance(refused.value, ValidationError) else [refused.value.message]
    assert_refused_in_indonesian(messages)
    assert not Visit.objects.exists()


def test_large_pictures_are_refused_from_their_header_before_any_pixel_is_decoded(monkeypatch):
    def decoding(self, *args, **kwargs):
        raise AssertionError("a picture over the pixel limit was decoded")

    monkeypatch.setattr(Image.Image, "load", decoding)
    for width, height in ((20000, 20000), (10000, 10000), (8000, 5001)):
        form = decision_form("besar.png", png_of_size(width, height))
        assert not form.is_valid()
        assert "megapiksel" in " ".join(form.errors["evidence"])


@pytest.mark.parametrize(("case", "name", "content"), SANITISED, ids=sanitised_ids)
def test_a_photo_carrying_a_payload_is_stored_only_as_a_clean_re_encoded_copy(case, name, content):
    form = decision_form(name, content)
    assert form.is_valid(), form.errors
    stored = form.cleaned_data["evidence"]
    data = stored.read()
    assert GENERATED_NAME.match(stored.name)
    assert b"<script" not in data and b"HOSTILE" not in data and b"Exif" not in data
    assert Image.open(io.BytesIO(data)).format in ("JPEG", "PNG")


@pytest.mark.parametrize(("case", "name", "content"), SANITISED, ids=sanitised_ids)
def test_a_visit_photo_carrying_a_payload_is_stored_as_a_clean_jpeg(case, name, content, visit_assignment):
    facilitator, assignment = visit_assignment
    visit, _ = record_visit(facilitator, assignment, photos=[upload(name, content)])
    with visit.photos.get().image.open("rb") as handle:
        data = handle.read()
    assert b"<script" not in data and Image.open(io.BytesIO(data)).format == "JPEG"


def test_a_clean_pdf_is_rebuilt_from_its_pages_under_a_generated_name():
    form = ScanForm({}, {"scan": SimpleUploadedFile("berita acara desa.pdf", pdf(pages=2))})
    assert form.is_valid(), form.errors
    stored = form.cleaned_data["scan"]
    assert GENERATED_NAME.match(stored.name) and stored.name.endswith(".pdf")
    assert len(PdfReader(io.BytesIO(stored.read())).pages) == 2


def test_the_stored_name_is_generated_never_the_users(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    entry = round_.entries.get()
    response = client_for(operator).post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "eligible", "version": 1,
        "evidence": SimpleUploadedFile("../../rumah <b>pak budi</b>.html.jpg", jpeg())})
    assert response.status_code == 302
    stored = RoundFamily.objects.get(pk=entry.pk).evidence.name
    assert stored.startswith("evidence/") and GENERATED_NAME.match(stored.rsplit("/", 1)[1])


def test_operator_uploading_html_with_jpeg_bytes_is_refused_and_nothing_is_stored(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    entry = round_.entries.get()
    response = client_for(operator).post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "eligible", "version": 1,
        "evidence": SimpleUploadedFile("bukti.jpg", HTML_WITH_JPEG_MAGIC, content_type="image/jpeg")})
    assert response.status_code == 200
    assert "halaman web" in " ".join(response.context["decision_form"].errors["evidence"])
    entry.refresh_from_db()
    assert (entry.decision, bool(entry.evidence)) == ("", False)
    assert not list(tmp_path.rglob("*.*"))


def test_evidence_is_served_re_encoded_as_an_attachment_with_our_type_and_nosniff(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    entry = round_.entries.get()
    original = jpeg(exif=b"Exif\x00\x00" + APPROVING_SCRIPT)
    client = client_for(operator)
    client.post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "eligible", "version": 1,
        "evidence": SimpleUploadedFile("bukti.jpg", original, content_type="text/html")})
    url = RoundFamily.objects.get(pk=entry.pk).evidence.url
    response = client.get(url)
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert body != original and b"<script" not in body and Image.open(io.BytesIO(body)).format == "JPEG"


def test_a_hostile_file_stored_before_the_fix_is_served_as_an_opaque_download(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    entry = round_with_families(1).entries.get()
    # As main used to store it: the user's name and extension, the hostile bytes untouched.
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "bukti.html").write_bytes(HTML_WITH_JPEG_MAGIC)
    RoundFamily.objects.filter(pk=entry.pk).update(evidence="evidence/bukti.html")
    response = client_for(operator).get("/media/evidence/bukti.html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


# Visit photos ---------------------------------------------------------------------------------------------------

@pytest.fixture
def visit_assignment(db):
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    entry = round_with_families(1).entries.get()
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    assignment = groundcheck_services.assignment_create(actor=dinsos, family_id=entry.family_id,
                                                        facilitator_id=facilitator.pk, note="Cek rumah")
    return facilitator, assignment


def record_visit(facilitator, assignment, **overrides):
    data = {"actor": facilitator, "assignment_id": assignment.pk, "client_uuid": uuid.uuid4(),
            "visited_at": dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC), "checklist": {}, "findings": "",
            "recommendation": "continue", "latitude": None, "longitude": None, "accuracy_m": None}
    data.update(overrides)
    return groundcheck_services.visit_record(**data)


pytestmark = pytest.mark.django_db
