"""Exports too large for a web request (issue 14): the approved list as Excel is written by a Celery worker
(``privacy.ExportJob``) with its progress shown, downloaded by its owner only, recorded in the access log,
and removed a day later."""
import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import Role
from privacy import services
from privacy.models import ExportJob, PersonalDataAccess
from privacy.tasks import run_export_job
from registry.models import Member

from .factories import REGENCY, VILLAGE_OTHER_REGENCY, UserFactory
from .test_streamed_exports import FORMULA, HEADERS, approved_round

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def dinsos():
    return UserFactory(role=Role.DINSOS, area_id=REGENCY)


def start(client, django_capture_on_commit_callbacks) -> ExportJob:
    """Ask for the approved list as Excel; the job is queued once the request commits (run here by hand, as
    a worker would)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("approved-export", args=["xlsx"]))
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("export-job", args=[job.pk])
    assert job.state == "queued" and len(callbacks) == 1
    return job


def test_the_job_writes_the_approved_list_with_a_known_row_and_a_neutralised_cell(
        django_capture_on_commit_callbacks):
    round_ = approved_round(3)
    entry = round_.entries.select_related("family").order_by("family__kk_number").first()
    head = Member.objects.get(family=entry.family)
    Member.objects.filter(pk=head.pk).update(name=FORMULA)
    client = client_for(dinsos())
    job = start(client, django_capture_on_commit_callbacks)

    run_export_job(job.pk)

    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.percent) == ("done", 3, 3, 100)
    page = client.get(reverse("export-job", args=[job.pk])).content.decode()
    assert reverse("export-job-download", args=[job.pk]) in page and 'http-equiv="refresh"' not in page
    response = client.get(reverse("export-job-download", args=[job.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="daftar-disetujui.xlsx"'
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS and len(rows) == 4
    known = next(r for r in rows[1:] if r[1] == entry.family.kk_number)
    assert known[2] == "'" + FORMULA and known[12] == entry.version
    assert not any(head.nik in str(v) for row in rows for v in row)
    access = PersonalDataAccess.objects.get()
    assert (access.kind, access.export_name, access.area_id, access.row_count) == (
        "export", "daftar-disetujui.xlsx", REGENCY, 3)


def test_only_the_owner_sees_and_downloads_the_file(django_capture_on_commit_callbacks):
    approved_round(1)
    job = start(client_for(dinsos()), django_capture_on_commit_callbacks)
    run_export_job(job.pk)
    colleague = client_for(dinsos())
    assert colleague.get(reverse("export-job", args=[job.pk])).status_code == 404
    assert colleague.get(reverse("export-job-download", args=[job.pk])).status_code == 404
    assert Client().get(reverse("export-job-download", args=[job.pk])).status_code == 302  # to the login page
    # Nor through the uploads' protected media view.
    assert colleague.get(f"/media/{job.file.name}").status_code == 404


def test_the_job_keeps_to_the_users_area(django_capture_on_commit_callbacks):
    approved_round(1)
    other = approved_round(1, code=VILLAGE_OTHER_REGENCY)
    client = client_for(dinsos())
    job = start(client, django_capture_on_commit_callbacks)
    run_export_job(job.pk)
    job.refresh_from_db()
    assert job.rows_total == 1
    content = b"".join(client.get(reverse("export-job-download", args=[job.pk])).streaming_content)
    kks = [r[1] for r in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]
    assert other.entries.get().family.kk_number not in kks


def test_progress_is_shown_while_the_job_runs(django_capture_on_commit_callbacks, monkeypatch):
    approved_round(5)
    client = client_for(dinsos())
    job = start(client, django_capture_on_commit_callbacks)
    page = client.get(reverse("export-job", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in page
    assert reverse("export-job-download", args=[job.pk]) not in page
    assert client.get(reverse("export-job-download", args=[job.pk])).status_code == 404  # not done yet
    seen, write = [], services.write_xlsx

    def every_two_rows(file, headers, rows, on_progress, every=None):
        def progress(n):
            on_progress(n)
            seen.append(ExportJob.objects.values_list("state", "rows_done", "rows_total").get(pk=job.pk))
        return write(file, headers, rows, on_progress=progress, every=2)

    monkeypatch.setattr(services, "write_xlsx", every_two_rows)
    run_export_job(job.pk)
    assert ("running", 2, 5) in seen and ("running", 4, 5) in seen
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total) == (5, 5)


def test_an_unknown_export_or_format_is_refused():
    client = client_for(dinsos())
    assert client.post(reverse("approved-export", args=["xlsx"]).replace(".xlsx", ".pdf")).status_code == 404
    request = RequestFactory().post("/")
    request.user = UserFactory()
    for name, kind in (("daftar-disetujui", "csv"), ("daftar-disetujui", "pdf"), ("semua-nik", "xlsx")):
        with pytest.raises(services.Http404):
            services.export_job_start(request, name=name, kind=kind, area_code=None)
    assert not ExportJob.objects.exists() and not PersonalDataAccess.objects.exists()


def test_a_large_list_asked_by_get_is_offered_in_the_background(monkeypatch):
    approved_round(3)
    monkeypatch.setattr("verification.views.BACKGROUND_EXPORT_ROWS", 2)
    response = client_for(dinsos()).get(reverse("approved-export", args=["xlsx"]))
    assert response.status_code == 200 and b'method="post"' in response.content
    assert not ExportJob.objects.exists()


def test_a_second_request_while_one_runs_returns_the_same_job(django_capture_on_commit_callbacks):
    approved_round(1)
    client = client_for(dinsos())
    job = start(client, django_capture_on_commit_callbacks)
    client.post(reverse("approved-export", args=["xlsx"]))
    assert ExportJob.objects.get() == job
    # One lost long ago (its worker died) does not stop a new one.
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - services.EXPORT_JOB_STALE)
    client.post(reverse("approved-export", args=["xlsx"]))
    assert ExportJob.objects.count() == 2


def test_finished_jobs_and_their_files_go_after_a_day(django_capture_on_commit_callbacks):
    approved_round(1)
    job = start(client_for(dinsos()), django_capture_on_commit_callbacks)
    run_export_job(job.pk)
    job.refresh_from_db()
    path = Path(job.file.path)
    assert path.is_file()
    part = path.with_name("killed-worker.xlsx.part")
    part.write_bytes(b"half")
    assert services.export_jobs_sweep() == 0
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    assert services.export_jobs_sweep() == 1
    assert not path.exists() and not ExportJob.objects.exists()
    assert part.exists()  # a file being written now
    os.utime(part, (0, 0))
    services.export_jobs_sweep()
    assert not part.exists()
    assert PersonalDataAccess.objects.get().row_count == 1  # the record of the export stays


@pytest.mark.django_db(transaction=True)
def test_in_process_mode_answers_at_once_and_writes_the_job_in_a_thread(monkeypatch, regions):
    # `make run` has no worker: tasks run in the process (CELERY_TASK_ALWAYS_EAGER), in a thread beside the
    # request, so the page answers at once and then shows the job's progress until it is done.
    import time

    from dtsen_portal.celery import app

    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)  # the settings' namespaced name
    approved_round(2)
    client = client_for(dinsos())
    response = client.post(reverse("approved-export", args=["xlsx"]))
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("export-job", args=[job.pk])
    deadline = time.monotonic() + 20
    while ExportJob.objects.get().state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
    job.refresh_from_db()
    assert (job.state, job.rows_done) == ("done", 2)
    page = client.get(reverse("export-job", args=[job.pk])).content.decode()
    assert reverse("export-job-download", args=[job.pk]) in page
