"""A facilitator's session ends while a visit waits on the phone: back online, the portal answers 401, the
visit stays on the phone and the page asks to log in again; after logging in it is sent, and only then removed."""
import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from groundcheck.models import Visit

from .conftest import shoot
from .test_facilitator_journey import PASSWORD, assignments, facilitator_phone, record_visit  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def waiting_on_phone(page) -> list[str]:
    return page.evaluate("window.dtsenGroundcheck.outboxAll().then((rs) => rs.map((r) => r.uuid))")


def test_a_visit_queued_offline_survives_an_expired_session_and_is_sent_after_logging_in_again(
        browser, live_server, assignments):  # noqa: F811 - the fixture imported above
    context, page = facilitator_phone(browser, live_server)

    context.set_offline(True)
    record_visit(page, assignments[0], "ceramic", "Verifikasi ulang")
    expect(page.locator("#outbox-count")).to_have_text("1")
    queued = waiting_on_phone(page)
    assert len(queued) == 1
    shoot(page, "outbox", "queued-offline")

    Session.objects.all().delete()  # the session expires on the server while the phone has no signal
    context.set_offline(False)
    expect(page.get_by_test_id("session-ended")).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("session-ended")).to_contain_text("Sesi berakhir, silakan masuk lagi")
    assert waiting_on_phone(page) == queued and Visit.objects.count() == 0
    expect(page.locator("#outbox-count")).to_have_text("1")
    shoot(page, "outbox", "session-ended")

    page.get_by_test_id("session-ended").get_by_role("link", name="Masuk").click()
    page.get_by_label("Nama pengguna").fill("pendamping")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/cek-lapangan/")
    expect(page.locator("#outbox-count")).to_have_text("0", timeout=15000)
    shoot(page, "outbox", "sent-after-login")
    assert waiting_on_phone(page) == []
    visit = Visit.objects.get()
    assert str(visit.client_uuid) == queued[0] and visit.assignment_id == assignments[0].pk
    context.close()
