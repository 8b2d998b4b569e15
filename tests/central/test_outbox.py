"""Nothing is lost while Redis is down: an approval records its push in the database (the outbox) and says
delivery is pending; the scheduled push (or a worker once the broker is back) sends it; the sync page's
buttons say the queue is unreachable instead of failing."""
import datetime as dt
import io
import os

import pytest
from celery import _state
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from central import services, tasks
from central.models import BatchState, CentralBatch, Submission
from dtsen_portal.celery import app
from registry.models import Family
from verification.models import RoundState, VerificationRound

from ..factories import VILLAGE_SAME_KECAMATAN, UserFactory, client_for, submitted_round
from .loop import ratify_and_submit
from .mockproc import TOKEN, start_mock
from .test_submissions import FakeCentre
from .worker import broker_url, start_worker, wait_for

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every connection is refused
PENDING_NOTE = "pengiriman ke pusat tertunda"


def _point_broker_at(url: str | None) -> None:
    # Celery reads CELERY_BROKER_URL from the environment before its settings; cached pools keep the old one.
    if url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = url
    app.close()
    # close() also takes the app off Celery's list of active apps, and a task module imported later (a shared
    # task) would then never be registered with it: put it back.
    _state._register_app(app)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    before = os.environ.get("CELERY_BROKER_URL")
    _point_broker_at(CLOSED)
    yield lambda: _point_broker_at(before)
    _point_broker_at(before)


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED}}


@pytest.fixture
def dinsos(regions):
    return UserFactory(role=Role.DINSOS, area_id="12.09")


def submitted_round_from_centre(**kwargs):
    """A submitted round whose families carry DTSEN ids, so each decision becomes an item for the centre."""
    round_, entries = submitted_round(**kwargs)
    for entry in entries:
        Family.objects.filter(pk=entry.family_id).update(central_id=f"DT{entry.family_id:010d}")
    return round_, entries


def _submission_of(round_) -> Submission:
    return Submission.objects.get(round=round_, state=Submission.State.PENDING)


@pytest.mark.django_db(transaction=True)
def test_approval_from_the_page_with_the_broker_down_is_saved_with_its_submission_and_says_delivery_is_pending(
        dinsos, broker_down):
    round_, entries = submitted_round_from_centre()
    response = client_for(dinsos).post(reverse("round-review", args=[round_.pk]), {"action": "approve"},
                                       follow=True)
    assert response.redirect_chain[0][1] == 302
    page = response.content.decode().lower()
    assert "disetujui" in page and PENDING_NOTE in page
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.APPROVED
    submission = _submission_of(round_)
    assert submission.items.filter(kind="result").count() == len(entries)
    assert submission.approval.actor == dinsos


@pytest.mark.django_db(transaction=True)
def test_bulk_approval_with_the_broker_down_records_every_submission_and_says_delivery_is_pending(
        dinsos, broker_down):
    first, _ = submitted_round_from_centre()
    second, _ = submitted_round_from_centre(code=VILLAGE_SAME_KECAMATAN)
    response = client_for(dinsos).post(reverse("rounds-approve"), {"round": [first.pk, second.pk]}, follow=True)
    assert PENDING_NOTE in response.content.decode().lower()
    assert {_submission_of(first).round_id, _submission_of(second).round_id} == {first.pk, second.pk}


