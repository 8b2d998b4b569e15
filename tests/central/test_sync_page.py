"""The sync page: Dinsos sees its regency's batches and submissions with progress and errors, and can retry."""
import pytest
from django.urls import reverse

from accounts.models import Role
from central import tasks
from central.client import CentralBadData, CentralClient
from central.models import BatchState, CentralBatch, DownloadedPage
from central.services import batch_sync

from ..factories import UserFactory, client_for
from .helpers import downloaded_batch, families_for

pytestmark = pytest.mark.django_db



@pytest.fixture
def batches():
    held = CentralBatch.objects.create(batch_id="12.09-PKH-0001", regency_code="12.09", programme="PKH",
                                       state=BatchState.QUARANTINED, page_count=4, family_count=100,
                                       last_error="halaman 2, keluarga 6: kolom nik: NIK harus tepat 16 digit")
    running = CentralBatch.objects.create(batch_id="12.09-PKH-0002", regency_code="12.09", programme="PKH",
                                          state=BatchState.INGESTING, page_count=4, pages_done=4,
                                          rows_done=1200, rows_total=4800)
    away = CentralBatch.objects.create(batch_id="12.72-PKH-0001", regency_code="12.72", programme="PKH",
                                       state=BatchState.QUARANTINED, last_error="x")
    return held, running, away


def test_dinsos_sees_only_its_regencys_batches_with_state_progress_and_error(batches, django_assert_max_num_queries):
    held, running, away = batches
    client = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("sync-overview"))
    page = response.content.decode()
    assert held.batch_id in page and running.batch_id in page and away.batch_id not in page
    assert "Ditahan: tidak dapat diterapkan" in page and "NIK harus tepat 16 digit" in page
    assert 'http-equiv="refresh"' in page  # an ingest is running: the page refreshes itself
    detail = client.get(reverse("sync-batch", args=[running.pk])).content.decode()
    assert "1.200 / 4.800" in detail  # rows applied / total while it runs
    assert client.get(reverse("sync-batch", args=[away.pk])).status_code == 404


@pytest.mark.parametrize("role,area", [(Role.VILLAGE_OPERATOR, "12.09.08.2002"), (Role.FACILITATOR, "12.09.08")])
def test_village_and_facilitator_roles_have_no_sync_page(batches, role, area):
    response = client_for(UserFactory(role=role, area_id=area)).get(reverse("sync-overview"))
    assert response.status_code == 403


def test_retry_restarts_a_held_batch_and_refuses_other_regencies(batches, monkeypatch):
    held, _running, away = batches
    DownloadedPage.objects.create(stream="batch", ref=held.batch_id, number=1, checksum="x", body="[]")
    queued = []
    monkeypatch.setattr(tasks.sync_batch, "delay", queued.append)  # the worker side is tested end to end
    client = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    response = client.post(reverse("sync-batch-retry", args=[held.pk]), follow=True)
    held.refresh_from_db()
    assert held.state == BatchState.DISCOVERED and queued == [held.pk]
    assert not DownloadedPage.objects.filter(ref=held.batch_id).exists()
    assert "diunduh dan diterapkan ulang" in response.content.decode()
    assert client.post(reverse("sync-batch-retry", args=[away.pk])).status_code == 404


def test_a_page_that_keeps_failing_its_checksum_holds_the_batch_with_the_reason(monkeypatch):
    batch = CentralBatch.objects.create(batch_id="12.72-PKH-0009", regency_code="12.72", programme="PKH",
                                        page_count=1, checksum="0" * 64)
    client = CentralClient(base_url="http://central.invalid", token="t", sleep=lambda s: None)
    monkeypatch.setattr(client, "_once", lambda *a, **k: (200, {"page": 1, "families": [], "checksum": "f" * 64}))
    batch = batch_sync(batch_pk=batch.pk, client=client)
    assert batch.state == BatchState.QUARANTINED and "checksum" in batch.last_error
    assert issubclass(CentralBadData, Exception)


def test_pages_that_do_not_add_up_to_the_batch_checksum_hold_the_batch():
    batch = downloaded_batch("12.72-PKH-0003", families_for("12.72", 30, seed=2))
    CentralBatch.objects.filter(pk=batch.pk).update(checksum="0" * 64, state=BatchState.DOWNLOADING)
    batch = batch_sync(batch_pk=batch.pk, client=None)
    assert batch.state == BatchState.QUARANTINED and "checksum" in batch.last_error
