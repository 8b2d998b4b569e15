"""The facilitator's visit form on a 360 px phone: each checklist item beside the register's value, a visit that
agrees in a few taps, one item changed; a visit the portal refuses (GPS outside Indonesia) shows the portal's
message on the phone and is corrected and sent again, another is discarded; a photo is shrunk on the phone."""
import io

import pytest
from django.contrib.auth.hashers import make_password
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Role
from groundcheck import services
from groundcheck.models import Visit

from ..factories import KECAMATAN, UserFactory, round_with_families
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-pendamping-456"
IN_INDONESIA = {"latitude": 2.96, "longitude": 99.61}
LONDON = {"latitude": 51.5, "longitude": -0.12}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def assignments(regions):
    facilitator = UserFactory(username="pendamping360", role=Role.FACILITATOR, area_id=KECAMATAN,
                              password=make_password(PASSWORD))
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    return [services.assignment_create(actor=dinsos, family_id=e.family_id, facilitator_id=facilitator.pk)
            for e in round_with_families(3).entries.order_by("pk")]


def phone(browser, live_server, where):
    context = browser.new_context(base_url=live_server.url, locale="id-ID", geolocation=where,
                                  permissions=["geolocation"], **PHONE)
    page = context.new_page()
    log_in(page, "pendamping360", PASSWORD)
    page.goto("/cek-lapangan/")
    return context, page


def fits(page):
    assert page.evaluate(OVERFLOW) <= 1, "the page scrolls sideways at 360 px"


def item(page, name):
    return page.locator(f"[data-item={name}]")


def answer(page, name, label):
    return item(page, name).get_by_role("radio", name=label, exact=True)


def camera_photo() -> bytes:
    """A 4000 x 3000 photo of over 5 MB: the portal refuses it as it is, so only a shrunk copy can be stored."""
    buffer = io.BytesIO()
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(buffer, format="JPEG", quality=92)
    assert len(buffer.getvalue()) > 5 * 1024 * 1024
    return buffer.getvalue()


def open_visit(page, assignment):
    page.locator(f"li[data-assignment='{assignment.pk}'] button[data-visit]").click()
    expect(page.locator("#visit-form")).to_be_visible()


