"""Temporary upload files (issue 13, finding 9): a refused upload leaves nothing in FILE_UPLOAD_TEMP_DIR, a request
too large to be an upload is refused before its body is read, and files a killed worker left are swept."""
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from dtsen_portal.celery import sweep_upload_temp_files as sweep_task
from dtsen_portal.uploads import max_request_bytes, sweep_upload_temp_files
from verification.models import RoundFamily

from .factories import VILLAGE, UserFactory, client_for, round_with_families
from .hostile_files import HTML_WITH_JPEG_MAGIC, jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def temp_dir(settings, tmp_path):
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes through a temporary file
    settings.MEDIA_ROOT = tmp_path / "media"
    return directory


def post_evidence(content: bytes):
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    entry = round_.entries.get()
    response = client_for(operator).post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "eligible", "version": 1,
        "evidence": SimpleUploadedFile("bukti.jpg", content, content_type="image/jpeg")})
    return response, RoundFamily.objects.get(pk=entry.pk)


def test_a_refused_upload_leaves_no_temporary_file(temp_dir):
    response, entry = post_evidence(HTML_WITH_JPEG_MAGIC + b"\x00" * 300_000)
    assert response.status_code == 200 and response.context["decision_form"].errors["evidence"]
    assert not entry.evidence
    assert os.listdir(temp_dir) == []


def test_an_accepted_upload_keeps_only_the_rebuilt_file_and_no_temporary_file(temp_dir):
    response, entry = post_evidence(jpeg((1200, 900)))
    assert response.status_code == 302 and entry.evidence
    assert os.listdir(temp_dir) == []


def test_an_upload_request_over_the_limit_is_refused_before_anything_is_written(temp_dir):
    response, entry = post_evidence(b"\xff\xd8\xff" + b"\x00" * (max_request_bytes() + 1))
    assert response.status_code == 400
    assert not entry.evidence and entry.version == 1
    assert os.listdir(temp_dir) == []


def test_temporary_files_a_killed_worker_left_behind_are_swept_and_fresh_ones_kept(temp_dir):
    # What a worker killed mid-upload leaves: Django's own temporary file, never deleted.
    abandoned = temp_dir / "tmpk1ll3d.upload.jpg"
    abandoned.write_bytes(HTML_WITH_JPEG_MAGIC)
    two_hours_ago = time.time() - 2 * 60 * 60
    os.utime(abandoned, (two_hours_ago, two_hours_ago))
    in_progress = temp_dir / "tmpbusy.upload.jpg"  # another request may still be writing it
    in_progress.write_bytes(b"\xff\xd8\xff")
    unrelated = temp_dir / "backup.sql"
    unrelated.write_bytes(b"--")
    os.utime(unrelated, (two_hours_ago, two_hours_ago))

    assert sweep_upload_temp_files() == ["tmpk1ll3d.upload.jpg"]
    assert sorted(os.listdir(temp_dir)) == ["backup.sql", "tmpbusy.upload.jpg"]


def test_the_hourly_sweep_is_scheduled_and_runs_as_a_task(settings, temp_dir):
    assert settings.CELERY_BEAT_SCHEDULE["sweep-upload-temp-files"]["task"] == "uploads.sweep_temp_files"
    old = temp_dir / "tmpold.upload.pdf"
    old.write_bytes(b"%PDF-")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert sweep_task.apply().get() == 1
    assert not old.exists()
