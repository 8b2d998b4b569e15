"""A citizen objects from a phone (360 px) with a photo of the house and the phone's position; the village
operator accepts the objection; the kecamatan's least busy facilitator finds the ground-check on the phone; the
citizen's status page follows it to the centre's answer. Screenshots: citizen2-<step>.png."""
import io

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.utils import timezone, translation
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Role
from distribution.models import CitizenReport
from groundcheck.models import Assignment
from verification.models import CentreOutcome, RoundFamily, RoundState, VerificationRound

from ..factories import KECAMATAN, VILLAGE, FamilyFactory, MemberFactory, UserFactory, round_with_families, village
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-sanggahan-123"  # noqa: S105 - a test fixture
HOUSE = {"latitude": 3.0123, "longitude": 99.6154}  # Batu Bara, North Sumatra


def says(message: str) -> str:
    with translation.override("id"):
        return translation.gettext(message)


def house_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), (150, 110, 70)).save(buffer, format="JPEG")
    return buffer.getvalue()


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px wider than the screen"


def test_a_citizens_objection_with_photo_and_location_reaches_the_least_busy_facilitator(browser, live_server,
                                                                                        regions):
    cache.clear()
    round_ = round_with_families(0)
    subject = MemberFactory(family=FamilyFactory(village=village(VILLAGE), desil=2), name="Bambang Sutrisno")
    entry = RoundFamily.objects.create(round=round_, family=subject.family)
    reporter = MemberFactory(family=FamilyFactory(village=village(VILLAGE)), name="Sri Wahyuni")
    UserFactory(username="operator-desa", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE,
                password=make_password(PASSWORD))
    busy = UserFactory(username="pendamping-sibuk", role=Role.FACILITATOR, area_id=KECAMATAN)
    Assignment.objects.create(family=FamilyFactory(village=village(VILLAGE)), facilitator=busy)
    free = UserFactory(username="pendamping", role=Role.FACILITATOR, area_id=KECAMATAN,
                       password=make_password(PASSWORD))
    violations = []

    def context(**options):
        made = browser.new_context(base_url=live_server.url, locale="id-ID", viewport={"width": 360, "height": 740},
                                   is_mobile=True, has_touch=True, **options)
        page = made.new_page()
        page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
        return made, page

    # The citizen, on a phone that lets the page read its position.
    citizen_context, page = context(geolocation=HOUSE, permissions=["geolocation"])
    page.goto(f"/cek-bansos/?province=12&regency=12.09&kecamatan={KECAMATAN}&village={VILLAGE}")
    page.get_by_role("radio", name="Sanggahan").check()
    page.locator("#id_subject_name").fill("Bambang Sutrisno")
    page.locator("#id_subject_nik").fill(subject.nik)
    page.locator("#id_reason").fill("Rumah sudah permanen dan punya mobil")
    page.locator("#id_reporter_name").fill("sri  wahyuni")
    page.locator("#id_reporter_nik").fill(reporter.nik)
    page.locator("#id_reporter_kk").fill(reporter.family.kk_number)
    page.locator("#id_reporter_birth_date").fill(reporter.birth_date.isoformat())
    page.locator("#id_photo").set_input_files({"name": "rumah.jpg", "mimeType": "image/jpeg",
                                                "buffer": house_photo()})
    page.locator("[data-locate]").click()
    expect(page.locator("#id_latitude")).to_have_value("3.012300")
    expect(page.locator("#id_longitude")).to_have_value("99.615400")
    no_sideways_scroll(page)
    shoot(page, "citizen2", "objection")
    page.get_by_role("button", name="Kirim").click()
    reference = page.get_by_test_id("reference").inner_text()
    report = CitizenReport.objects.get(reference=reference)
    assert report.reporter_verified and report.photo and float(report.latitude) == HOUSE["latitude"]
    expect(page.get_by_test_id("status")).to_have_text(says("Received, waiting for the village"))
    no_sideways_scroll(page)
    shoot(page, "citizen2", "reference")

    # The village operator sees the evidence and accepts the objection.
    operator_context, operator = context()
    log_in(operator, "operator-desa", PASSWORD)
    operator.goto("/laporan-warga/")
    expect(operator.get_by_test_id("report-photo")).to_be_visible()
    expect(operator.get_by_test_id("report-location")).to_contain_text("99")
    no_sideways_scroll(operator)
    shoot(operator, "citizen2", "operator-queue")
    operator.locator(f"form[action$='/{report.pk}/selesaikan/'] button[value=accept]").click()
    expect(operator.get_by_test_id("report-assignment")).to_be_visible()
    shoot(operator, "citizen2", "operator-accepted")
    report.refresh_from_db()
    assert report.status == "accepted" and report.assignment.facilitator == free  # not the busy lower id
    assert RoundFamily.objects.get(pk=entry.pk).flagged

    # The least busy facilitator finds the ground-check on the phone.
    facilitator_context, facilitator = context()
    log_in(facilitator, "pendamping", PASSWORD)
    facilitator.goto("/cek-lapangan/")
    expect(facilitator.locator(f"li[data-assignment='{report.assignment_id}']")).to_be_visible()
    no_sideways_scroll(facilitator)
    shoot(facilitator, "citizen2", "facilitator")

    # The citizen's status page follows it: in the round, checked on the ground, approved, the centre's answer.
    status_url = f"/cek-bansos/status/?reference={reference}"
    page.goto(status_url)
    expect(page.get_by_test_id("status")).to_have_text(
        says("In the village's verval round; a facilitator will check the family on the ground."))
    shoot(page, "citizen2", "status-in-round")
    Assignment.objects.filter(pk=report.assignment_id).update(completed_at=timezone.now())
    page.goto(status_url)
    expect(page.get_by_test_id("status")).to_have_text(
        says("In the village's verval round; the facilitator has checked the family on the ground."))
    VerificationRound.objects.filter(pk=round_.pk).update(state=RoundState.APPROVED)
    page.goto(status_url)
    expect(page.get_by_test_id("status")).to_have_text(
        says("Approved by the regency with the village's verval; waiting for the centre's answer."))
    shoot(page, "citizen2", "status-approved")
    CitizenReport.objects.filter(pk=report.pk).update(centre_outcome=CentreOutcome.ACCEPTED,
                                                      centre_answered_at=timezone.now())
    page.goto(status_url)
    with translation.override("id"):
        answer = translation.gettext("The centre's answer: %(outcome)s.") % {"outcome": CentreOutcome.ACCEPTED.label}
    expect(page.get_by_test_id("status")).to_have_text(answer)
    no_sideways_scroll(page)
    shoot(page, "citizen2", "status-centre")
    for made in (citizen_context, operator_context, facilitator_context):
        made.close()
    assert violations == []