def test_a_visit_that_agrees_takes_a_few_taps_with_one_item_changed_and_its_photo_shrunk(
        browser, live_server, assignments):
    context, page = phone(browser, live_server, IN_INDONESIA)
    fits(page)
    open_visit(page, assignments[0])
    # The register's value beside each item, as a label, never a code.
    expect(item(page, "floor_type").locator("[data-register-text]")).to_have_text("Tanah")
    expect(item(page, "has_car").locator("[data-register-text]")).to_have_text("tidak")
    expect(item(page, "floor_area_m2").locator("[data-register-text]")).to_have_text("tidak tercatat")
    expect(item(page, "floor_type").locator(".checkitem-input")).to_be_hidden()
    fits(page)
    shoot(page, "ux-facilitator", "visit-form")

    page.get_by_role("button", name="Semua sesuai").click()
    expect(answer(page, "wall_type", "Sesuai")).to_be_checked()
    expect(answer(page, "has_livestock", "Sesuai")).to_be_checked()
    answer(page, "wall_type", "Sesuai").click()  # tapped again: back to "not checked"
    expect(answer(page, "wall_type", "Sesuai")).not_to_be_checked()
    answer(page, "wall_type", "Sesuai").click()
    expect(answer(page, "wall_type", "Sesuai")).to_be_checked()
    # Nothing in the register to agree with: only "Ubah" is offered, and it is left unanswered.
    expect(answer(page, "floor_area_m2", "Sesuai")).to_be_hidden()
    expect(answer(page, "floor_area_m2", "Ubah")).to_be_visible()
    expect(answer(page, "floor_area_m2", "Ubah")).not_to_be_checked()
    # The three answers sit on one line of the phone.
    tops = item(page, "wall_type").locator(".segmented label").evaluate_all(
        "(labels) => labels.map((l) => Math.round(l.getBoundingClientRect().top))")
    assert len(tops) == 3 and len(set(tops)) == 1

    answer(page, "floor_type", "Ubah").check()
    expect(page.locator("#id_floor_type")).to_be_visible()
    page.locator("#id_floor_type").select_option("ceramic")
    page.get_by_role("radio", name="Lanjutkan bantuan").check()
    page.locator("#id_photos").set_input_files({"name": "kamera.jpg", "mimeType": "image/jpeg",
                                                "buffer": camera_photo()})
    fits(page)
    shoot(page, "ux-facilitator", "visit-all-agree-one-changed")

    context.set_offline(True)  # so the photo kept on the phone can be looked at before it is sent
    page.get_by_role("button", name="Simpan kunjungan").click()
    expect(page.locator("#outbox-count")).to_have_text("1")
    kept = page.evaluate("""async () => {
        const [record] = await window.dtsenGroundcheck.outboxAll();
        const bitmap = await createImageBitmap(record.photos[0]);
        return {width: bitmap.width, height: bitmap.height, size: record.photos[0].size,
                type: record.photos[0].type, fields: record.fields};
    }""")
    assert (kept["width"], kept["height"]) == (1600, 1200) and kept["type"] == "image/jpeg"
    assert kept["size"] < 5 * 1024 * 1024
    assert kept["fields"]["floor_type"] == "ceramic" and kept["fields"]["wall_type"] == "woven_bamboo"

    # What the phone cannot decode, and a photo small enough already, go as they are.
    untouched = page.evaluate("""async () => {
        const shrink = window.dtsenGroundcheck.shrinkPhoto;
        const heic = new File([new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112, 104, 101, 105, 99])], "iphone.heic",
                              {type: "image/heic"});
        const canvas = Object.assign(document.createElement("canvas"), {width: 800, height: 600});
        const small = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
        const smallFile = new File([small], "kecil.jpg", {type: "image/jpeg"});
        return [(await shrink(heic)) === heic, (await shrink(smallFile)) === smallFile];
    }""")
    assert untouched == [True, True]

    context.set_offline(False)
    expect(page.locator("#outbox-count")).to_have_text("0", timeout=15000)
    fits(page)
    shoot(page, "ux-facilitator", "visit-sent")
    visit = Visit.objects.get()
    assert visit.checklist["floor_type"] == "ceramic" and visit.checklist["roof_type"] == "zinc"
    assert visit.checklist["has_car"] is False and "floor_area_m2" not in visit.checklist
    assert [d[0] for d in visit.differences] == ["floor_type"] and visit.mismatches == []
    stored = visit.photos.get()
    assert max(stored.width, stored.height) <= 1600
    context.close()


def small_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (120, 90, 60)).save(buffer, format="JPEG")
    return buffer.getvalue()


def record_with_all_agreeing(page, assignment, findings, photo=None):
    open_visit(page, assignment)
    page.get_by_role("button", name="Semua sesuai").click()
    answer(page, "roof_type", "Tidak sesuai").check()
    page.get_by_role("radio", name="Verifikasi ulang").check()
    page.locator("#id_findings").fill(findings)
    if photo:
        page.locator("#id_photos").set_input_files({"name": "rumah.jpg", "mimeType": "image/jpeg", "buffer": photo})
    page.get_by_role("button", name="Simpan kunjungan").click()


