"""A citizen without an account: finds the village, checks a name, objects, and follows the report up."""
import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from distribution.models import CitizenReport, Determination

from ..factories import KECAMATAN, VILLAGE, FamilyFactory, MemberFactory, village
from .conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_citizen_checks_a_name_objects_and_follows_up_by_reference(open_page, regions):
    cache.clear()
    family = FamilyFactory(village=village(VILLAGE), desil=7)
    MemberFactory(family=family, name="Bambang Sutrisno")
    reporter = MemberFactory(family=FamilyFactory(village=village(VILLAGE)), name="Sri Wahyuni")
    Determination.objects.create(determination_id="D-9", central_id="X9", family=family, village_id=VILLAGE,
                                 programme="BLTS-KESRA", period="2025-10")
    page = open_page(phone=True)
    page.goto("/cek-bansos/")
    page.locator("#id_province").select_option("12")
    page.wait_for_url("**province=12**")
    page.locator("#id_regency").select_option("12.09")
    page.wait_for_url("**regency=12.09**")
    page.locator("#id_kecamatan").select_option(KECAMATAN)
    page.wait_for_url(f"**kecamatan={KECAMATAN}**")
    page.locator("#id_village").select_option(VILLAGE)
    page.wait_for_url(f"**village={VILLAGE}**")
    page.locator("#id_name").fill("bambang sutrisno")  # the whole name: part of a name finds nobody
    page.get_by_role("button", name="Cari").click()
    results = page.get_by_test_id("results")
    expect(results).to_contain_text("B****** S*******")
    expect(results).to_contain_text("BLT Sementara Kesejahteraan Rakyat (BLTS Kesra) · Oktober 2025")
    assert "Bambang Sutrisno" not in page.content()
    shoot(page, "citizen", "check")

    page.get_by_role("radio", name="Sanggahan").check()
    page.locator("#id_subject_name").fill("Bambang Sutrisno")
    page.locator("#id_reason").fill("Sudah punya mobil dan toko besar")
    # An objection comes only from someone registered in the village, identified by all four details.
    page.locator("#id_reporter_name").fill(reporter.name.upper())
    page.locator("#id_reporter_nik").fill(reporter.nik)
    page.locator("#id_reporter_kk").fill(reporter.family.kk_number)
    page.locator("#id_reporter_birth_date").fill(reporter.birth_date.isoformat())
    shoot(page, "citizen", "object")
    page.get_by_role("button", name="Kirim").click()
    reference = page.get_by_test_id("reference").inner_text()
    assert reference == CitizenReport.objects.get().reference
    shoot(page, "citizen", "reference")

    page.goto("/cek-bansos/")
    page.locator("#id_reference").fill(reference)
    page.get_by_role("button", name="Cek status").click()
    expect(page.get_by_test_id("status")).to_have_text("Diterima, menunggu desa")
    shoot(page, "citizen", "status")


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px wider than the screen"


def test_on_a_phone_a_refused_report_keeps_the_village_chosen_and_the_picker_goes_on_working(open_page, regions):
    cache.clear()
    page = open_page(phone=True)
    page.goto(f"/cek-bansos/?province=12&regency=12.09&kecamatan={KECAMATAN}&village={VILLAGE}")
    page.get_by_role("radio", name="Usulan").check()
    page.locator("#id_subject_name").fill("Keluarga Bapak Sitorus")
    page.locator("#id_reporter_name").fill("Ketua RT 03")
    page.get_by_role("button", name="Kirim").click()  # no reason given: refused

    page.wait_for_url("**/cek-bansos/lapor/")
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    expect(page.locator(".field.has-error #id_reason")).to_be_visible()  # the message stands at its field
    for level, code in (("province", "12"), ("regency", "12.09"), ("kecamatan", KECAMATAN), ("village", VILLAGE)):
        expect(page.locator(f"#id_{level}")).to_have_value(code)
    expect(page.locator("#id_subject_name")).to_have_value("Keluarga Bapak Sitorus")
    _no_sideways_scroll(page)
    shoot(page, "ux", "citizen-report-refused")
    assert not CitizenReport.objects.exists()

    # Choosing another kecamatan from the refused page goes back to Cek Bansos, not to the report's address.
    other = "12.09.09"
    page.locator("#id_kecamatan").select_option(other)
    page.wait_for_url(f"**/cek-bansos/?**kecamatan={other}**")
    expect(page.locator("#id_province")).to_have_value("12")
    expect(page.locator("#id_village")).to_have_value("")
    _no_sideways_scroll(page)
    shoot(page, "ux", "citizen-picker-after-refusal")
