"""Browser journey: a batch with one clashing family is applied; Dinsos opens the held family, compares both
versions and takes the centre's."""
import pytest

from accounts.services import demo_accounts_ensure
from central.models import BatchClash, BatchState
from central.services import batch_sync
from registry.models import Family, Member
from verification.models import RoundFamily

from ..central.helpers import clashing_register, downloaded_batch, families_for
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-bentrok-123"
BATCH = "12.09-PKH-0007"


def test_dinsos_opens_a_held_family_compares_both_versions_and_takes_the_centres(open_page, regions):
    families = families_for("12.09", 50, seed=21)
    register = clashing_register(families)
    batch = batch_sync(batch_pk=downloaded_batch(BATCH, families, regency="12.09").pk, client=None)
    assert batch.state == BatchState.INGESTED
    centre = families[10]
    demo_accounts_ensure(village_code=centre["village_code"], password=PASSWORD)

    page = open_page()
    log_in(page, "dinsos", PASSWORD)
    page.get_by_role("link", name="Sinkronisasi").click()
    page.wait_for_url("**/sinkronisasi/")
    row = page.locator(f"tr[data-batch='{BATCH}']")
    assert "Sudah diterapkan" in row.inner_text() and "2 keluarga ditahan" in row.inner_text()
    shoot(page, "clash", "sync-overview")
    row.get_by_test_id("held-families").click()
    page.wait_for_url("**/sinkronisasi/bentrok/?state=held*")
    assert page.get_by_test_id("count").inner_text() == "2 keluarga"
    shoot(page, "clash", "list")

    page.get_by_role("link", name=centre["central_id"]).click()
    page.wait_for_url("**/sinkronisasi/bentrok/*/")
    assert "DT-LAMA-1" in page.get_by_test_id("reason").inner_text()
    family_sides = page.get_by_test_id("family-sides")
    assert family_sides.locator("tr[data-differs] mark").first.is_visible()
    members = page.get_by_test_id("member-sides")
    assert "Ani Lubis" in members.inner_text() and centre["members"][0]["name"] in members.inner_text()
    shoot(page, "clash", "both-versions")

    page.get_by_label("Pakai versi pusat").check()
    page.get_by_label("Catatan (alasan keputusan)").fill("KK dicek ke Dukcapil: keluarga pusat yang benar.")
    shoot(page, "clash", "decision")
    page.get_by_role("button", name="Simpan keputusan").click()
    page.wait_for_load_state()
    assert "Selesai: versi pusat" in page.locator(".messages").inner_text()
    assert page.get_by_test_id("clash-state").inner_text() == "Pakai versi pusat"
    shoot(page, "clash", "resolved")

    family = Family.objects.get(pk=register.kk_holder.pk)
    assert family.central_id == centre["central_id"]
    assert {m["nik"] for m in centre["members"]} <= set(Member.objects.filter(family=family)
                                                        .values_list("nik", flat=True))
    assert RoundFamily.objects.filter(family=family, round__batch_ref=BATCH).exists()
    assert BatchClash.objects.get(batch=batch, central_id=centre["central_id"]).resolved_by.username == "dinsos"
