"""End to end over real processes: the mock centre with faults on, a Celery worker on Redis, PostgreSQL.

Shows that every published family lands exactly once, every approved round reaches the centre exactly
once (the mock's /stats counts them), and that pulling and pushing again changes nothing.
"""
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Max

from central import tasks
from central.models import BatchState, CentralBatch, DesilPublication, Submission, SyncCursor
from distribution.models import Determination
from registry.models import DesilRanking, Family, Member
from verification.models import RoundState, VerificationRound

from .mockproc import NO_FAULTS, TOKEN, start_mock
from .worker import broker_url, kick_until, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAULTY = {"fail_rate": 0.3, "duplicate_rate": 0.2, "drop_rate": 0.05, "timeout_rate": 0.03, "hang_seconds": 2}


@pytest.fixture
def mock(tmp_path):
    running = start_mock(tmp_path / "central", "--regency", "12.72", "61.11", "--households", "400", "--seed", "9",
                         "--page-size", "40", "--fault-seed", "7")
    yield running
    running.stop()


@pytest.fixture
def worker(mock, regions, tmp_path):
    broker_url()
    running = start_worker(tmp_path, mock.base_url, TOKEN)
    yield running
    running.stop()


def register_snapshot():
    return (Family.objects.count(), Member.objects.count(), DesilRanking.objects.count(),
            VerificationRound.objects.count(), Family.objects.aggregate(m=Max("updated_at"))["m"],
            Member.history.count(), Family.history.count())


def all_batches_settled():
    batches = list(CentralBatch.objects.values_list("state", flat=True))
    return batches and all(s in (BatchState.INGESTED, BatchState.QUARANTINED) for s in batches)


def test_worker_pulls_every_family_once_and_delivers_every_round_once_under_faults(mock, worker):
    mock.ok("PUT", "/admin/faults", json=FAULTY)
    tasks.pull_batches.apply_async(queue=worker.queue)
    tasks.pull_batches.apply_async(queue=worker.queue)  # a second pull racing the first must not double
    wait_for(lambda: CentralBatch.objects.count() == 2 and all_batches_settled(), what="batches applied",
             worker=worker)

    stats = mock.ok("GET", "/stats")
    assert set(CentralBatch.objects.values_list("state", flat=True)) == {BatchState.INGESTED}
    assert Family.objects.count() == stats["families_published"] == 800
    published = sum(b.member_count for b in CentralBatch.objects.all())
    assert Member.objects.count() == published
    assert stats["faults_injected"]["fail"] > 0 and stats["faults_injected"]["duplicate"] > 0

    # Pull again: nothing new, nothing changed.
    before = register_snapshot()
    looked = SyncCursor.objects.get(stream="batches").updated_at
    tasks.pull_batches.apply_async(queue=worker.queue)
    wait_for(lambda: SyncCursor.objects.get(stream="batches").updated_at > looked, what="second pull",
             worker=worker)
    wait_for(all_batches_settled, what="batches settled")
    assert register_snapshot() == before

    # The villages verify; Dinsos approves some rounds; the push goes up through the faults.
    approved = list(VerificationRound.objects.order_by("village_id").values_list("pk", flat=True)[:12])
    VerificationRound.objects.filter(pk__in=approved).update(state=RoundState.APPROVED)
    for _ in range(3):  # repeated pushes, as the schedule would do while the first is still retrying
        tasks.push_submissions.apply_async(queue=worker.queue)
    wait_for(lambda: Submission.objects.filter(state=Submission.State.SENT).count() == len(approved),
             what="submissions sent", worker=worker)
    stats = mock.ok("GET", "/stats")
    assert stats["submissions_received"] == len(approved)
    assert stats["submission_requests"] >= len(approved)
    assert set(VerificationRound.objects.filter(pk__in=approved).values_list("state", flat=True)) == {RoundState.SENT}

    # The centre accepts; the next push acknowledges the rounds; determinations and desil come down.
    mock.ok("PUT", "/admin/faults", json=NO_FAULTS)
    accepted = mock.ok("POST", "/admin/accept-submissions")
    kick_until(lambda: tasks.push_submissions.apply_async(queue=worker.queue),
               lambda: Submission.objects.filter(state=Submission.State.ACKNOWLEDGED).count() == len(approved),
               what="submissions acknowledged", worker=worker)
    assert mock.ok("GET", "/stats")["submissions_received"] == len(approved)
    assert set(VerificationRound.objects.filter(pk__in=approved).values_list("state", flat=True)) == \
        {RoundState.ACKNOWLEDGED}

    mock.ok("PUT", "/admin/faults", json=FAULTY)
    tasks.pull_determinations.apply_async(queue=worker.queue)
    wait_for(lambda: Determination.objects.count() == accepted["determinations"], what="determinations",
             worker=worker)
    assert accepted["determinations"] > 0
    assert not Determination.objects.filter(family__isnull=True).exists()

    publication = mock.ok("POST", "/admin/publish-desil", json={"period": "2026-12-20"})
    tasks.pull_desil.apply_async(queue=worker.queue)
    wait_for(lambda: DesilPublication.objects.filter(state=DesilPublication.State.APPLIED).exists(),
             what="desil publication applied", worker=worker)
    ranked = dict(DesilRanking.objects.filter(period="2026-12-20").values_list("family_id", "desil"))
    assert len(ranked) == Family.objects.count() == publication["row_count"]
    # The current desil follows the newest publication for every family.
    assert dict(Family.objects.values_list("id", "desil")) == ranked


