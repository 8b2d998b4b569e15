"""A PKH facilitator with no signal: the page still opens, two visits wait on the phone, and reach the
portal once each when the connection returns."""
import pytest
from playwright.sync_api import expect

from accounts.models import Role
from groundcheck import services
from groundcheck.models import Visit
from verification.models import RoundFamily

from ..factories import KECAMATAN, UserFactory, round_with_families
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-pendamping-123"


@pytest.fixture
def assignments(regions):
    from django.contrib.auth.hashers import make_password

    facilitator = UserFactory(username="pendamping", role=Role.FACILITATOR, area_id=KECAMATAN,
                              password=make_password(PASSWORD))
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    round_ = round_with_families(3)
    return [services.assignment_create(actor=dinsos, family_id=e.family_id, facilitator_id=facilitator.pk,
                                       note="Cek kondisi rumah")
            for e in round_.entries.order_by("pk")]


def record_visit(page, assignment, floor: str, recommendation: str):
    page.locator(f"li[data-assignment='{assignment.pk}'] button[data-visit]").click()
    page.locator("[data-item=floor_type]").get_by_role("radio", name="Ubah").check()
    page.locator("#id_floor_type").select_option(floor)
    page.get_by_role("radio", name=recommendation).check()
    page.locator("#id_findings").fill("Dicatat tanpa sinyal")
    page.get_by_role("button", name="Simpan kunjungan").click()


def facilitator_phone(browser, live_server):
    """The facilitator's phone, logged in, on the ground-check page under its service worker."""
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True, geolocation={"latitude": 2.96, "longitude": 99.61},
                                  permissions=["geolocation"])
    page = context.new_page()
    log_in(page, "pendamping", PASSWORD)
    page.goto("/cek-lapangan/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the service worker, which keeps a copy of the page
    return context, page


def test_visits_recorded_offline_reach_the_portal_once_each(browser, live_server, assignments):
    context, page = facilitator_phone(browser, live_server)
    shoot(page, "facilitator", "list")

    context.set_offline(True)
    response = page.reload()
    assert response.headers.get("x-offline-copy") == "1"  # served from the phone, not the network
    expect(page.locator("#net-status")).to_have_class("card small offline")
    # Saving without a recommendation says what to choose, in words (it once read "Rekomendasi ?").
    page.locator(f"li[data-assignment='{assignments[0].pk}'] button[data-visit]").click()
    page.get_by_role("button", name="Simpan kunjungan").click()
    expect(page.locator("#visit-form")).to_contain_text("Pilih rekomendasi")
    page.reload()
    record_visit(page, assignments[0], "ceramic", "Verifikasi ulang")
    record_visit(page, assignments[1], "earth", "Lanjutkan bantuan")
    expect(page.locator("#outbox-count")).to_have_text("2")
    shoot(page, "facilitator", "offline-queue")
    assert Visit.objects.count() == 0

    context.set_offline(False)
    expect(page.locator("#outbox-count")).to_have_text("0", timeout=15000)
    shoot(page, "facilitator", "sent")
    assert Visit.objects.count() == 2
    flagged = RoundFamily.objects.get(pk=assignments[0].entry_id)
    assert flagged.flagged  # the register says earth floor, the visit found ceramic

    # The phone sends the first visit again (its answer was lost): still stored once.
    again = page.evaluate("""async ([assignment, uuid]) => {
        const form = document.getElementById('visit-form');
        const body = new FormData();
        body.append('assignment', assignment); body.append('client_uuid', uuid);
        body.append('visited_at', new Date().toISOString()); body.append('recommendation', 'reverify');
        const r = await fetch('/cek-lapangan/kunjungan/', {method: 'POST', body,
            headers: {'X-CSRFToken': form.querySelector('[name=csrfmiddlewaretoken]').value}});
        return (await r.json()).status;
    }""", [str(assignments[0].pk), str(Visit.objects.get(assignment=assignments[0]).client_uuid)])
    assert again == "duplicate" and Visit.objects.count() == 2
    context.close()
