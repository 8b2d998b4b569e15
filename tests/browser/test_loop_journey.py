"""The whole loop in headless Chromium against the mock centre: the village verifies, the head signs, Dinsos
approves; the centre answers per item; the next publication moves a family's desil and the change feed and the
scorecard show it. The sync steps run `sync_central`, the same code as the Celery tasks."""
import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.db.models import Count
from playwright.sync_api import expect

from accounts.services import demo_accounts_ensure
from central import tasks
from central.models import Submission
from registry.models import Family, Member
from verification.models import RoundFamily, RoundState, VerificationRound

from ..central.mockproc import TOKEN, start_mock
from ..factories import kk_for, nik_for
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-siklus-123"
RICH_HOUSE = {"floor_type": "ceramic", "wall_type": "brick", "roof_type": "concrete", "water_source": "piped",
              "lighting": "pln_metered", "cooking_fuel": "lpg_large", "toilet": "own"}


@pytest.fixture
def centre(tmp_path, regions, settings, monkeypatch):
    mock = start_mock(tmp_path / "central", "--regency", "12.72", "--households", "300", "--seed", "5",
                      "--page-size", "100")
    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN, settings.CENTRAL_API_TIMEOUT = mock.base_url, TOKEN, 5
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: None)  # the test runs the push itself
    sync("pull")
    yield mock
    mock.stop()


