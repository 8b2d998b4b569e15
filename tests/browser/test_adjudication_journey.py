"""Browser journey: a batch adds two families the register already held under other spellings; Dinsos works
the adjudication queue: compares both side by side, merges one, is refused a merge whose members clash (nothing
changed, the clash named) and marks that one a duplicate instead."""
import pytest

from accounts.services import demo_accounts_ensure
from central.models import BatchClash, BatchState
from central.services import batch_sync
from registry.models import Family, Member
from verification.models import RoundFamily

from ..central.helpers import alike_register_family, downloaded_batch, families_for, head_of
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-adjudikasi-123"
BATCH = "12.09-PKH-0031"


def decide(page, decision: str, note: str) -> None:
    """Choose a decision on the item's page, say why, and save it."""
    page.get_by_label(decision).check()
    page.get_by_label("Catatan (alasan keputusan)").fill(note)
    page.get_by_role("button", name="Simpan keputusan").click()
    page.wait_for_load_state()


def test_dinsos_merges_one_likely_duplicate_and_marks_another_whose_members_clash(open_page, regions):
    families = families_for("12.09", 40, seed=31)
    clean_doc, clean_register = alike_register_family(families)
    clash_doc, clash_register = alike_register_family(families, clash_member=True, nth=1)
    batch = batch_sync(batch_pk=downloaded_batch(BATCH, families, regency="12.09").pk, client=None)
    assert batch.state == BatchState.INGESTED
    demo_accounts_ensure(village_code=clean_doc["village_code"], password=PASSWORD)

    page = open_page()
    log_in(page, "dinsos", PASSWORD)
    page.get_by_role("link", name="Sinkronisasi").click()
    page.wait_for_url("**/sinkronisasi/")
    row = page.locator(f"tr[data-batch='{BATCH}']")
    assert "2 kemungkinan data ganda" in row.inner_text()
    shoot(page, "adjudication", "sync-overview")
    row.get_by_test_id("likely-duplicates").click()
    page.wait_for_url("**/sinkronisasi/bentrok/?state=held&kind=similar*")
    assert page.get_by_role("heading", name="Antrian adjudikasi").is_visible()
    assert page.get_by_test_id("count").inner_text() == "2 keluarga"
    shoot(page, "adjudication", "queue")

    # The first: both families side by side, people paired by name across their other NIKs; merged.
    page.get_by_role("link", name=clean_doc["central_id"]).click()
    page.wait_for_url("**/sinkronisasi/bentrok/*/")
    assert "Kemungkinan keluarga yang sama" in page.get_by_test_id("reason").inner_text()
    members = page.get_by_test_id("member-sides")
    head_row = members.locator("tr", has_text=head_of(clean_doc)["name"])
    assert head_row.count() == 1 and "tidak tercantum" not in head_row.inner_text()
    shoot(page, "adjudication", "both-families")
    decide(page, "Gabungkan ke keluarga register", "Dicek ke desa: keluarga yang sama, ejaan berbeda.")
    assert "digabung ke keluarga register" in page.locator(".messages").inner_text()
    assert page.get_by_test_id("clash-state").inner_text() == "Gabungkan ke keluarga register"
    shoot(page, "adjudication", "merged")
    assert not Family.objects.filter(central_id=clean_doc["central_id"]).exclude(pk=clean_register.pk).exists()
    assert Family.objects.get(pk=clean_register.pk).central_id == clean_doc["central_id"]

    # The second: its members clash, so the merge is refused with the clash named and nothing changes.
    page.get_by_role("link", name="Antrian adjudikasi").click()
    page.get_by_role("link", name=clash_doc["central_id"]).click()
    page.wait_for_url("**/sinkronisasi/bentrok/*/")
    before = sorted(Member.objects.values_list("pk", "family_id"))
    decide(page, "Gabungkan ke keluarga register", "Mencoba menggabung.")
    refused = page.locator(".messages").inner_text()
    third = Member.objects.get(family=clash_register, relationship=Member.Relationship.OTHER)
    assert "tidak dapat digabung" in refused and third.name in refused
    assert sorted(Member.objects.values_list("pk", "family_id")) == before
    shoot(page, "adjudication", "merge-refused")
    decide(page, "Tandai sebagai ganda", "Anggota berbeda tanggal lahir; dicatat sebagai duplikat.")
    assert "dicatat sebagai data ganda" in page.locator(".messages").inner_text()
    shoot(page, "adjudication", "marked-duplicate")
    item = BatchClash.objects.get(central_id=clash_doc["central_id"])
    assert (item.resolution, item.resolved_by.username) == ("duplicate", "dinsos")
    assert not RoundFamily.objects.filter(family_id=item.batch_family_id).exists()
