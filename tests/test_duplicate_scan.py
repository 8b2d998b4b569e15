"""Dinsos scans its regency for duplicates in the background: the job reports its progress, the pairs are listed
most likely first, a page at a time, inside the viewer's area, with NIK masked; nobody else sees them."""
import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import Role
from jobs import services as job_services
from jobs.models import Job
from registry.models import DuplicatePair

from .factories import (
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    post_and_run_jobs,
    village,
)

pytestmark = pytest.mark.django_db
BORN = dt.date(1971, 4, 6)


def _twins(code=VILLAGE, name="Muhammad Yusuf Siregar", other="M. Joesoef Siregar", wife="Siti Aisyah"):
    """Two cards of one family, written by two clerks."""
    families = []
    for head_name, born in ((name, BORN), (other, dt.date(1971, 6, 4))):
        family = FamilyFactory(village=village(code))
        MemberFactory(family=family, name=head_name, birth_date=born)
        MemberFactory(family=family, name=wife, birth_date=dt.date(1975, 1, 2), sex="P", relationship="spouse")
        families.append(family)
    return families


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id="12.09")


def test_the_scan_runs_as_a_job_and_its_page_lists_the_pair_with_nik_masked(dinsos):
    first, second = _twins()
    FamilyFactory()  # a family alone: no pair
    client = client_for(dinsos)
    page = post_and_run_jobs(client, reverse("duplicate-scans"), {"region": "12.09"})
    job = Job.objects.get(kind=Job.Kind.DUPLICATE_SCAN)
    assert job.state == Job.State.DONE and job.count == 1 and job.progress == 100
    assert 'data-testid="see-pairs"' in page.content.decode()
    text = client.get(reverse("duplicate-pairs", args=[job.pk])).content.decode()
    assert text.count('data-testid="pair"') == 1
    assert first.kk_number in text and second.kk_number in text and "M. Joesoef Siregar" in text
    for family in (first, second):
        head = family.members.get(relationship="head")
        assert head.nik not in text and head.masked_nik in text


def test_the_job_page_shows_the_progress_while_the_scan_runs(dinsos):
    seen = []
    _twins()
    job = Job.objects.create(user=dinsos, kind=Job.Kind.DUPLICATE_SCAN, target="region:12.09",
                             params={"region": "12.09"})
    client = client_for(dinsos)

    def watch(*args, **kwargs):
        # What the page shows at each step, read while the worker is still at it.
        Job.objects.filter(pk=job.pk).update(progress=kwargs.get("percent", args[1]))
        seen.append(client.get(reverse("job-detail", args=[job.pk])).content.decode())

    from unittest import mock

    with mock.patch.object(job_services, "_progress", side_effect=lambda job_id, percent: watch(job_id, percent)):
        assert job_services.job_run(job.pk) == Job.State.DONE
    assert len(seen) == 13
    assert 'value="8"' in seen[0] and "8%" in seen[0] and 'data-testid="job-progress"' in seen[0]
    assert 'value="100"' in seen[-1]


def test_the_pairs_page_lists_only_pairs_inside_the_viewers_area(dinsos):
    _twins(VILLAGE)
    _twins(VILLAGE_OTHER_KECAMATAN, name="Ahmad Fauzi Lubis", other="H. Ahmad Fauzi", wife="Rina Wati")
    post_and_run_jobs(client_for(dinsos), reverse("duplicate-scans"), {"region": "12.09"})
    job = Job.objects.get(kind=Job.Kind.DUPLICATE_SCAN)
    assert DuplicatePair.objects.filter(job=job).count() == 2
    # Dinsos's area shrinks to one kecamatan afterwards: the other pair is no longer shown.
    dinsos.area_id = "12.09.08"
    dinsos.save()
    text = client_for(dinsos).get(reverse("duplicate-pairs", args=[job.pk])).content.decode()
    assert text.count('data-testid="pair"') == 1 and "Ahmad Fauzi" not in text


