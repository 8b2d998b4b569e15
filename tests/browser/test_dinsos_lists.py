"""Dinsos at 1366 px and on a 360 px phone: the round list filtered by kecamatan and state, and many families
assigned to a facilitator at once after the confirmation with the count; no page scrolls sideways."""
import pytest
from django.contrib.auth.hashers import make_password
from playwright.sync_api import expect

from accounts.models import Role
from groundcheck.models import Assignment
from verification.models import RoundState

from ..factories import (
    KECAMATAN,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    round_with_families,
    submitted_round,
    village,
)
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-dinsos-123"  # noqa: S105 - a test fixture
WIDTHS = {1366: {"width": 1366, "height": 768}, 360: {"width": 360, "height": 740}}


def overflow(page) -> int:
    # The check of test_every_page_at_360px: how far the page is wider than the screen.
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def regency(regions):
    UserFactory(username="dinsos", role=Role.DINSOS, area_id="12.09", password=make_password(PASSWORD))
    facilitator = UserFactory(username="tksk-meranti", first_name="Rina", last_name="Pendamping",
                              role=Role.FACILITATOR, area_id=KECAMATAN)
    rounds = {"meranti": round_with_families(1, code=VILLAGE, state=RoundState.IN_VERIFICATION),
              "air_joman": round_with_families(1, code=VILLAGE_OTHER_KECAMATAN),
              "submitted": submitted_round(code="12.09.08.2004", n=1)[0]}
    families = {}
    for dusun in ("Dusun Atas", "Dusun Bawah"):
        families[dusun] = []
        for _ in range(3):
            family = FamilyFactory(village=village(VILLAGE), dusun=dusun)
            MemberFactory(family=family)
            families[dusun].append(family)
    return facilitator, rounds, families


@pytest.mark.parametrize("width", list(WIDTHS))
def test_dinsos_filters_the_round_list_and_assigns_many_families_at_once(browser, live_server, regency, width):
    facilitator, rounds, families = regency
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport=WIDTHS[width],
                                  is_mobile=width == 360, has_touch=width == 360)
    violations = []
    page = context.new_page()
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    log_in(page, "dinsos", PASSWORD)

    # The round list, narrowed to kecamatan Meranti and then to its review queue.
    page.goto("/verval/")
    bar = page.get_by_test_id("round-filters")
    states = bar.locator("select[name=state] option").all_inner_texts()
    assert "submitted" not in states and len(states) == len(RoundState.choices) + 1  # labels, not codes
    bar.locator("select[name=kecamatan]").select_option(KECAMATAN)
    bar.locator("button[type=submit]").click()
    page.wait_for_url(f"**kecamatan={KECAMATAN}**")
    table = page.locator("main table")
    expect(table).to_contain_text("Meranti")
    expect(table).not_to_contain_text("Air Joman")
    assert overflow(page) <= 1, f"round list {overflow(page)}px wider than the screen"
    shoot(page, "ux-dinsos", f"rounds-kecamatan-{width}")
    page.get_by_test_id("round-filters").locator("select[name=state]").select_option("submitted")
    page.get_by_test_id("round-filters").locator("button[type=submit]").click()
    page.wait_for_url("**state=submitted**")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table")).to_contain_text("Sei Balai")
    assert overflow(page) <= 1
    shoot(page, "ux-dinsos", f"rounds-review-queue-{width}")

    # Many families at once: at 1366 px the ticked families of Dusun Atas (select-all), on the phone all of
    # Dusun Bawah; each after the confirmation with the count.
    page.goto("/cek-lapangan/penugasan/")
    page.get_by_test_id("bulk-assign-link").click()
    page.locator("#id_pick_village").select_option(VILLAGE)
    page.get_by_test_id("bulk-village").locator("button[type=submit]").click()
    expect(page.get_by_test_id("bulk-village-name")).to_contain_text("Meranti")
    form = page.get_by_test_id("bulk-assign-form")
    form.locator("#id_facilitator").select_option(str(facilitator.pk))
    if width == 1366:
        page.locator("#id_list_dusun").select_option("Dusun Atas")
        page.locator("form[role=search] button[type=submit]").click()
        page.wait_for_url("**dusun=Dusun+Atas**")
        form.locator("#id_facilitator").select_option(str(facilitator.pk))
        form.locator("input[name=scope][value=selected]").check()
        page.get_by_test_id("select-all").check()
        expected = families["Dusun Atas"]
    else:
        form.locator("input[name=scope][value=dusun]").check()
        form.locator("#id_dusun").select_option("Dusun Bawah")
        expected = families["Dusun Bawah"]
    assert overflow(page) <= 1, f"bulk assignment {overflow(page)}px wider than the screen"
    shoot(page, "ux-dinsos", f"bulk-assign-choose-{width}")
    page.get_by_test_id("bulk-preview").click()
    expect(page.get_by_test_id("to-assign")).to_contain_text("3")
    assert not Assignment.objects.exists()  # nothing before the confirmation
    assert overflow(page) <= 1
    shoot(page, "ux-dinsos", f"bulk-assign-confirm-{width}")
    page.get_by_test_id("bulk-confirm").click()
    page.wait_for_url("**/cek-lapangan/penugasan/")
    expect(page.locator(".messages")).to_contain_text("3")
    assert set(Assignment.objects.filter(facilitator=facilitator).values_list("family_id", flat=True)) == {
        f.pk for f in expected}
    assert overflow(page) <= 1
    shoot(page, "ux-dinsos", f"bulk-assign-done-{width}")
    context.close()
    assert violations == []
