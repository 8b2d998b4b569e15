"""The village's letterhead (kop surat) on its berita acara: names from the region table, the address, phone,
e-mail and logo the village sets on its own page; a logo is checked as hostile input and rebuilt; only the
village's own operator or head changes it; signed minutes keep the letterhead they were signed under."""
import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image
from pypdf import PdfReader

from accounts.models import Role
from dtsen_portal.errors import NotAllowed, NotInScope
from dtsen_portal.uploads import MAX_UPLOAD_BYTES
from verification import services
from verification.models import VillageLetterhead

from ..factories import VILLAGE, VILLAGE_OTHER_REGENCY, VILLAGE_SAME_KECAMATAN, UserFactory, client_for
from ..factories import round_with_families as make_round
from ..hostile_files import APPROVING_SCRIPT, HTML_WITH_JPEG_MAGIC, REFUSED, jpeg, pdf, png_with_text

pytestmark = pytest.mark.django_db

GENERATED_LOGO = re.compile(r"^kop-surat/\d{4}/\d{2}/[0-9a-f]{32}\.(png|jpg)$")
ADDRESS = "Jalan Lintas Sumatera No. 12, Meranti 21264"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


def recorded_round(operator, **fields):
    """A round of the village with its Musdesus recorded (not yet signed)."""
    made = make_round(1, **fields)
    entry = made.entries.get()
    services.entry_decide(actor=operator, round_id=made.pk, entry_id=entry.pk, decision="eligible",
                          expected_version=1)
    services.musdesus_record(actor=operator, round_id=made.pk, held_on=dt.date(2026, 11, 20), place="Balai Desa",
                             chair="Kades", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 5}])
    return made


@pytest.fixture
def round_(operator):
    return recorded_round(operator)


