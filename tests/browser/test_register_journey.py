"""Browser journeys over the register: a Dinsos officer and a village operator on a phone."""
import datetime as dt
import re

import pytest

from accounts.services import demo_accounts_ensure
from registry.models import Family, Member
from registry.services import demo_seed

from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-peramban-123"


@pytest.fixture
def demo(regions):
    result = demo_seed(regency="12.09", households=400, seed=5, as_of=dt.date(2026, 11, 23))
    demo_accounts_ensure(village_code=result.busiest_village, password=PASSWORD)
    return result


def test_dinsos_officer_sees_the_regency_and_finds_a_family_by_nik(open_page, demo):
    page = open_page()
    page.goto("/keluarga/")
    assert "/akun/masuk/" in page.url  # pages need a login
    log_in(page, "dinsos", PASSWORD)
    assert page.get_by_test_id("families").inner_text() == "400"
    assert page.get_by_role("heading", level=1).inner_text() == "Kabupaten Asahan"
    shoot(page, "register", "dinsos-home")

    # The kecamatan breakdown links to that kecamatan's families.
    first_kecamatan = page.locator("table tbody tr td a").first
    label = first_kecamatan.inner_text()
    first_kecamatan.click()
    page.wait_for_url(re.compile(r"/keluarga/\?area="))
    kecamatan_code = label.split()[0]
    expected = Family.objects.filter(village__pk__startswith=kecamatan_code + ".").count()
    assert page.get_by_test_id("count").inner_text().startswith(f"{expected} ")

    member = Member.objects.filter(family__village__pk__startswith="12.09.", relationship="head").first()
    page.goto("/keluarga/")
    page.get_by_label("No. KK, NIK atau nama").fill(member.nik)
    page.get_by_role("button", name="Cari").click()
    page.get_by_role("link", name=member.family.kk_number).click()
    page.wait_for_url(f"**/keluarga/{member.family_id}/")
    assert member.name in page.content()
    assert page.get_by_test_id("desil").inner_text() == str(member.family.desil)
    assert "Riwayat desil" in page.content() and "Riwayat perubahan" in page.content()
    shoot(page, "register", "family-detail")


def test_village_operator_on_a_phone_sees_only_the_village(open_page, demo):
    page = open_page(phone=True)
    log_in(page, "operator", PASSWORD)
    village_families = Family.objects.filter(village_id=demo.busiest_village).count()
    assert page.get_by_test_id("families").inner_text() == str(village_families)
    shoot(page, "register", "operator-home-phone")
    page.get_by_role("link", name="Keluarga", exact=True).click()
    rows = page.locator("table.responsive tbody tr")
    assert rows.count() == min(village_families, 25)
    # The table folds into cards: no horizontal scrolling on a 360 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "register", "operator-families-phone")
    other = Family.objects.exclude(village_id=demo.busiest_village).first()
    response = page.goto(f"/keluarga/{other.pk}/")
    assert response.status == 404
