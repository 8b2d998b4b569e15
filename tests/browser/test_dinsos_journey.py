"""The regency's journey: review a submitted round, return it with notes, see it re-submitted, approve it."""
import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from playwright.sync_api import expect

from accounts.models import Role
from central import tasks
from verification import services
from verification.models import RoundFamily, RoundState, VerificationRound

from ..factories import VILLAGE, UserFactory, round_with_families
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-dinsos-123"


def ratify_and_submit(round_, operator, head):
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai Desa",
                             chair="Sekdes", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 7}])
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    services.round_submit(actor=operator, round_id=round_.pk)


def test_dinsos_returns_a_round_with_notes_and_approves_it_after_resubmission(open_page, regions, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: queued.append(a))  # no worker in this test
    UserFactory(username="dinsos", role=Role.DINSOS, area_id="12.09", password=make_password(PASSWORD))
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    head = UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE)
    round_ = round_with_families(4)
    entries = list(round_.entries.order_by("pk"))
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entries[0].pk, decision="not_eligible",
                          reason="well_off", note="Punya mobil", expected_version=1)
    services.entries_decide_bulk(actor=operator, round_id=round_.pk, versions={e.pk: 1 for e in entries[1:]},
                                 decision="eligible")
    ratify_and_submit(round_, operator, head)

    page = open_page()
    log_in(page, "dinsos", PASSWORD)
    expect(page.get_by_test_id("dashboard")).to_contain_text("Meranti")
    shoot(page, "dinsos", "home")
    page.get_by_role("link", name="Desa Meranti").first.click()
    page.wait_for_url(f"**/verval/{round_.pk}/tinjau/")
    expect(page.locator("main")).to_contain_text("Punya mobil")
    shoot(page, "dinsos", "review")

    page.get_by_label(f"Catatan untuk {entries[0].family.kk_number}").fill("Lampirkan foto mobil")
    page.locator("#id_note").fill("Mohon periksa ulang keluarga yang dinyatakan mampu")
    page.get_by_role("button", name="Kembalikan ke desa").click()
    expect(page.locator(".messages")).to_contain_text("dikembalikan")
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.RETURNED
    assert RoundFamily.objects.get(pk=entries[0].pk).return_note == "Lampirkan foto mobil"
    shoot(page, "dinsos", "returned")

    # The village answers: a new look at the family, a new Musdesus sign-off, and it submits again.
    entry = RoundFamily.objects.get(pk=entries[0].pk)
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="not_eligible",
                          reason="well_off", note="Foto mobil terlampir", expected_version=entry.version)
    ratify_and_submit(round_, operator, head)

    page.goto(f"/verval/{round_.pk}/tinjau/")
    expect(page.locator("main")).to_contain_text("Foto mobil terlampir")
    page.get_by_role("button", name="Setujui dan kirim ke pusat").click()
    expect(page.locator(".messages")).to_contain_text("disetujui")
    shoot(page, "dinsos", "approved")
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.APPROVED
    assert len(queued) == 1  # exactly one push queued for the centre
