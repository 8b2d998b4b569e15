"""The village's letterhead on a phone: from the Musdesus page the operator sets the office's address and the
logo; a web page posing as a JPEG is refused at its field; the preview shows the logo and nothing scrolls
sideways."""
import datetime as dt
import io

import pytest
from django.test import testcases
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Role
from tests.factories import PASSWORD, VILLAGE, UserFactory, round_with_families
from tests.hostile_files import HTML_WITH_JPEG_MAGIC
from verification import services
from verification.models import VillageLetterhead

from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px wider than the screen"


def test_operator_sets_the_letterhead_and_logo_from_the_musdesus_page_on_a_phone(
        open_page, regions, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Django's live server would serve MEDIA_URL itself, unchecked; let the portal's own media view answer.
    monkeypatch.setattr(testcases._MediaFilesHandler, "_should_handle", lambda handler, path: False)
    operator = UserFactory(username="operator-kop", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    entry = round_.entries.get()
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                          expected_version=1)
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai Desa",
                             chair="Sekdes", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 7}])
    hostile = tmp_path / "logo.jpg"
    hostile.write_bytes(HTML_WITH_JPEG_MAGIC)
    logo = tmp_path / "logo-desa.png"
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (14, 90, 120)).save(buffer, format="PNG")
    logo.write_bytes(buffer.getvalue())

    page = open_page(phone=True)
    log_in(page, operator.username, PASSWORD)
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.get_by_test_id("letterhead-link").click()
    page.wait_for_url(f"**/verval/{round_.pk}/musdesus/kop-surat/")
    expect(page.get_by_test_id("letterhead-preview")).to_contain_text("PEMERINTAH KABUPATEN ASAHAN")

    page.locator("#id_address").fill("Jalan Lintas Sumatera No. 12, Meranti 21264")
    page.locator("#id_logo").set_input_files(str(hostile))
    page.locator("#id_logo").evaluate("input => input.form.requestSubmit()")
    expect(page.locator(".field.has-error #id_logo")).to_be_visible()
    expect(page.get_by_test_id("error-summary")).to_contain_text("halaman web")
    assert not VillageLetterhead.objects.exists()
    _no_sideways_scroll(page)
    shoot(page, "ux", "operator-letterhead-refused")

    page.locator("#id_logo").set_input_files(str(logo))
    page.locator("#id_logo").evaluate("input => input.form.requestSubmit()")
    expect(page.get_by_test_id("letterhead-preview")).to_contain_text("Jalan Lintas Sumatera No. 12")
    preview = page.get_by_test_id("letterhead-preview").locator("img")
    expect(preview).to_be_visible()
    page.wait_for_function("img => img.complete", arg=preview.element_handle())
    assert preview.evaluate("img => img.naturalWidth") > 0  # the logo is served to its own village
    _no_sideways_scroll(page)
    shoot(page, "ux", "operator-letterhead")
    assert VillageLetterhead.objects.get().logo.name.endswith(".png")