@pytest.mark.django_db(transaction=True)
def test_approval_through_the_api_with_the_broker_down_answers_200_with_delivery_pending(dinsos, broker_down):
    round_, entries = submitted_round_from_centre()
    api = APIClient()
    api.force_authenticate(dinsos)
    response = api.post(f"/api/v1/rounds/{round_.pk}/approve/", {"note": "Sesuai"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == RoundState.APPROVED and response.json()["delivery_pending"] is True
    assert _submission_of(round_).items.filter(kind="result").count() == len(entries)


@pytest.mark.django_db(transaction=True)
def test_approval_with_the_broker_up_queues_the_push_and_says_nothing_is_pending(dinsos, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: queued.append(a))
    round_, _ = submitted_round_from_centre()
    api = APIClient()
    api.force_authenticate(dinsos)
    response = api.post(f"/api/v1/rounds/{round_.pk}/approve/", {}, format="json")
    assert response.json()["delivery_pending"] is False and len(queued) == 1
    assert _submission_of(round_)  # recorded with the approval, before any push ran


@pytest.mark.django_db(transaction=True)
def test_a_submission_recorded_while_the_broker_was_down_is_sent_by_the_next_scheduled_push(dinsos, broker_down):
    round_, entries = submitted_round_from_centre()
    client_for(dinsos).post(reverse("round-review", args=[round_.pk]), {"action": "approve"})
    submission = _submission_of(round_)
    broker_down()  # Redis is back: the beat schedule runs the push, which drains pending submissions
    centre = FakeCentre()
    assert services.submissions_push(client=centre) == {"prepared": 0, "sent": 1, "failed": 0, "cancelled": 0}
    assert len(centre.items(str(submission.idempotency_key))["results"]) == len(entries)
    assert Submission.objects.get(pk=submission.pk).state == Submission.State.SENT


@pytest.mark.django_db(transaction=True)
def test_sync_now_with_the_broker_down_says_the_sync_could_not_start_instead_of_failing(dinsos, broker_down):
    response = client_for(dinsos).post(reverse("sync-now"), follow=True)
    assert response.status_code == 200
    assert "layanan antrean tidak dapat dihubungi" in response.content.decode().lower()


@pytest.mark.django_db(transaction=True)
def test_approval_and_sync_pages_work_with_the_cache_down(dinsos, cache_down, monkeypatch):
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: None)
    monkeypatch.setattr(tasks.pull_batches, "delay", lambda *a: None)
    round_, _ = submitted_round_from_centre()
    client = client_for(dinsos)
    assert client.get(reverse("round-review", args=[round_.pk])).status_code == 200
    response = client.post(reverse("round-review", args=[round_.pk]), {"action": "approve"}, follow=True)
    assert PENDING_NOTE not in response.content.decode().lower() and _submission_of(round_)
    assert client.get(reverse("sync-overview")).status_code == 200
    response = client.post(reverse("sync-now"), follow=True)
    assert response.status_code == 200 and "sinkronisasi dimulai" in response.content.decode().lower()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_rounds_approved_while_redis_was_down_reach_the_centre_once_the_worker_is_back(
        regions, dinsos, tmp_path, settings, broker_down):
    mock = start_mock(tmp_path / "central", "--regency", "12.72", "--households", "60", "--seed", "3")
    try:
        settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN, settings.CENTRAL_API_TIMEOUT = mock.base_url, TOKEN, 2
        call_command("sync_central", "pull", stdout=io.StringIO(), stderr=io.StringIO())
        rounds = list(VerificationRound.objects.filter(village__pk__startswith="12.72.", entries__isnull=False)
                      .distinct().order_by("village_id")[:2])
        assert len(rounds) == 2
        staff = UserFactory(role=Role.DINSOS, area_id="12.72")
        for round_ in rounds:
            people = {"operator": UserFactory(role=Role.VILLAGE_OPERATOR, area_id=round_.village_id),
                      "head": UserFactory(role=Role.VILLAGE_HEAD, area_id=round_.village_id)}
            from verification import services as verval
            for entry in round_.entries.all():
                verval.entry_decide(actor=people["operator"], round_id=round_.pk, entry_id=entry.pk,
                                    decision="eligible", expected_version=entry.version)
            ratify_and_submit(round_, people, held_on=dt.date(2026, 11, 20), approve=False)
        page = client_for(staff).post(reverse("round-review", args=[rounds[0].pk]), {"action": "approve"},
                                      follow=True)
        assert PENDING_NOTE in page.content.decode().lower()
        api = APIClient()
        api.force_authenticate(staff)
        assert api.post(f"/api/v1/rounds/{rounds[1].pk}/approve/", {}, format="json").json()["delivery_pending"]
        assert Submission.objects.filter(state=Submission.State.PENDING).count() == 2
        assert mock.ok("GET", "/stats")["submissions_received"] == 0

        broker_down()  # Redis is back
        broker_url()
        worker = start_worker(tmp_path, mock.base_url, TOKEN)
        try:
            tasks.push_submissions.apply_async(queue=worker.queue)  # what the beat schedule sends
            wait_for(lambda: not Submission.objects.exclude(state=Submission.State.SENT).exists()
                     and Submission.objects.count() == 2, what="both submissions sent", worker=worker)
        finally:
            worker.stop()
        assert mock.ok("GET", "/stats")["submissions_received"] == 2
        assert set(VerificationRound.objects.filter(pk__in=[r.pk for r in rounds]).values_list(
            "state", flat=True)) <= {RoundState.SENT, RoundState.ACKNOWLEDGED}
    finally:
        mock.stop()


@pytest.mark.django_db(transaction=True)
def test_retrying_a_held_batch_with_the_broker_down_restarts_it_for_the_next_scheduled_sync(dinsos, broker_down):
    held = CentralBatch.objects.create(batch_id="12.09-PKH-0001", regency_code="12.09", programme="PKH",
                                       state=BatchState.QUARANTINED, last_error="checksum")
    response = client_for(dinsos).post(reverse("sync-batch-retry", args=[held.pk]), follow=True)
    assert response.status_code == 200
    assert "sinkronisasi terjadwal berikutnya" in response.content.decode()
    assert CentralBatch.objects.get(pk=held.pk).state == BatchState.DISCOVERED  # what the scheduled pull takes


def test_in_process_mode_answers_sync_now_at_once_and_runs_the_work_in_the_background(dinsos, monkeypatch):
    """`make run` has no worker: the sync used to run (and retry an absent centre) inside the request."""
    import threading
    import time

    release, started, finished = threading.Event(), [], []

    def slow_apply(*_args, **_kwargs):
        started.append(threading.current_thread().name)
        release.wait(10)  # an absent centre being retried
        finished.append(True)

    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    monkeypatch.setattr(tasks.pull_batches, "apply", slow_apply)
    monkeypatch.setattr(tasks.push_submissions, "apply", slow_apply)
    response = client_for(dinsos).post(reverse("sync-now"), follow=True)
    try:
        assert response.status_code == 200 and "sinkronisasi dimulai" in response.content.decode().lower()
        assert not finished  # the page answered while the work was still held back
        deadline = time.monotonic() + 5
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(started) == ["task central.pull_batches", "task central.push_submissions"]
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while len(finished) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(finished) == 2


@pytest.mark.django_db(transaction=True)
def test_in_process_mode_answers_an_approval_at_once_and_its_page_follows_the_push_to_the_unreachable_centre(
        dinsos, monkeypatch, settings):
    """Approving used to wait out the retries against an absent centre inside the request (9 s under make run)."""
    import threading
    import time

    from central.client import CentralClient, RetryPolicy

    settings.CENTRAL_API_URL = "http://127.0.0.1:1"  # nothing listens there: the centre is unreachable
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    monkeypatch.setattr(tasks, "CentralClient", lambda: CentralClient(policy=RetryPolicy(attempts=2, base_delay=0.01)))
    release, real_push = threading.Event(), services.submissions_push

    def held_push(**kwargs):  # the push held back, as the retries against an absent centre hold it
        release.wait(10)
        return real_push(**kwargs)

    monkeypatch.setattr(services, "submissions_push", held_push)
    round_, _entries = submitted_round_from_centre()
    client = client_for(dinsos)
    try:
        response = client.post(reverse("round-review", args=[round_.pk]), {"action": "approve"})
        submission = Submission.objects.get(round=round_)
        assert response.status_code == 302 and response.url == reverse("sync-submission", args=[submission.pk])
        page = client.get(response.url).content.decode()
        assert "Menunggu dikirim" in page and 'http-equiv="refresh"' in page  # answered while the push waits
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while Submission.objects.get(pk=submission.pk).state == Submission.State.PENDING and time.monotonic() < deadline:
        time.sleep(0.1)
    page = client.get(response.url).content.decode()
    assert "Gagal: akan dicoba lagi" in page and 'http-equiv="refresh"' not in page
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.APPROVED