def test_sync_central_pull_holds_exactly_what_the_centre_published_and_a_second_pull_changes_nothing(
        mock, regions, settings):
    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN, settings.CENTRAL_API_TIMEOUT = mock.base_url, TOKEN, 2
    mock.ok("PUT", "/admin/faults", json={"fail_rate": 0.3, "duplicate_rate": 0.2})
    out = io.StringIO()
    call_command("sync_central", "pull", stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    stats = mock.ok("GET", "/stats")
    assert summary["families"] == Family.objects.count() == stats["families_published"]
    assert summary["batch_outcomes"] == {"ingested": 2}
    central_ids = set(Family.objects.values_list("central_id", flat=True))
    assert len(central_ids) == stats["families_published"]
    before = register_snapshot()

    out = io.StringIO()
    call_command("sync_central", "pull", stdout=out, stderr=io.StringIO())
    again = json.loads(out.getvalue().strip().splitlines()[-1])
    assert again["batches_new"] == 0 and again["batch_outcomes"] == {}
    assert register_snapshot() == before

    out = io.StringIO()
    call_command("sync_central", "status", stdout=out)
    status = json.loads(out.getvalue().strip().splitlines()[-1])
    assert status["families"] == before[0] and status["members"] == before[1]
    assert status["batches"]["total"] == 2 and status["rounds"]["total"] == before[3]
    assert set(status["submissions"]) == {"pending", "acknowledged", "failed", "cancelled"}
    assert set(status["submitted_items"]) == {"result", "correction", "member_change", "proposal", "recommendation",
                                              "report"}


def test_a_batch_of_an_unknown_programme_is_held_and_the_others_carry_on(mock, regions, settings):
    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN = mock.base_url, TOKEN
    mock.ok("POST", "/admin/publish-batch", json={"regency": "12.72", "programme": "XYZ", "households": 5,
                                                  "seed": 1})
    out = io.StringIO()
    call_command("sync_central", "pull", stdout=out, stderr=io.StringIO())
    held = CentralBatch.objects.get(programme="XYZ")
    assert held.state == BatchState.QUARANTINED and "XYZ" in held.last_error
    assert CentralBatch.objects.filter(state=BatchState.INGESTED).count() == 2
    assert Family.objects.count() == 800


def test_an_interrupted_download_resumes_without_fetching_stored_pages_again(mock, regions, settings):
    from central.client import CentralClient, CentralUnavailable, RetryPolicy
    from central.services import batch_sync, batches_discover

    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN = mock.base_url, TOKEN
    impatient = CentralClient(policy=RetryPolicy(attempts=1))
    batch = batches_discover(client=impatient, regency="12.72")[0]
    mock.ok("PUT", "/admin/faults", json={"fail_rate": 0.5})
    failures = 0
    for _ in range(40):
        try:
            batch_sync(batch_pk=batch.pk, client=impatient)
        except CentralUnavailable:
            failures += 1
        batch.refresh_from_db()
        if failures and batch.pages_done:
            break
    stored = batch.pages_done
    # Said in words (Indonesian), with the request and the kind of failure, not the transport's own text.
    assert failures and 0 < stored < batch.page_count and "percobaan" in batch.last_error
    assert "/v1/batches/" in batch.last_error and "HTTPConnectionPool" not in batch.last_error
    assert Family.objects.count() == 0
    mock.ok("PUT", "/admin/faults", json=NO_FAULTS)
    requests_before = mock.ok("GET", "/stats")["requests_total"]
    batch = batch_sync(batch_pk=batch.pk, client=CentralClient())
    assert batch.state == BatchState.INGESTED and Family.objects.count() == 400
    # Only the missing pages were asked for (plus the /stats calls of this test).
    assert mock.ok("GET", "/stats")["requests_total"] - requests_before <= batch.page_count - stored + 2


def test_an_approved_round_reaches_the_centre_exactly_once(mock, regions, settings, monkeypatch):
    import datetime as dt

    from accounts.models import Role
    from verification import services as verval

    from ..factories import UserFactory

    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN, settings.CENTRAL_API_TIMEOUT = mock.base_url, TOKEN, 2
    queued = []
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: queued.append(a))
    call_command("sync_central", "pull", stdout=io.StringIO(), stderr=io.StringIO())
    round_ = VerificationRound.objects.filter(village__pk__startswith="12.72.").order_by("village_id").first()
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=round_.village_id)
    head = UserFactory(role=Role.VILLAGE_HEAD, area_id=round_.village_id)
    for entry in round_.entries.all():
        verval.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                            expected_version=entry.version)
    verval.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai",
                           chair="Lurah", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 3}])
    verval.musdesus_sign_off(actor=head, round_id=round_.pk)
    verval.round_submit(actor=operator, round_id=round_.pk)
    verval.round_approve(actor=UserFactory(role=Role.DINSOS, area_id="12.72"), round_id=round_.pk)
    assert len(queued) == 1  # the approval queued the push once it was committed

    mock.ok("PUT", "/admin/faults", json={"fail_rate": 0.3, "drop_rate": 0.1})
    for _ in range(3):  # the queued push, then the schedule's next runs
        call_command("sync_central", "push", stdout=io.StringIO(), stderr=io.StringIO())
    stats = mock.ok("GET", "/stats")
    assert stats["submissions_received"] == 1
    assert Submission.objects.get().round_id == round_.pk
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.SENT
