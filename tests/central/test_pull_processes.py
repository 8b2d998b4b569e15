"""``sync_central pull`` stages a large batch's page ranges in several processes, and the client keeps a page
the centre sent in canonical form as the bytes that hash to its checksum, without decoding it.

The pull tests fork real processes against real PostgreSQL (committed rows: the children have their own
connections) and, for the end-to-end one, download from the mock centre running as its own process. Dropping a
batch's staging (held, or sent round again) waits for ranges in flight instead of deadlocking with them."""
import hashlib
import io
import json
import os
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F

from central import pull, services
from central.client import CANONICAL, CentralBadData, CentralClient, CentralUnavailable, RetryPolicy
from central.ingest import page_ranges, stage_schema
from central.models import BatchState, CentralBatch, DownloadedPage
from central.protocol import canonical_json, checksum
from registry.models import Family

from ..test_properties import CannedAnswers
from .helpers import downloaded_batch, families_for
from .mockproc import TOKEN, start_mock
from .test_ingest_ranges import published_content, register_content

FAMILIES = [{"central_id": "DT-1", "members": [{"nik": "1272015001900001", "name": "Siti \u00c4"}]},
            {"central_id": "DT-2", "members": []}]


def canned(body: bytes) -> CentralClient:
    client = CentralClient(base_url="http://centre.test", token="t", policy=RetryPolicy(attempts=2),
                           sleep=lambda seconds: None)
    client.session.mount("http://", CannedAnswers(200, body))
    return client


def page_answer(families, *, number: int = 1, **extra) -> dict:
    return {"batch_id": "B1", "checksum": checksum(families), "families": families, "page": number,
            "page_count": 3, **extra}


# -- the client ------------------------------------------------------------------------------------------------
def test_a_canonical_page_is_kept_as_the_bytes_that_hash_to_its_checksum_and_not_decoded():
    client = canned(canonical_json(page_answer(FAMILIES)))

    answer = client.batch_page("B1", 1, decoded=False)

    assert "families" not in answer
    assert answer[CANONICAL] == canonical_json(FAMILIES)
    assert hashlib.sha256(answer[CANONICAL]).hexdigest() == answer["checksum"] == checksum(FAMILIES)
    decoded = client.batch_page("B1", 1)  # whoever reads the families gets them, as before
    assert decoded["families"] == FAMILIES and decoded[CANONICAL] == canonical_json(FAMILIES)


def test_a_page_in_another_json_layout_is_decoded_and_checked_as_before():
    client = canned(json.dumps(page_answer(FAMILIES), indent=2).encode())

    answer = client.batch_page("B1", 1, decoded=False)

    assert answer["families"] == FAMILIES and answer[CANONICAL] == canonical_json(FAMILIES)


def test_brackets_in_a_field_after_the_rows_do_not_cut_the_page_wrong():
    client = canned(canonical_json(page_answer(FAMILIES, zz_note="],[\"x\"],")))

    answer = client.batch_page("B1", 1, decoded=False)

    assert answer[CANONICAL] == canonical_json(FAMILIES)


def test_a_canonical_page_whose_rows_do_not_match_the_checksum_is_asked_again_then_held():
    body = canonical_json(page_answer(FAMILIES)).replace(b"Siti", b"Sito")
    with pytest.raises(CentralBadData):
        canned(body).batch_page("B1", 1, decoded=False)


def test_the_centre_cannot_hand_the_client_the_bytes_it_stores_in_place_of_the_rows():
    # A "canonical" field of the answer's own, with a checksum that fits it but not the families sent.
    forged = page_answer(FAMILIES, canonical="[]", checksum=hashlib.sha256(b"[]").hexdigest())
    with pytest.raises(CentralBadData):
        canned(json.dumps(forged).encode()).batch_page("B1", 1, decoded=False)


def test_a_page_labelled_with_another_number_is_asked_again_on_the_fast_path_too():
    with pytest.raises(CentralUnavailable, match="asked for page 1, got page 2"):
        canned(canonical_json(page_answer(FAMILIES, number=2))).batch_page("B1", 1, decoded=False)