def test_another_user_cannot_see_a_scan_and_a_village_operator_cannot_start_one(dinsos):
    _twins()
    post_and_run_jobs(client_for(dinsos), reverse("duplicate-scans"), {"region": "12.09"})
    job = Job.objects.get(kind=Job.Kind.DUPLICATE_SCAN)
    other = UserFactory(role=Role.DINSOS, area_id="12.09")
    assert client_for(other).get(reverse("duplicate-pairs", args=[job.pk])).status_code == 404
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    assert client_for(operator).post(reverse("duplicate-scans"), {"region": "12.09"}).status_code == 403
    assert Job.objects.filter(kind=Job.Kind.DUPLICATE_SCAN).count() == 1


def test_dinsos_cannot_scan_another_regency(dinsos):
    response = client_for(dinsos).post(reverse("duplicate-scans"), {"region": "12.72"})
    assert response.status_code == 200 and not Job.objects.filter(kind=Job.Kind.DUPLICATE_SCAN).exists()


def test_the_pairs_page_answers_in_the_same_number_of_queries_for_one_pair_or_many(dinsos, django_assert_num_queries):
    _twins()
    post_and_run_jobs(client_for(dinsos), reverse("duplicate-scans"), {"region": "12.09"})
    job = Job.objects.get(kind=Job.Kind.DUPLICATE_SCAN)
    client = client_for(dinsos)
    url = reverse("duplicate-pairs", args=[job.pk])
    client.get(url)  # the session warmed
    with django_assert_num_queries(8):
        client.get(url)
    families = [FamilyFactory() for _ in range(6)]
    for a, b in zip(families[::2], families[1::2], strict=True):
        MemberFactory(family=a)
        MemberFactory(family=b)
        DuplicatePair.objects.create(job=job, family_a=a, family_b=b, likelihood=0.7, reasons=["name_same"])
    with django_assert_num_queries(8):
        assert client.get(url).content.decode().count('data-testid="pair"') == 4


def test_the_scans_page_answers_in_the_same_number_of_queries_for_one_scan_or_many(dinsos, django_assert_num_queries):
    client = client_for(dinsos)
    url = reverse("duplicate-scans")
    Job.objects.create(user=dinsos, kind=Job.Kind.DUPLICATE_SCAN, target="region:12.09", params={"region": "12.09"})
    client.get(url)  # the session warmed
    with django_assert_num_queries(5):
        client.get(url)
    for state in (Job.State.DONE, Job.State.RUNNING, Job.State.FAILED):
        Job.objects.create(user=dinsos, kind=Job.Kind.DUPLICATE_SCAN, target="region:12.09", state=state,
                           params={"region": "12.09"}, count=3, progress=40)
    with django_assert_num_queries(5):
        text = client.get(url).content.decode()
    assert text.count("/pekerjaan/") == 2 and "(40%)" in text


def test_a_scan_run_twice_keeps_one_set_of_pairs(dinsos):
    from registry.services import duplicate_scan_run

    _twins()
    job = Job.objects.create(user=dinsos, kind=Job.Kind.DUPLICATE_SCAN, target="region:12.09",
                             params={"region": "12.09"})
    assert duplicate_scan_run(actor=dinsos, region="12.09", job_id=job.pk) == 1
    assert duplicate_scan_run(actor=dinsos, region="12.09", job_id=job.pk) == 1
    assert DuplicatePair.objects.filter(job=job).count() == 1


def test_the_service_refuses_a_village_operator_when_the_worker_runs_it():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    job = Job.objects.create(user=operator, kind=Job.Kind.DUPLICATE_SCAN, target="region:12.09",
                             params={"region": "12.09"})
    assert job_services.job_run(job.pk) == Job.State.FAILED
    job.refresh_from_db()
    assert "Dinas Sosial" in job.error  # the refusal's message, in English or Indonesian
    assert not DuplicatePair.objects.exists()