def test_a_refused_visit_is_corrected_and_sent_again_and_another_is_discarded(browser, live_server, assignments):
    context, page = phone(browser, live_server, LONDON)  # the phone's GPS is wrong
    outbox = page.get_by_test_id("outbox-list")
    record_with_all_agreeing(page, assignments[0], "Atap bocor", photo=small_photo())
    record_with_all_agreeing(page, assignments[1], "Dicatat dua kali")
    refused = outbox.locator("li.refused")
    expect(refused).to_have_count(2, timeout=15000)
    expect(refused.first).to_contain_text("di luar Indonesia")
    expect(page.locator("#outbox-count")).to_have_text("2")  # still on the phone
    assert Visit.objects.count() == 0
    fits(page)
    shoot(page, "ux-facilitator", "refused")
    stored_ids = page.evaluate("window.dtsenGroundcheck.outboxAll().then((rs) => rs.map((r) => r.uuid))")

    context.set_geolocation(IN_INDONESIA)  # the facilitator fixes the phone's location
    first = outbox.locator("li", has_text=assignments[0].family.kk_number)
    first.get_by_role("button", name="Perbaiki dan kirim ulang").click()
    expect(page.locator("#visit-editing")).to_be_visible()
    # Reopened with what was recorded, and the portal's message beside the location.
    expect(page.locator("#id_findings")).to_have_value("Atap bocor")
    expect(answer(page, "roof_type", "Tidak sesuai")).to_be_checked()
    expect(answer(page, "wall_type", "Sesuai")).to_be_checked()
    expect(page.get_by_role("radio", name="Verifikasi ulang")).to_be_checked()
    expect(page.locator("[data-error-for=gps]")).to_contain_text("di luar Indonesia")
    expect(page.locator("#id_latitude")).to_have_value("2.960000")
    fits(page)
    shoot(page, "ux-facilitator", "refused-correct")
    page.get_by_role("button", name="Simpan kunjungan").click()
    expect(page.locator("#outbox-count")).to_have_text("1", timeout=15000)
    visit = Visit.objects.get()
    assert visit.assignment_id == assignments[0].pk and str(visit.client_uuid) in stored_ids
    assert float(visit.latitude) == pytest.approx(2.96) and visit.findings == "Atap bocor"
    assert visit.mismatches == ["roof_type"] and visit.checklist["wall_type"] == "woven_bamboo"
    assert visit.photos.count() == 1  # the photo taken at the house went with the corrected visit

    second = outbox.locator("li", has_text=assignments[1].family.kk_number)
    second.get_by_role("button", name="Buang").click()
    expect(second).to_contain_text("Buang kunjungan ini?")
    expect(second.get_by_role("button", name="Perbaiki dan kirim ulang")).to_be_hidden()
    second.get_by_role("button", name="Tidak, simpan").click()  # changed their mind: nothing is lost
    expect(second.get_by_role("button", name="Ya, buang")).to_be_hidden()
    second.get_by_role("button", name="Buang").click()
    fits(page)
    shoot(page, "ux-facilitator", "refused-discard")
    second.get_by_role("button", name="Ya, buang").click()
    expect(page.locator("#outbox-count")).to_have_text("0")
    expect(outbox.locator("li")).to_have_count(0)
    assert page.evaluate("window.dtsenGroundcheck.outboxAll().then((rs) => rs.length)") == 0
    assert Visit.objects.count() == 1 and not Visit.objects.filter(assignment=assignments[1]).exists()
    shoot(page, "ux-facilitator", "outbox-empty")

    # A photo the portal cannot read: the visit is refused with the portal's word on it, and sent without it.
    record_with_all_agreeing(page, assignments[2], "Foto rusak", photo=b"bukan foto sama sekali")
    broken = outbox.locator("li.refused")
    expect(broken).to_contain_text("rumah.jpg", timeout=15000)
    broken.get_by_role("button", name="Perbaiki dan kirim ulang").click()
    expect(page.locator("[data-error-for=photos]")).to_contain_text("rumah.jpg")
    expect(page.locator("#kept-photos")).to_contain_text("1")
    page.get_by_role("button", name="Kirim tanpa foto ini").click()
    page.get_by_role("button", name="Simpan kunjungan").click()
    expect(page.locator("#outbox-count")).to_have_text("0", timeout=15000)
    assert Visit.objects.get(assignment=assignments[2]).photos.count() == 0
    context.close()