# -- ranges staged by processes of the command -------------------------------------------------------------------
@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("page ranges are staged on PostgreSQL only (SQLite applies a batch in one go)")


@pytest.fixture
def staged_by(tmp_path, monkeypatch):
    """Records which process staged which range (the forked children inherit the wrapper) in a file."""
    record = tmp_path / "ranges.log"
    real = services.batch_stage_pages

    def recording(*, batch_pk, first, last, client):
        outcome = real(batch_pk=batch_pk, first=first, last=last, client=client)
        with open(record, "a") as out:
            out.write(f"{os.getpid()} {first} {last} {outcome}\n")
        return outcome

    monkeypatch.setattr(services, "batch_stage_pages", recording)

    def read() -> list[tuple[int, int, int, str]]:
        if not record.exists():
            return []
        return [(int(pid), int(first), int(last), outcome)
                for pid, first, last, outcome in (line.split(" ", 3) for line in record.read_text().splitlines())]
    return read


def schema_exists(batch) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [stage_schema(batch)])
        return cursor.fetchone() is not None


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sync_central_pull_stages_a_large_batch_in_two_processes_and_it_lands_as_published(
        postgresql, regions, tmp_path, settings, staged_by):
    mock = start_mock(tmp_path / "central", "--regency", "12.72", "--households", "600", "--seed", "21",
                      "--page-size", "25")  # 24 pages: 8 ranges of 3
    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN = mock.base_url, TOKEN
    settings.CENTRAL_INGEST_RANGE_PAGES = 3
    try:
        out = io.StringIO()
        call_command("sync_central", "pull", "--processes", "2", stdout=out, stderr=io.StringIO())
        summary = json.loads(out.getvalue().strip().splitlines()[-1])

        batch = CentralBatch.objects.get()
        client = CentralClient(base_url=mock.base_url, token=TOKEN)
        published = [family for number in range(1, batch.page_count + 1)
                     for family in client.batch_page(batch.batch_id, number)["families"]]
    finally:
        mock.stop()
    assert summary["batch_outcomes"] == {"ingested": 1}
    assert len(published) == 600 and register_content() == published_content(published)
    staged = staged_by()
    # Each of the 8 ranges staged once, by the command's two child processes, never by the command itself.
    assert sorted((first, last) for _pid, first, last, _outcome in staged) == page_ranges(batch)
    assert len({pid for pid, *_rest in staged}) == 2 and os.getpid() not in {pid for pid, *_rest in staged}
    assert [outcome for *_rest, outcome in staged].count(services.LAST_RANGE) == 1
    assert (batch.rows_done, batch.rows_total) == (batch.family_count + batch.member_count,) * 2
    assert DownloadedPage.objects.filter(ref=batch.batch_id).count() == 24 and not schema_exists(batch)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_broken_page_staged_by_a_child_process_holds_the_batch_and_nothing_is_applied(
        postgresql, regions, settings, staged_by):
    settings.CENTRAL_INGEST_RANGE_PAGES = 2
    families = families_for("12.72", 160, seed=31)
    batch = downloaded_batch("12.72-PKH-0001", families, page_size=20)  # 8 pages: 4 ranges
    CentralBatch.objects.filter(pk=batch.pk).update(state=BatchState.DOWNLOADING)
    DownloadedPage.objects.filter(ref=batch.batch_id, number=6).update(body='{"families": []}')

    outcome = pull.stage_ranges(batch.pk, page_ranges(batch), processes=2, client=None)

    assert outcome == BatchState.QUARANTINED
    held = CentralBatch.objects.get(pk=batch.pk)
    assert held.state == BatchState.QUARANTINED and "6" in held.last_error
    assert Family.objects.count() == 0 and not schema_exists(batch)
    assert os.getpid() not in {pid for pid, *_rest in staged_by()}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_command_still_holds_is_not_used_or_ended_by_the_children(
        postgresql, regions, settings, staged_by, monkeypatch):
    settings.CENTRAL_INGEST_RANGE_PAGES = 2
    families = families_for("12.72", 160, seed=33)
    batch = downloaded_batch("12.72-PKH-0001", families, page_size=20)  # 8 pages: 4 ranges
    CentralBatch.objects.filter(pk=batch.pk).update(state=BatchState.DOWNLOADING)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        session = cursor.fetchone()[0]
    # As if something kept this process's session open through the fork (it happened in a long test run).
    monkeypatch.setattr(pull.connections, "close_all", lambda: None)

    assert pull.stage_ranges(batch.pk, page_ranges(batch), processes=2, client=None) == services.LAST_RANGE

    with connection.cursor() as cursor:  # the same session, still whole
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == session
    assert os.getpid() not in {pid for pid, *_rest in staged_by()}
    assert services.batch_sync(batch_pk=batch.pk, client=None).state == BatchState.INGESTED
    assert register_content() == published_content(families)