def logo_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (240, 240), (20, 110, 60, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/png")  # the browser's type is the sender's


def save_page(client, round_, *, logo=None, **fields):
    data = {"address": ADDRESS, "phone": "0623 41234", "email": "kantor@meranti.desa.id", **fields}
    if logo is not None:
        data["logo"] = logo
    return client.post(reverse("round-letterhead", args=[round_.pk]), data)


def first_page(client, round_):
    response = client.get(reverse("round-berita-acara", args=[round_.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    page = PdfReader(io.BytesIO(response.content)).pages[0]
    return page.extract_text(), len(page.images)


def test_without_a_letterhead_the_pdf_still_heads_with_the_regency_kecamatan_and_village(operator, round_):
    text, images = first_page(client_for(operator), round_)
    lines = [line.strip() for line in text.splitlines()]
    head = lines.index("PEMERINTAH KABUPATEN ASAHAN")
    assert lines[head:head + 3] == ["PEMERINTAH KABUPATEN ASAHAN", "KECAMATAN MERANTI", "DESA MERANTI"]
    assert text.index("DESA MERANTI") < text.index("BERITA ACARA MUSYAWARAH DESA KHUSUS")
    assert "Telp." not in text and "E-mail" not in text
    assert images == 0


def test_a_kelurahan_of_a_city_is_headed_by_the_city_government():
    from verification.berita_acara import letterhead_parts

    names, details = letterhead_parts(regency_name="Kota Pematangsiantar", kecamatan_name="Siantar Timur",
                                      village_kind="Kelurahan", village_name="Kebun Sayur")
    assert names == ["PEMERINTAH KOTA PEMATANGSIANTAR", "KECAMATAN SIANTAR TIMUR", "KELURAHAN KEBUN SAYUR"]
    assert details == []


def test_the_operator_sets_address_contact_and_logo_and_the_pdf_prints_them_with_the_logo(operator, round_):
    client = client_for(operator)
    musdesus_page = client.get(reverse("round-musdesus", args=[round_.pk])).content.decode()
    assert reverse("round-letterhead", args=[round_.pk]) in musdesus_page  # reachable from the Musdesus page

    response = save_page(client, round_, logo=upload("logo desa.png", png_with_text(APPROVING_SCRIPT)))
    assert response.status_code == 302
    saved = VillageLetterhead.objects.get(village_id=VILLAGE)
    assert (saved.address, saved.phone, saved.email) == (ADDRESS, "0623 41234", "kantor@meranti.desa.id")
    assert saved.updated_by == operator
    assert GENERATED_LOGO.match(saved.logo.name), saved.logo.name  # never the sender's name
    stored = saved.logo.read()
    assert stored.startswith(b"\x89PNG") and b"<script>" not in stored  # rebuilt, the text chunk gone

    text, images = first_page(client, round_)
    for line in ("PEMERINTAH KABUPATEN ASAHAN", "KECAMATAN MERANTI", "DESA MERANTI", ADDRESS,
                 "Telp. 0623 41234", "E-mail: kantor@meranti.desa.id"):
        assert line in text, line
    assert images == 1


def test_the_logo_can_be_removed_and_the_pdf_then_has_no_image(operator, round_):
    client = client_for(operator)
    save_page(client, round_, logo=upload("logo.jpg", jpeg((300, 300))))
    assert first_page(client, round_)[1] == 1
    assert save_page(client, round_, remove_logo="on").status_code == 302
    assert not VillageLetterhead.objects.get(village_id=VILLAGE).logo
    text, images = first_page(client, round_)
    assert images == 0 and ADDRESS in text


def test_saving_without_a_new_file_keeps_the_logo(operator, round_):
    client = client_for(operator)
    save_page(client, round_, logo=upload("logo.png", logo_png()))
    name = VillageLetterhead.objects.get().logo.name
    save_page(client, round_, address="Jalan Baru No. 1")
    saved = VillageLetterhead.objects.get()
    assert saved.logo.name == name and saved.address == "Jalan Baru No. 1"


REFUSED_LOGOS = REFUSED + [
    ("pdf-not-an-image", "logo.pdf", pdf()),
    ("webp", "logo.webp", None),
    ("over-the-size-limit", "logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_UPLOAD_BYTES + 1)),
]


def _webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(buffer, format="WEBP")
    return buffer.getvalue()


@pytest.mark.parametrize(("case", "name", "content"), REFUSED_LOGOS, ids=[c[0] for c in REFUSED_LOGOS])
def test_a_logo_that_is_not_a_png_or_jpeg_image_is_refused_beside_its_field_and_nothing_is_saved(
        operator, round_, media, case, name, content):
    content = _webp() if content is None else content
    response = save_page(client_for(operator), round_, logo=upload(name, content))
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["logo"], form.errors
    code = form.errors.as_data()["logo"][0].code
    assert code in {"file_type", "too_large", "too_many_pixels", "damaged", "empty"}, code
    page = response.content.decode()
    # The message stands in the logo's field block and in the summary at the top, linked to the field.
    block = re.search(r'<div class="field has-error"><label for="id_logo">.*?</ul>', page, re.S)
    assert block and escape(form.errors["logo"][0]) in block.group(0)
    assert 'href="#id_logo"' in page
    assert not VillageLetterhead.objects.exists()  # not even the address of the refused form
    assert not any(path.is_file() for path in media.rglob("*"))


def test_a_web_page_with_jpeg_magic_is_named_for_what_it_is():
    from django.core.exceptions import ValidationError

    from dtsen_portal.uploads import clean_logo

    with pytest.raises(ValidationError) as refused:
        clean_logo(upload("logo.jpg", HTML_WITH_JPEG_MAGIC))
    assert refused.value.code == "file_type"
    assert str(refused.value.params["kind"]) in {"a web page", "halaman web"}


def test_another_villages_operator_cannot_open_or_change_the_letterhead(operator, round_):
    save_page(client_for(operator), round_)
    stranger = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE_SAME_KECAMATAN)
    client = client_for(stranger)
    assert client.get(reverse("round-letterhead", args=[round_.pk])).status_code == 404
    assert save_page(client, round_, address="Jalan Palsu").status_code == 404
    with pytest.raises(NotInScope):
        services.letterhead_save(actor=stranger, village_code=VILLAGE, address="Jalan Palsu", phone="", email="")
    assert VillageLetterhead.objects.get().address == ADDRESS


def test_the_village_head_may_change_it_but_regency_staff_only_read_it(operator, round_):
    head = UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE)
    assert save_page(client_for(head), round_, address="Jalan Kades").status_code == 302
    assert VillageLetterhead.objects.get().updated_by == head
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    page = client_for(dinsos).get(reverse("round-letterhead", args=[round_.pk]))
    assert page.status_code == 200 and "Jalan Kades" in page.content.decode()
    assert 'name="address"' not in page.content.decode()
    with pytest.raises(NotAllowed):
        services.letterhead_save(actor=dinsos, village_code=VILLAGE, address="Jalan Dinas", phone="", email="")
    assert VillageLetterhead.objects.get().address == "Jalan Kades"


def test_the_logo_is_served_only_inside_the_villages_area(operator, round_):
    save_page(client_for(operator), round_, logo=upload("logo.png", logo_png()))
    url = VillageLetterhead.objects.get().logo.url
    served = client_for(operator).get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff" and served["Content-Disposition"].startswith("attachment")
    outsider = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE_OTHER_REGENCY)
    assert client_for(outsider).get(url).status_code == 404


def test_signed_minutes_keep_the_letterhead_they_were_signed_under(operator, round_):
    client = client_for(operator)
    save_page(client, round_, address="Jalan Lama No. 1")
    services.musdesus_sign_off(actor=UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE), round_id=round_.pk)
    save_page(client, round_, address="Jalan Baru No. 2", logo=upload("logo.png", logo_png()))
    text, images = first_page(client, round_)
    assert "Jalan Lama No. 1" in text and "Jalan Baru No. 2" not in text and images == 0

    draft = recorded_round(operator, batch_ref="12.09-PKH-DRAFT")
    text, images = first_page(client, draft)
    assert "Jalan Baru No. 2" in text and images == 1  # a draft carries the letterhead as it is now


def test_every_change_of_the_letterhead_is_kept_in_its_history(operator, round_):
    client = client_for(operator)
    save_page(client, round_, address="Jalan Satu")
    save_page(client, round_, address="Jalan Dua")
    history = VillageLetterhead.objects.get().history.order_by("history_date")
    assert [(h.address, h.history_user_id) for h in history] == [("Jalan Satu", operator.pk),
                                                                  ("Jalan Dua", operator.pk)]


def test_the_letterhead_page_reads_a_fixed_number_of_queries(operator, round_, django_assert_num_queries):
    client = client_for(operator)
    save_page(client, round_, logo=upload("logo.png", logo_png()))
    client.get(reverse("round-letterhead", args=[round_.pk]))  # the session and the user are read once warm
    # session, user, the round with its regions, the letterhead with who changed it, the user's area (header)
    with django_assert_num_queries(5):
        assert client.get(reverse("round-letterhead", args=[round_.pk])).status_code == 200
