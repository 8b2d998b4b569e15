"""The whole village journey in headless Chromium: decide, propose, Musdesus, the head signs, submit."""
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from accounts.services import demo_accounts_ensure
from registry.models import Family
from registry.services import demo_seed
from verification.models import Musdesus, RoundFamily, RoundState, VerificationRound

from ..factories import nik_for
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-operator-123"


@pytest.fixture
def village_round(regions):
    result = demo_seed(regency="12.72", households=160, seed=21, as_of=dt.date(2026, 11, 23))
    village = result.busiest_village
    demo_accounts_ensure(village_code=village, password=PASSWORD)
    round_ = VerificationRound.objects.create(village_id=village, batch_ref="12.72-PKH-0001", programme="PKH",
                                              deadline=dt.date(2026, 12, 15))
    families = list(Family.objects.filter(village_id=village).order_by("kk_number"))
    RoundFamily.objects.bulk_create(RoundFamily(round=round_, family=f) for f in families)
    return round_, families


def test_operator_verifies_the_village_and_submits_after_the_heads_sign_off(open_page, village_round):
    round_, families = village_round
    assert 3 <= len(families) <= 25, "the journey expects one page of families"
    page = open_page()
    log_in(page, "operator", PASSWORD)
    assert f"0 dari {len(families)}" in page.content()
    shoot(page, "operator", "home")

    page.get_by_role("link", name=re.compile("Desa|Kelurahan")).first.click()
    page.wait_for_url(f"**/verval/{round_.pk}/")
    shoot(page, "operator", "round")

    # First family: eligible; "save and next" goes to the following undecided family.
    page.locator("table tbody tr td a").first.click()
    page.get_by_role("radio", name="Layak", exact=True).check()
    page.get_by_role("button", name="Simpan dan lanjut ke keluarga berikutnya").click()
    page.wait_for_url(re.compile(r"/verval/\d+/keluarga/\d+/"))
    # Second family: not eligible because well-off, with a note.
    page.get_by_role("radio", name="Tidak layak").check()
    page.get_by_label("Alasan (jika tidak layak)").select_option("well_off")
    page.get_by_label("Catatan").fill("Rumah permanen dan punya mobil")
    shoot(page, "operator", "decision")
    page.get_by_role("button", name="Simpan", exact=True).click()
    expect(page.get_by_test_id("decision")).to_have_text("Tidak layak")
    assert "Keputusan disimpan" in page.content()

    # Everyone else at once with the bulk action.
    page.goto(f"/verval/{round_.pk}/?status=undecided")
    boxes = page.locator("input[name=entry]")
    if boxes.count() != len(families) - 2:
        shoot(page, "operator", "debug-bulk")
        print("DEBUG PAGE:", page.locator("main").inner_text()[:3000])
    expect(boxes).to_have_count(len(families) - 2)
    page.get_by_test_id("select-all").check()  # one tap for the whole page
    assert all(box.is_checked() for box in boxes.all())
    page.get_by_label("Keputusan untuk keluarga terpilih").select_option("eligible")
    page.get_by_role("button", name="Terapkan ke yang dipilih").click()
    expect(page.get_by_test_id("desil-spread")).to_be_visible()  # the selection's desil spread, first
    shoot(page, "operator", "bulk-confirm")
    page.get_by_role("button", name="Ya, terapkan").click()
    expect(page.get_by_test_id("progress")).to_have_text(f"{len(families)} / {len(families)}")

    # A family missing from the data awal.
    page.get_by_role("link", name="Tambah keluarga yang belum terdata (usulan)").click()
    born = dt.date(1988, 4, 12)
    page.locator("#id_kk_number").fill(f"{round_.village_id.replace('.', '')[:6]}010126" + "7001")
    page.locator("#id_dusun").fill("Dusun III")
    page.locator("#id_rt").fill("004")
    page.locator("#id_rw").fill("002")
    page.locator("#id_members-0-nik").fill(nik_for(round_.village_id, born))
    page.locator("#id_members-0-name").fill("Suparman Usulan")
    page.locator("#id_members-0-sex").select_option("L")
    page.locator("#id_members-0-birth_date").fill(born.isoformat())
    page.locator("#id_members-0-relationship").select_option("head")
    # No fixed number of members: two more forms after the four shown, the sixth one filled.
    page.get_by_test_id("add-member").click()
    page.get_by_test_id("add-member").click()
    expect(page.locator('input[name="members-TOTAL_FORMS"]')).to_have_value("6")
    child_born = dt.date(2015, 7, 3)
    page.locator("#id_members-5-nik").fill(nik_for(round_.village_id, child_born, "P"))
    page.locator("#id_members-5-name").fill("Sari Usulan")
    page.locator("#id_members-5-sex").select_option("P")
    page.locator("#id_members-5-birth_date").fill(child_born.isoformat())
    page.locator("#id_members-5-relationship").select_option("child")
    shoot(page, "operator", "proposal")
    page.get_by_role("button", name="Simpan usulan").click()
    expect(page.locator(".messages")).to_contain_text("Usulan untuk KK")
    proposal = RoundFamily.objects.get(round=round_, is_proposal=True).family
    assert sorted(proposal.members.values_list("name", flat=True)) == ["Sari Usulan", "Suparman Usulan"]

    # The Musdesus.
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.locator("#id_held_on").fill("2026-11-25")
    page.locator("#id_place").fill("Aula Kantor Lurah")
    page.locator("#id_chair").fill("Sekretaris Kelurahan")
    page.locator("#id_att-0-name").fill("Perwakilan BPD")
    page.locator("#id_att-0-role").fill("BPD")
    page.locator("#id_att-0-count").fill("5")
    page.locator("#id_att-1-name").fill("Ketua RT/RW")
    page.locator("#id_att-1-role").fill("RT/RW")
    page.locator("#id_att-1-count").fill("8")
    page.get_by_role("button", name="Simpan Musdesus").click()
    expect(page.locator(".messages")).to_contain_text("Musdesus dicatat")
    shoot(page, "operator", "musdesus")
    pdf = page.request.get(page.get_by_test_id("berita-acara").get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    page.get_by_role("button", name="Keluar").click()

    # The village head signs off with their own account.
    log_in(page, "kades", PASSWORD)
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.get_by_role("button", name="Tanda tangani berita acara").click()
    expect(page.get_by_test_id("sign-summary")).to_contain_text("keluarga")  # what is signed, before signing
    shoot(page, "operator", "signoff-confirm")
    page.get_by_role("button", name="Ya, tanda tangani berita acara").click()
    expect(page.get_by_test_id("signed")).to_be_visible()
    shoot(page, "operator", "signoff")
    page.get_by_role("button", name="Keluar").click()

    # Back to the operator, who submits; the round is read-only afterwards.
    log_in(page, "operator", PASSWORD)
    page.goto(f"/verval/{round_.pk}/musdesus/")
    page.get_by_role("button", name="Kirim ke Dinas Sosial").click()
    expect(page.locator(".messages")).to_contain_text("dikirim ke Dinas Sosial")
    shoot(page, "operator", "submitted")
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.SUBMITTED
    assert Musdesus.objects.get(round=round_).signed_off_by.username == "kades"
    page.locator("table tbody tr td a").first.click()
    expect(page.locator("#decision")).to_contain_text("tidak dapat diubah lagi")
