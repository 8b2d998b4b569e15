"""A batch staged in page ranges, by any process in any order, lands as if applied in one go: every family
once, with its members as the centre sent them; a range staged twice is staged once; a broken range holds the
batch and leaves nothing staged. The last test runs two real Celery workers on Redis against the mock centre."""
import uuid

import pytest
from django.db import connection

from central import services, tasks
from central.client import CentralClient
from central.ingest import ingest_batch, page_ranges, stage_range, stage_schema, unstaged_ranges
from central.models import BatchState, CentralBatch, DownloadedPage
from registry.models import Family, Member
from verification.models import RoundFamily

from ..verification.test_tallies import assert_exact
from .helpers import downloaded_batch, families_for
from .mockproc import TOKEN, start_mock
from .worker import broker_url, start_worker, wait_for

pytestmark = pytest.mark.django_db


def register_content() -> dict:
    """central id -> (KK, village, sorted (NIK, name, relationship) of its members), read from the register."""
    members = {}
    for family_id, nik, name, relationship in Member.objects.values_list("family_id", "nik", "name", "relationship"):
        members.setdefault(family_id, []).append((nik, name, relationship))
    rows = Family.objects.values_list("pk", "central_id", "kk_number", "village_id")
    return {central_id: (kk, village, sorted(members.get(pk, []))) for pk, central_id, kk, village in rows}


def published_content(families: list[dict]) -> dict:
    return {f["central_id"]: (f["kk_number"], f["village_code"],
                              sorted((m["nik"], m["name"], m["relationship"]) for m in f["members"]))
            for f in families}


def schema_exists(batch) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [stage_schema(batch)])
        return cursor.fetchone() is not None


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("page ranges are staged on PostgreSQL only (SQLite applies a batch in one go)")


def test_ranges_staged_out_of_order_and_twice_apply_every_family_once_as_published(postgresql, settings):
    settings.CENTRAL_INGEST_RANGE_PAGES = 2
    families = families_for("12.72", 200, seed=11)
    batch = downloaded_batch("12.72-PKH-0001", families, page_size=20)  # 10 pages: 5 ranges
    ranges = page_ranges(batch)
    assert ranges == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]
    finished = [stage_range(batch, first, last) for first, last in reversed(ranges[1:])]
    assert finished == [False] * 4 and unstaged_ranges(batch) == [(1, 2)]
    assert stage_range(batch, 3, 4) is False  # staged already: nothing added
    assert stage_range(batch, 1, 2) is True  # the last one says so
    assert CentralBatch.objects.get(pk=batch.pk).rows_done == 200 + sum(len(f["members"]) for f in families)

    result = ingest_batch(batch)

    assert (result.families, result.members) == (200, sum(len(f["members"]) for f in families))
    assert register_content() == published_content(families)
    assert RoundFamily.objects.filter(round__batch_ref=batch.batch_id).count() == 200
    assert_exact()  # tallies, and the entries' copies of dusun, KK number and member names
    assert not schema_exists(batch)  # staging is dropped with the apply


def test_a_broken_page_in_one_range_holds_the_batch_and_drops_what_other_ranges_staged(postgresql, settings):
    settings.CENTRAL_INGEST_RANGE_PAGES = 2
    families = families_for("12.72", 120, seed=12)
    batch = downloaded_batch("12.72-PKH-0001", families, page_size=20)  # 6 pages: 3 ranges
    CentralBatch.objects.filter(pk=batch.pk).update(state=BatchState.DOWNLOADING)
    assert services.batch_stage_pages(batch_pk=batch.pk, first=1, last=2, client=None) == services.STAGED
    DownloadedPage.objects.filter(ref=batch.batch_id, number=4).update(body='{"families": []}')

    outcome = services.batch_stage_pages(batch_pk=batch.pk, first=3, last=4, client=None)

    assert outcome == BatchState.QUARANTINED
    held = CentralBatch.objects.get(pk=batch.pk)
    assert held.state == BatchState.QUARANTINED and "4" in held.last_error
    assert not schema_exists(batch) and Family.objects.count() == 0
    # A range still queued finds the batch held and stages nothing.
    assert services.batch_stage_pages(batch_pk=batch.pk, first=5, last=6, client=None) == BatchState.QUARANTINED
    assert not schema_exists(batch)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_workers_share_a_large_batch_by_page_ranges_and_it_lands_as_published(postgresql, regions, tmp_path):
    broker_url()
    mock = start_mock(tmp_path / "central", "--regency", "12.72", "--households", "600", "--seed", "21",
                      "--page-size", "25")  # 24 pages: 8 ranges of 3
    workers = []
    try:
        queue = f"ranges-{uuid.uuid4().hex[:8]}"
        workers = [start_worker(tmp_path, mock.base_url, TOKEN, extra_env={"CENTRAL_INGEST_RANGE_PAGES": "3"},
                                queue=queue) for _ in range(2)]
        tasks.pull_batches.apply_async(queue=queue)
        wait_for(lambda: CentralBatch.objects.filter(state=BatchState.INGESTED).exists(), what="batch applied",
                 worker=workers[0], timeout=180)

        batch = CentralBatch.objects.get()
        client = CentralClient(base_url=mock.base_url, token=TOKEN)
        published = [family for number in range(1, batch.page_count + 1)
                     for family in client.batch_page(batch.batch_id, number)["families"]]
        assert len(published) == 600 and batch.page_count == 24
        assert register_content() == published_content(published)
        assert (batch.rows_done, batch.rows_total) == (batch.family_count + batch.member_count,) * 2
        assert not schema_exists(batch)
        logs = "".join(w.log.read_text(errors="replace") for w in workers)
        # Eight ranges were staged by page-range tasks (a range taken twice is staged once), then one apply.
        assert logs.count("Task central.stage_batch_pages[") >= 2 * 8  # received + succeeded lines
        assert "'last range'" in logs and "Task central.apply_batch[" in logs
    finally:
        for running in workers:
            running.stop()
        mock.stop()
