"""Freezing a large village's approved round as a submission and cutting its pages, against the cost of just
reading the same rows (the floor any builder pays). The largest villages hold about 7,500 families."""
import datetime as dt
import json
import time
import uuid

from django.db import connection
from django.utils import timezone

from accounts.models import Role, User
from central.ingest import ingest_batch
from central.models import Submission, SubmissionItem
from central.submissions import page_body, submissions_prepare
from groundcheck.models import Assignment, Visit
from registry.models import Member, Region
from registry.services import regions_load
from registry.synthetic import generate_households
from verification.models import FieldCorrection, RoundEvent, RoundFamily, VerificationRound

from .ingest import _downloaded_batch, _truncate
from .table import Figure, at_least_ratio_of_time

REGENCY = "12.09"


def _verified_round(families: int) -> VerificationRound:
    village = Region.objects.filter(code__startswith=REGENCY + ".", level=Region.Level.VILLAGE).order_by("code") \
        .values_list("code", "name").first()
    data = [f.as_json() for f in generate_households([village], families, 7, as_of=dt.date(2026, 11, 23))]
    ingest_batch(_downloaded_batch(data))
    round_ = VerificationRound.objects.get(village_id=village[0])
    operator = User.objects.create(username=f"bench-{uuid.uuid4().hex[:6]}", role=Role.VILLAGE_OPERATOR,
                                   area_id=village[0])
    facilitator = User.objects.create(username=f"bench-{uuid.uuid4().hex[:6]}", role=Role.FACILITATOR,
                                      area_id=village[0][:8])
    entries = list(RoundFamily.objects.filter(round=round_).select_related("family").order_by("pk"))
    RoundFamily.objects.filter(round=round_).update(decision="eligible")
    # One family in ten corrected (two fields), one in twenty with a member corrected, one in ten visited.
    corrections, visits = [], []
    heads = dict(Member.objects.filter(family__round_entries__round=round_, relationship="head")
                 .values_list("family_id", "pk"))
    for n, entry in enumerate(entries):
        if n % 10 == 0:
            corrections += [FieldCorrection(entry=entry, field="floor_type", field_label="lantai", old_value="Tanah",
                                            new_value="Keramik", old_raw="earth", new_raw="ceramic",
                                            corrected_by=operator),
                            FieldCorrection(entry=entry, field="has_refrigerator", field_label="kulkas",
                                            old_value="tidak", new_value="ya", old_raw=False, new_raw=True,
                                            corrected_by=operator)]
        if n % 20 == 5 and entry.family_id in heads:
            corrections.append(FieldCorrection(entry=entry, member_id=heads[entry.family_id], member_label="x",
                                               field="name", field_label="nama", old_value="a", new_value="b",
                                               old_raw="a", new_raw="b", corrected_by=operator))
        if n % 10 == 3:
            assignment = Assignment(family_id=entry.family_id, facilitator=facilitator, entry=entry)
            visits.append((assignment, Visit(client_uuid=uuid.uuid4(), family_id=entry.family_id, entry=entry,
                                             facilitator=facilitator, recommendation="continue",
                                             visited_at=timezone.now())))
    FieldCorrection.objects.bulk_create(corrections, batch_size=5000)
    Assignment.objects.bulk_create([a for a, _v in visits], batch_size=5000)
    for assignment, visit in visits:
        visit.assignment = assignment
    Visit.objects.bulk_create([v for _a, v in visits], batch_size=5000)
    VerificationRound.objects.filter(pk=round_.pk).update(state="approved")
    RoundEvent.objects.create(round=round_, from_state="submitted", to_state="approved")
    return round_


def _read_floor(round_: VerificationRound) -> float:
    """The baseline: the same rows read raw (entries with families, corrections, members, visits), no work."""
    started = time.perf_counter()
    list(RoundFamily.objects.filter(round=round_).values_list("pk", "decision", "family__central_id",
                                                              *(f"family__{f}" for f in ("kk_number", "dusun"))))
    list(FieldCorrection.objects.filter(entry__round=round_).values_list("pk", "field", "old_raw", "new_raw"))
    list(Member.objects.filter(family__round_entries__round=round_).values_list("pk", "nik", "name"))
    list(Visit.objects.filter(family__round_entries__round=round_).values_list("pk", "recommendation"))
    return time.perf_counter() - started


def run(*, families: int) -> list[Figure]:
    regions_load(only=(REGENCY,))
    _truncate()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE central_submissionitem, central_submission, groundcheck_visit, "
                       "groundcheck_assignment, verification_fieldcorrection, central_downloadedpage, "
                       "central_centralbatch RESTART IDENTITY CASCADE")
    print(f"verifying a village of {families:,} families ...", flush=True)
    round_ = _verified_round(families)
    floor = _read_floor(round_)
    started = time.perf_counter()
    assert submissions_prepare() == 1  # noqa: S101 - a wrong run must stop
    submission = Submission.objects.get(round=round_)
    build = time.perf_counter() - started
    started = time.perf_counter()
    sizes = [len(json.dumps(page_body(submission, page))) for page in range(1, submission.page_count + 1)]
    paging = time.perf_counter() - started
    items = SubmissionItem.objects.filter(submission=submission).count()
    assert items >= families  # noqa: S101
    return [at_least_ratio_of_time(
        f"submission of a {families:,}-family village ({items:,} items, {submission.page_count} pages, "
        f"{sum(sizes) / 1e6:.1f} MB): build {build:.2f}s + pages {paging:.2f}s", build + paging, floor, 0.05,
        baseline_label="reading the same rows")]
