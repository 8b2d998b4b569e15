"""Long work started from a page runs in a worker, never in the request: the page answers with the job, the job's
page follows it to its outcome, and the work is done once, as the user who asked, or not at all."""
import threading
import time

import pytest
from django.test import TestCase
from django.urls import reverse

from accounts.models import Role
from distribution import services as distribution_services
from distribution.models import Determination, Disbursement, PaymentPeriod
from dtsen_portal.celery import app
from jobs import services
from jobs.models import Job
from verification.models import RoundFamily, VerificationRound

from .central.test_outbox import broker_down  # noqa: F401 - a fixture
from .factories import (
    VILLAGE,
    FamilyFactory,
    UserFactory,
    client_for,
    post_and_run_jobs,
    round_with_families,
    village,
)


def _determined(dinsos, n: int) -> PaymentPeriod:
    period = PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")
    for i in range(n):
        family = FamilyFactory(village=village(VILLAGE))
        Determination.objects.create(determination_id=f"T-{family.pk}-{i}", central_id=f"C{family.pk}",
                                     family=family, village_id=VILLAGE, programme="BLTS-KESRA", period="2025-10")
    return period


@pytest.mark.django_db
def test_building_the_kpm_list_answers_with_its_job_and_the_job_page_shows_what_the_worker_did():
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    period = _determined(dinsos, 3)
    client = client_for(dinsos)
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        response = client.post(f"{reverse('payments')}?period={period.pk}", {"action": "build"})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("job-detail", args=[job.pk])
    assert len(sent) == 1 and not Disbursement.objects.exists()  # nothing done inside the request
    waiting = client.get(response.url).content.decode()
    assert "Menunggu dalam antrean" in waiting and 'http-equiv="refresh"' in waiting

    assert services.job_run(job.pk) == Job.State.DONE  # what the worker does
    assert Disbursement.objects.filter(period=period).count() == 3
    done = client.get(response.url).content.decode()
    assert "3 keluarga ditambahkan ke daftar KPM" in done and 'http-equiv="refresh"' not in done
    assert f'href="{reverse("payments")}?period={period.pk}"' in done  # back to the period


@pytest.mark.django_db
def test_a_job_page_is_its_owners_alone():
    owner, colleague = (UserFactory(role=Role.DINSOS, area_id="12.09") for _ in range(2))
    job = Job.objects.create(user=owner, kind=Job.Kind.KPM_BUILD, target="period:1", params={"period_id": 1})
    assert client_for(owner).get(reverse("job-detail", args=[job.pk])).status_code == 200
    assert client_for(colleague).get(reverse("job-detail", args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_asking_again_while_the_work_is_pending_gives_the_same_job_not_a_second_one():
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    period = _determined(dinsos, 2)
    client = client_for(dinsos)
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        first = client.post(f"{reverse('payments')}?period={period.pk}", {"action": "build"})
        second = client.post(f"{reverse('payments')}?period={period.pk}", {"action": "build"})
    assert first.url == second.url and Job.objects.count() == 1 and len(sent) == 1


@pytest.mark.django_db
def test_a_job_delivered_twice_does_its_work_once():
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    period = _determined(dinsos, 2)
    job = services.job_start(actor=dinsos, kind=Job.Kind.KPM_BUILD, target=f"period:{period.pk}",
                             params={"period_id": period.pk})
    assert services.job_run(job.pk) == Job.State.DONE
    assert services.job_run(job.pk) == "skipped"  # the task redelivered after the worker committed
    job.refresh_from_db()
    assert job.count == 2 and Disbursement.objects.count() == 2


@pytest.mark.django_db
def test_a_refusal_when_the_work_runs_is_the_jobs_outcome_and_nothing_is_written():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(2)
    kks = list(round_.entries.values_list("family__kk_number", flat=True))
    job = services.job_start(actor=operator, kind=Job.Kind.DECISION_IMPORT, target=f"round:{round_.pk}",
                             params={"round_id": round_.pk, "rows": [
                                 {"kk_number": kk, "decision": "eligible", "reason": "", "note": "", "version": None}
                                 for kk in kks]}, return_url=reverse("round-detail", args=[round_.pk]))
    # Between the request and the worker, the round left the village's hands.
    VerificationRound.objects.filter(pk=round_.pk).update(state="submitted")
    assert services.job_run(job.pk) == Job.State.FAILED
    job.refresh_from_db()
    assert job.error and "rows" not in job.params  # the checked rows are not kept once the work is over
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {""}
    page = client_for(operator).get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "Tidak dikerjakan" in page and job.error in page


@pytest.mark.django_db
def test_with_the_queue_unreachable_the_job_says_nothing_was_started(broker_down):  # noqa: F811
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    period = _determined(dinsos, 1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for(dinsos).post(f"{reverse('payments')}?period={period.pk}", {"action": "build"})
    job = Job.objects.get()
    assert job.state == Job.State.FAILED and "antrean tidak dapat dihubungi" in job.error
    assert not Disbursement.objects.exists()
    assert "antrean tidak dapat dihubungi" in client_for(dinsos).get(response.url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_in_process_mode_answers_the_import_at_once_and_the_page_then_shows_its_outcome(monkeypatch, regions):
    """`make run` has no worker: the job runs in a thread beside the request, never inside it."""
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(2)
    kks = list(round_.entries.values_list("family__kk_number", flat=True))
    release = threading.Event()
    from verification import services as verification_services

    real_import = verification_services.entries_import_decisions

    def held_import(**kwargs):  # the work held back, as a long import would be
        release.wait(10)
        return real_import(**kwargs)

    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    # The job finds its service by name when it runs: this is the one it finds.
    monkeypatch.setattr(verification_services, "entries_import_decisions", held_import)
    client = client_for(operator)
    session = client.session
    session[f"round-import-{round_.pk}"] = [{"kk_number": kk, "decision": "eligible", "reason": "", "note": "",
                                             "version": None} for kk in kks]
    session.save()
    try:
        response = client.post(reverse("round-import", args=[round_.pk]), {"confirm": "1"})
        job = Job.objects.get()
        assert response.url == reverse("job-detail", args=[job.pk])
        page = client.get(response.url).content.decode()  # the page answered while the work was held back
        assert Job.objects.get().pending and 'http-equiv="refresh"' in page
        assert "Menunggu dalam antrean" in page or "Sedang dikerjakan" in page
    finally:
        release.set()
    deadline = time.monotonic() + 20
    while Job.objects.get().pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "2 keputusan diimpor" in client.get(response.url).content.decode()
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {"eligible"}


@pytest.mark.django_db
def test_the_payment_report_is_applied_by_the_worker_with_its_count():
    from .distribution.test_payments import report_file

    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    period = _determined(dinsos, 2)
    distribution_services.kpm_build(actor=dinsos, period_id=period.pk)
    payments = list(Disbursement.objects.select_related("family"))
    client = client_for(dinsos)
    client.post(f"{reverse('payments')}?period={period.pk}", {"file": report_file(
        [(p.family.kk_number, "pos", "900000", "diterima", "") for p in payments])})
    from distribution.models import PendingChange

    # The second Dinsos account confirms what the first prepared; the worker applies it as that account.
    second = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    done = post_and_run_jobs(second, f"{reverse('payments')}?period={period.pk}",
                             {"action": "confirm", "change": PendingChange.objects.get().pk})
    assert "2 penyaluran diperbarui dari laporan" in done.content.decode()
    assert set(Disbursement.objects.values_list("status", "amount_paid")) == {("received", 900_000)}
