"""Issue 13's critical hole in Chromium: an operator's evidence file is an HTML page that starts with JPEG bytes,
whose script approves the operator's own round with the CSRF cookie of whoever opens it. The upload is refused;
and the same bytes, stored as the portal used to store them, only download when Dinsos opens the evidence link:
no script runs, the round stays submitted and no approval is recorded."""
import datetime as dt
from pathlib import Path

import pytest
from django.test import testcases
from playwright.sync_api import expect

from accounts.models import Role
from central import tasks
from tests.factories import PASSWORD, VILLAGE, UserFactory, round_with_families
from verification import services
from verification.models import RoundEvent, RoundFamily, RoundState, VerificationRound

from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def hostile_evidence(round_pk: int) -> bytes:
    """JPEG's first bytes, then a page whose script marks that it ran and approves the round as the viewer."""
    script = (
        "localStorage.setItem('hostile', 'ran'); window.HOSTILE_RAN = true;"
        "var token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];"
        f"fetch('/verval/{round_pk}/tinjau/', {{method: 'POST', credentials: 'include',"
        " headers: {'X-CSRFToken': token, 'Content-Type': 'application/x-www-form-urlencoded'},"
        " body: 'action=approve&csrfmiddlewaretoken=' + token});"
    )
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01<html><body><h1>Foto rumah</h1><script>"
            + script.encode() + b"</script></body></html>")


def test_hostile_evidence_is_refused_and_when_stored_anyway_runs_nothing_for_dinsos(
        open_page, live_server, regions, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Django's live server serves MEDIA_URL itself, inline and unchecked, in front of the portal's URLs; a
    # deployment has no such handler, so let the portal's own media view answer as it does in production.
    monkeypatch.setattr(testcases._MediaFilesHandler, "_should_handle", lambda handler, path: False)
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: None)  # an approval would queue a push
    operator = UserFactory(username="operator-jahat", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    head = UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE)
    dinsos = UserFactory(username="dinsos-korban", role=Role.DINSOS, area_id="12.09")
    round_ = round_with_families(2)
    entries = list(round_.entries.order_by("pk"))
    payload = hostile_evidence(round_.pk)
    hostile_file = tmp_path / "bukti-rumah.jpg"
    hostile_file.write_bytes(payload)

    # 1. The operator uploads it as a family's evidence photo: refused, nothing stored.
    page = open_page()
    log_in(page, operator.username, PASSWORD)
    page.goto(f"/verval/{round_.pk}/keluarga/{entries[0].pk}/")
    page.locator("input[name=decision][value=eligible]").check()
    page.locator("input[name=evidence]").set_input_files(str(hostile_file))
    shoot(page, "hostile-upload", "chosen")
    page.locator("input[name=evidence]").evaluate("input => input.form.requestSubmit()")
    expect(page.locator("main")).to_contain_text("halaman web")
    shoot(page, "hostile-upload", "refused")
    entry = RoundFamily.objects.get(pk=entries[0].pk)
    assert not entry.evidence and entry.decision == ""
    assert not any(path.is_file() for path in (tmp_path / "evidence").rglob("*")) if (tmp_path / "evidence").exists() \
        else True

    # 2. The same bytes forced into storage, as the portal stored them before the fix: the user's name and
    #    extension, untouched. The village then decides, ratifies and submits as usual.
    stored = Path(tmp_path, "evidence", "2026", "11", "bukti-rumah.html")
    stored.parent.mkdir(parents=True)
    stored.write_bytes(payload)
    RoundFamily.objects.filter(pk=entries[0].pk).update(evidence="evidence/2026/11/bukti-rumah.html")
    for item in entries:
        current = RoundFamily.objects.get(pk=item.pk)
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=item.pk, decision="eligible",
                              expected_version=current.version)
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai Desa",
                             chair="Sekdes", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 7}])
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    services.round_submit(actor=operator, round_id=round_.pk)

    # 3. Dinsos opens the evidence link: the file downloads as an opaque attachment, nothing renders or runs.
    page = open_page()
    log_in(page, dinsos.username, PASSWORD)
    page.goto(f"/verval/{round_.pk}/keluarga/{entries[0].pk}/")
    link = page.get_by_role("link", name="bukti")
    expect(link).to_be_visible()
    shoot(page, "hostile-upload", "dinsos-entry")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "bukti-rumah.html"  # saved to disk, never opened in the portal
    page.wait_for_timeout(1000)  # time for any fetch the script would have sent
    shoot(page, "hostile-upload", "dinsos-after-opening")
    assert page.evaluate("window.HOSTILE_RAN === undefined && localStorage.getItem('hostile') === null")

    # Even opened directly in a tab it stays a download.
    evidence_url = RoundFamily.objects.get(pk=entries[0].pk).evidence.url
    tab = page.context.new_page()
    with tab.expect_download():
        tab.evaluate("url => { window.location.href = url }", live_server.url + evidence_url)
    assert page.evaluate("localStorage.getItem('hostile') === null")

    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.SUBMITTED
    assert not RoundEvent.objects.filter(round=round_, to_state=RoundState.APPROVED).exists()
    assert not RoundEvent.objects.filter(round=round_, actor=dinsos).exists()