@pytest.mark.django_db
def test_inside_a_transaction_the_ranges_are_staged_by_this_process(postgresql, settings, staged_by):
    # Other processes could not see the uncommitted batch: the command's own process stages every range.
    settings.CENTRAL_INGEST_RANGE_PAGES = 2
    families = families_for("12.72", 120, seed=32)
    batch = downloaded_batch("12.72-PKH-0001", families, page_size=20)  # 6 pages: 3 ranges
    CentralBatch.objects.filter(pk=batch.pk).update(state=BatchState.DOWNLOADING)

    assert pull.stage_ranges(batch.pk, page_ranges(batch), processes=4, client=None) == services.LAST_RANGE

    assert {pid for pid, *_rest in staged_by()} == {os.getpid()}
    assert services.batch_sync(batch_pk=batch.pk, client=None).state == BatchState.INGESTED
    assert register_content() == published_content(families)


def test_processes_below_one_are_refused_with_a_clear_message():
    from django.core.management import CommandError
    with pytest.raises(CommandError, match="--processes must be at least 1"):
        call_command("sync_central", "status", "--processes", "0", stdout=io.StringIO())



@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sending_a_batch_round_again_waits_for_a_range_in_flight_without_locking_the_row_it_updates(
        postgresql, regions):
    """A range being staged holds the drop lock shared and, as it finishes, updates the batch's row: the retry
    must wait for it before taking that row, or each would wait for the other."""
    from django.db import connections

    from accounts.models import Role
    from central.ingest import STAGE_DROP_LOCK

    from ..factories import UserFactory

    held = CentralBatch.objects.create(batch_id="12.72-PKH-0009", regency_code="12.72", programme="PKH",
                                       state=BatchState.QUARANTINED, page_count=2, last_error="x")
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.72")
    in_flight = threading.Event()
    finish = threading.Event()
    outcome = {}

    def staging_range():  # what a range's transaction holds while it stages
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [STAGE_DROP_LOCK, held.pk])
                in_flight.set()
                finish.wait(10)
                CentralBatch.objects.filter(pk=held.pk).update(rows_done=F("rows_done") + 5)
            outcome["range"] = "committed"
        finally:
            connections.close_all()

    def retry():
        try:
            outcome["retry"] = services.batch_retry(batch_id=held.pk, actor=dinsos).state
        finally:
            connections.close_all()

    stager = threading.Thread(target=staging_range)
    stager.start()
    assert in_flight.wait(10)
    retrier = threading.Thread(target=retry)
    retrier.start()
    retrier.join(1.0)
    assert retrier.is_alive()  # waiting for the range to finish
    with transaction.atomic(), connection.cursor() as cursor:  # and not holding the batch's row meanwhile
        cursor.execute("SELECT id FROM central_centralbatch WHERE id = %s FOR UPDATE NOWAIT", [held.pk])
    finish.set()
    stager.join(10)
    retrier.join(10)
    assert outcome == {"range": "committed", "retry": BatchState.DISCOVERED}
    assert CentralBatch.objects.get(pk=held.pk).state == BatchState.DISCOVERED