def sync(action: str) -> str:
    out = io.StringIO()
    call_command("sync_central", action, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_loop_from_the_village_to_the_centre_and_back_in_the_browser(open_page, centre):
    round_ = (VerificationRound.objects.annotate(n=Count("entries")).filter(n__lte=25)
              .order_by("-n", "village_id").first())
    demo_accounts_ensure(village_code=round_.village_id, password=PASSWORD)
    entries = list(RoundFamily.objects.filter(round=round_).select_related("family").order_by("family__desil", "pk"))
    poorest, bereaved = entries[0], entries[1]
    before = poorest.family.desil
    corrections = sum(getattr(poorest.family, f) != v for f, v in RICH_HOUSE.items()) \
        + (not poorest.family.has_refrigerator) + (not poorest.family.has_motorcycle)
    page = open_page()

    # The operator finds the poorest family living in a better house than the register says.
    log_in(page, "operator", PASSWORD)
    page.goto(f"/verval/{round_.pk}/keluarga/{poorest.pk}/")
    page.get_by_text("Koreksi rumah dan aset").click()
    for field, value in RICH_HOUSE.items():
        page.locator(f"#id_{field}").select_option(value)
    page.locator("#id_has_refrigerator").check()
    page.locator("#id_has_motorcycle").check()
    page.get_by_role("button", name="Simpan koreksi").click()
    expect(page.locator(".messages")).to_contain_text("koreksi disimpan")
    shoot(page, "loop", "operator-correction")

    # The head of another family died: the date is asked for.
    head = bereaved.family.members.get(relationship=Member.Relationship.HEAD)
    page.goto(f"/verval/{round_.pk}/keluarga/{bereaved.pk}/")
    page.get_by_text(re.compile(f"Ubah {re.escape(head.name)}")).click()
    page.locator(f"#id_m{head.pk}-life_status").select_option("deceased")
    page.locator(f"#id_m{head.pk}-life_event_date").fill("2026-10-12")
    page.locator(f"form:has(#id_m{head.pk}-life_status)").get_by_role("button", name="Simpan anggota").click()
    expect(page.locator(".messages")).to_contain_text("diperbarui")

    # Everyone else is eligible, and a missing family is proposed.
    page.goto(f"/verval/{round_.pk}/?status=undecided")
    for box in page.locator("input[name=entry]").all():
        box.check()
    page.get_by_label("Keputusan untuk keluarga terpilih").select_option("eligible")
    page.get_by_role("button", name="Terapkan ke yang dipilih").click()
    page.get_by_role("button", name="Ya, terapkan").click()  # after the selection's desil spread
    expect(page.get_by_test_id("progress")).to_have_text(f"{len(entries)} / {len(entries)}")
    page.get_by_role("link", name="Tambah keluarga yang belum terdata (usulan)").click()
    born = dt.date(1988, 4, 12)
    proposal_kk = kk_for(round_.village_id, dt.date(2021, 3, 9))
    page.locator("#id_kk_number").fill(proposal_kk)
    page.locator("#id_dusun").fill("Dusun III")
    page.locator("#id_members-0-nik").fill(nik_for(round_.village_id, born))
    page.locator("#id_members-0-name").fill("Sahat Manurung")
    page.locator("#id_members-0-sex").select_option("L")
    page.locator("#id_members-0-birth_date").fill(born.isoformat())
    page.locator("#id_members-0-relationship").select_option("head")
    page.get_by_role("button", name="Simpan usulan").click()
    expect(page.locator(".messages")).to_contain_text("Usulan untuk KK")
    page.goto(f"/verval/{round_.pk}/")
    shoot(page, "loop", "operator-round")

    # Musdesus, the head's sign-off, the submission.
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.locator("#id_held_on").fill("2026-11-25")
    page.locator("#id_place").fill("Aula Kantor Lurah")
    page.locator("#id_chair").fill("Lurah")
    page.locator("#id_att-0-name").fill("Perwakilan BPD")
    page.locator("#id_att-0-role").fill("BPD")
    page.locator("#id_att-0-count").fill("5")
    page.get_by_role("button", name="Simpan Musdesus").click()
    expect(page.locator(".messages")).to_contain_text("Musdesus dicatat")
    page.get_by_role("button", name="Keluar").click()
    log_in(page, "kades", PASSWORD)
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.get_by_role("button", name="Tanda tangani berita acara").click()
    expect(page.get_by_test_id("sign-summary")).to_contain_text("keluarga")  # what is signed, before signing
    page.get_by_role("button", name="Ya, tanda tangani berita acara").click()
    expect(page.get_by_test_id("signed")).to_be_visible()
    shoot(page, "loop", "kades-signoff")
    page.get_by_role("button", name="Keluar").click()
    log_in(page, "operator", PASSWORD)
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.get_by_role("button", name="Kirim ke Dinas Sosial").click()
    expect(page.locator(".messages")).to_contain_text("dikirim ke Dinas Sosial")
    page.get_by_role("button", name="Keluar").click()

    # Dinsos approves; the push goes up and the sync page shows what went.
    log_in(page, "dinsos", PASSWORD)
    page.goto(f"/verval/{round_.pk}/tinjau/")
    shoot(page, "loop", "dinsos-review")
    page.get_by_role("button", name="Setujui dan kirim ke pusat").click()
    expect(page.locator(".messages")).to_contain_text("disetujui")
    sync("push")
    assert Submission.objects.get(round=round_).state == Submission.State.SENT
    page.goto("/sinkronisasi/")
    row = page.locator(f"tr[data-submission='{round_.village_id}']")
    expect(row).to_contain_text("Sudah sampai di pusat")

    # The centre decides; its answer comes back per item.
    decided = centre.ok("POST", "/admin/accept-submissions")
    assert decided["decided"] == 1 and decided["items"]["rejected"] == 0
    sync("push")
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.ACKNOWLEDGED
    row.get_by_role("link").click()
    expect(page.locator("tr[data-kind='correction'] td").nth(1)).to_have_text(str(corrections))
    shoot(page, "loop", "dinsos-submission")
    page.get_by_role("button", name="Keluar").click()

    log_in(page, "operator", PASSWORD)
    page.goto(f"/verval/{round_.pk}/")
    usulan = Family.objects.get(kk_number=proposal_kk)
    assert usulan.central_id.startswith("P")
    expect(page.get_by_test_id("round-answer")).to_contain_text("Koreksi data")
    expect(page.locator("main")).to_contain_text(usulan.central_id)
    expect(page.get_by_test_id("centre-outcome").first).to_contain_text("Diterima pusat")
    shoot(page, "loop", "operator-answer")
    page.get_by_role("button", name="Keluar").click()

    # The next publication: the corrected family moves up, and the feed says why.
    centre.ok("POST", "/admin/publish-desil", json={"period": "2026-12-20"})
    sync("desil")
    family = Family.objects.get(pk=poorest.family_id)
    assert family.desil > before
    log_in(page, "dinsos", PASSWORD)
    page.goto(f"/pemantauan/perubahan-desil/?movement=all&q={family.kk_number}")
    feed_row = page.locator("tr", has_text=family.kk_number)
    expect(feed_row).to_contain_text(f"{before}")
    expect(feed_row).to_contain_text("Lantai")
    shoot(page, "loop", "change-feed")
    page.goto(f"/keluarga/{family.pk}/")
    expect(page.locator("main")).to_contain_text("bukan angka resmi BPS")
    shoot(page, "loop", "family")

    # The regency's scorecard: the village submitted, was approved and answered by the centre.
    page.goto("/pemantauan/siklus/")
    expect(page.locator("main")).to_contain_text(round_.village.name)
    expect(page.locator("main")).to_contain_text("diterima")
    shoot(page, "loop", "scorecard")
