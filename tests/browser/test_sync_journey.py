"""Browser journey: a Dinsos officer checks what came from the centre and retries a held batch."""
import pytest

from accounts.services import demo_accounts_ensure
from central.ingest import ingest_batch
from central.models import BatchState, CentralBatch
from central.services import batch_quarantine

from ..central.helpers import downloaded_batch, families_for
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-sinkron-123"


def test_dinsos_sees_applied_and_held_batches_and_retries_the_held_one(open_page, regions, monkeypatch):
    families = families_for("12.09", 120, seed=8)
    applied = downloaded_batch("12.09-PKH-0001", families, regency="12.09")
    ingest_batch(applied)
    CentralBatch.objects.filter(pk=applied.pk).update(state=BatchState.INGESTED, rounds_created=1)
    held = downloaded_batch("12.09-PKH-0002", families_for("12.09", 10, seed=9), regency="12.09")
    batch_quarantine(held, "halaman 1, keluarga 3 (DT1209): kolom nik: NIK harus tepat 16 digit; yang diisi 15 digit.")
    demo_accounts_ensure(village_code=families[0]["village_code"], password=PASSWORD)
    from central import tasks

    monkeypatch.setattr(tasks.sync_batch, "delay", lambda pk: None)  # the live server has no worker here

    page = open_page()
    log_in(page, "dinsos", PASSWORD)
    page.get_by_role("link", name="Sinkronisasi").click()
    page.wait_for_url("**/sinkronisasi/")
    held_row = page.locator("tr[data-batch='12.09-PKH-0002']")
    assert "Ditahan" in held_row.inner_text() and "NIK harus tepat 16 digit" in held_row.inner_text()
    shoot(page, "sync", "overview")
    page.get_by_role("link", name="12.09-PKH-0001").click()
    applied.refresh_from_db()
    assert applied.rows_total > 120
    expected = f"{applied.rows_done:,} / {applied.rows_total:,}".replace(",", ".")  # Indonesian thousands
    assert page.get_by_test_id("rows-done").inner_text() == expected
    shoot(page, "sync", "batch-detail")
    page.go_back()
    held_row.get_by_role("button", name="Coba lagi").click()
    page.wait_for_url("**/sinkronisasi/")
    assert "akan diunduh dan diterapkan ulang" in page.content()
    held.refresh_from_db()
    assert held.state == BatchState.DISCOVERED
