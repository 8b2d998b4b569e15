"""The whole loop over real processes: the mock centre (faults on), a Celery worker on Redis, PostgreSQL.

A village verifies a round with known numbers of decisions, corrections, member changes, usulan,
recommendations and accepted citizens' reports; Dinsos approves; the push goes up in pages through the faults;
the centre applies exactly that, once; its answer comes back per item; the next publication moves the
corrected family's desil and the change feed explains why.
"""
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Count

from central import tasks
from central.client import CentralClient
from central.models import BatchState, CentralBatch, DesilPublication, Submission, SubmissionItem
from central.submissions import page_body
from distribution.models import Determination
from registry.models import DesilChange, Family
from verification import services as verval
from verification.models import RoundFamily, RoundState, VerificationRound

from ..factories import client_for, kk_for
from .loop import ratify_and_submit, users_for, verify_everything
from .mockproc import NO_FAULTS, TOKEN, start_mock
from .worker import broker_url, kick_until, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAULTY = {"fail_rate": 0.3, "duplicate_rate": 0.3, "drop_rate": 0.05, "timeout_rate": 0.02, "hang_seconds": 2}
APPLIED = ("results_applied", "corrections_applied", "member_changes_applied", "proposals_applied",
           "recommendations_applied", "reports_applied")


@pytest.fixture
def mock(tmp_path):
    running = start_mock(tmp_path / "central", "--regency", "12.72", "61.11", "--households", "300", "--seed", "5",
                         "--page-size", "40", "--fault-seed", "11")
    yield running
    running.stop()


@pytest.fixture
def worker(mock, regions, tmp_path, monkeypatch, settings):
    broker_url()
    monkeypatch.setenv("CENTRAL_SUBMISSION_PAGE_ITEMS", "7")  # a village's round goes up in several pages
    settings.CENTRAL_SUBMISSION_PAGE_ITEMS = 7  # ... cut here: the approval freezes its submission
    running = start_worker(tmp_path, mock.base_url, TOKEN)
    # The approval's hook queues the push; here it must reach this test's worker queue.
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda: tasks.push_submissions.apply_async(
        queue=running.queue))
    yield running
    running.stop()


def applied(mock) -> dict:
    stats = mock.ok("GET", "/stats")
    return {name: stats[name] for name in APPLIED} | {"items_rejected": stats["items_rejected"]}


def largest_round() -> VerificationRound:
    return (VerificationRound.objects.filter(village__pk__startswith="12.72.")
            .annotate(n=Count("entries")).order_by("-n", "pk").first())


def test_everything_the_village_decides_reaches_the_centre_once_and_the_answer_and_the_new_desil_come_back(
        mock, worker, settings):
    settings.CENTRAL_API_URL, settings.CENTRAL_API_TOKEN, settings.CENTRAL_API_TIMEOUT = mock.base_url, TOKEN, 2
    mock.ok("PUT", "/admin/faults", json=FAULTY)
    # The portal serves one regency: the centre also holds families (and NIKs) the portal never sees.
    tasks.pull_batches.apply_async(args=["12.72"], queue=worker.queue)
    wait_for(lambda: CentralBatch.objects.filter(state=BatchState.INGESTED).count() == 1, what="batch applied",
             worker=worker)
    round_ = largest_round()
    people = users_for(round_.village_id)
    before = {f.pk: f.desil for f in Family.objects.filter(round_entries__round=round_)}
    expect = verify_everything(round_, people)  # ... and Dinsos approves: the hook queues the push

    wait_for(lambda: Submission.objects.filter(state=Submission.State.SENT).exists(), what="submission sent",
             worker=worker, timeout=180)
    submission = Submission.objects.get()
    assert submission.page_count > 1 and submission.pages_sent == submission.page_count
    stats = mock.ok("GET", "/stats")
    assert stats["submissions_received"] == 1 and stats["submission_pages_received"] == submission.page_count
    assert stats["faults_injected"]["fail"] > 0

    mock.ok("PUT", "/admin/faults", json=NO_FAULTS)
    decided = mock.ok("POST", "/admin/accept-submissions")
    assert decided["decided"] == 1
    mock.ok("PUT", "/admin/faults", json=FAULTY)
    kick_until(lambda: tasks.push_submissions.apply_async(queue=worker.queue),
               lambda: Submission.objects.filter(state=Submission.State.ACKNOWLEDGED).exists(),
               what="answer stored", worker=worker, timeout=180)

    # Exactly what the village decided was applied, once.
    assert applied(mock) == {
        "results_applied": expect.results, "corrections_applied": expect.corrections,
        "member_changes_applied": expect.member_changes, "proposals_applied": expect.proposals,
        "recommendations_applied": expect.recommendations, "reports_applied": expect.reports, "items_rejected": 0}
    outcomes = dict(SubmissionItem.objects.values_list("kind").annotate(n=Count("id")).order_by())
    assert outcomes == expect.by_kind()
    assert set(SubmissionItem.objects.values_list("outcome", flat=True)) == {"accepted"}
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.ACKNOWLEDGED

    # A second push changes nothing at the centre: nothing is pending, and every page sent again (a retry
    # after a lost acknowledgement) is recognised by its key.
    counted = applied(mock)
    out = io.StringIO()
    call_command("sync_central", "push", stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (summary["prepared"], summary["sent"]) == (0, 0)
    client = CentralClient(base_url=mock.base_url, token=TOKEN)
    for page in range(1, submission.page_count + 1):
        assert client.submit(idempotency_key=str(submission.idempotency_key),
                             payload=page_body(submission, page))["status"] == "accepted"
    assert applied(mock) == counted and mock.ok("GET", "/stats")["submissions_received"] == 1
    # `sync_central status` reports the items by kind and outcome.
    assert summary["submitted_items"]["correction"] == {"accepted": 3, "pending": 0, "rejected": 0}

    # The centre holds the verified family: its house, its dead head, the corrected NIK, the newborn.
    mock.ok("PUT", "/admin/faults", json=NO_FAULTS)  # the test's own look at the centre is not under test
    corrected = mock.ok("GET", f"/v1/families/{expect.corrected.family.central_id}")
    assert corrected["attrs"]["floor_type"] == Family.objects.get(pk=expect.corrected.family_id).floor_type
    bereaved = mock.ok("GET", f"/v1/families/{expect.bereaved.family.central_id}")
    heads = [m for m in bereaved["members"] if m["relationship"] == "head"]
    assert [(m["life_status"], m["life_event_date"]) for m in heads] == [("deceased", "2026-10-12")]
    renamed = mock.ok("GET", f"/v1/families/{expect.renamed.family.central_id}")
    old_nik, new_nik = expect.people["renamed_nik"]
    niks = {m["nik"] for m in renamed["members"]}
    assert new_nik in niks and old_nik not in niks and "Bayi Nauli" in {m["name"] for m in renamed["members"]}

    # The usulan is one family with its DTSEN id, in the portal and at the centre.
    usulan = Family.objects.get(kk_number=expect.proposal_kk)
    assert usulan.central_id.startswith("P") and Family.objects.filter(kk_number=expect.proposal_kk).count() == 1
    assert mock.ok("GET", f"/v1/families/{usulan.central_id}")["kk_number"] == expect.proposal_kk

    # Determinations: the family the facilitator says to stop and the family whose head died get none.
    mock.ok("PUT", "/admin/faults", json=FAULTY)
    tasks.pull_determinations.apply_async(queue=worker.queue)
    wait_for(lambda: Determination.objects.count() == decided["determinations"], what="determinations",
             worker=worker)
    determined = set(Determination.objects.values_list("central_id", flat=True))
    assert expect.eligible.family.central_id not in determined
    assert expect.bereaved.family.central_id not in determined

    # The next publication: the corrected family (a better house) moves up, and the feed says why.
    mock.ok("POST", "/admin/publish-desil", json={"period": "2026-12-20"})  # admin endpoints are never faulted
    tasks.pull_desil.apply_async(queue=worker.queue)
    wait_for(lambda: DesilPublication.objects.filter(state=DesilPublication.State.APPLIED).exists(),
             what="desil publication applied", worker=worker)
    family = Family.objects.get(pk=expect.corrected.family_id)
    assert family.desil > before[family.pk]
    change = DesilChange.objects.get(family=family, period="2026-12-20")
    assert (change.old_desil, change.new_desil) == (before[family.pk], family.desil)
    feed = client_for(people["dinsos"]).get("/pemantauan/perubahan-desil/",
                                            {"movement": "all", "q": family.kk_number}).content.decode()
    assert f"{before[family.pk]} &rarr; <span class=\"badge" in feed and f">{family.desil}</span>" in feed
    assert round_.batch_ref in feed and "Lantai" in feed and round_.musdesus.document_number in feed
    assert Family.objects.get(kk_number=expect.proposal_kk).desil is not None  # the usulan is ranked too
    # The 300 families of the other regency are ranked too: recorded as not in the register, not dropped.
    assert DesilPublication.objects.get().unknown_count == 300


def test_a_round_rechecked_and_approved_again_leaves_the_centre_one_final_state_per_family(mock, worker):
    tasks.pull_batches.apply_async(args=["12.72"], queue=worker.queue)
    wait_for(lambda: CentralBatch.objects.filter(state=BatchState.INGESTED).count() == 1, what="batch applied",
             worker=worker)
    round_ = largest_round()
    people = users_for(round_.village_id)
    expect = verify_everything(round_, people)
    wait_for(lambda: Submission.objects.filter(state=Submission.State.SENT).exists(), what="first submission",
             worker=worker, timeout=180)
    mock.ok("POST", "/admin/accept-submissions")
    kick_until(lambda: tasks.push_submissions.apply_async(queue=worker.queue),
               lambda: Submission.objects.filter(state=Submission.State.ACKNOWLEDGED).exists(),
               what="first answer", worker=worker)

    # Dinsos re-checks: the well-off family turns out to be poor after all.
    verval.round_recheck(actor=people["dinsos"], round_id=round_.pk, note="Cek ulang keluarga mampu")
    entry = RoundFamily.objects.get(pk=expect.well_off.pk)
    verval.entry_decide(actor=people["operator"], round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                        note="Usaha bangkrut", expected_version=entry.version)
    # ... and proposes a family whose head the centre knows in another regency (the portal does not hold it).
    stranger = mock.ok("GET", "/v1/batches/61.11-PKH-0001/pages/1")["families"][0]["members"][0]
    rejected_kk = kk_for(round_.village_id, dt.date(2022, 5, 2))
    verval.proposal_create(actor=people["operator"], round_id=round_.pk,
                           family_data={"kk_number": rejected_kk, "dusun": "Dusun II", "floor_type": "earth"},
                           members=[{**{k: stranger[k] for k in ("nik", "name", "sex", "birth_place", "relationship",
                                                                 "education", "occupation", "disability")},
                                     "birth_date": dt.date.fromisoformat(stranger["birth_date"]),
                                     "relationship": "head", "life_status": "present"}])
    ratify_and_submit(round_, people, held_on=dt.date(2026, 11, 28))
    wait_for(lambda: Submission.objects.filter(state=Submission.State.SENT).exists(), what="second submission",
             worker=worker, timeout=180)
    first, second = Submission.objects.order_by("created_at")
    assert first.idempotency_key != second.idempotency_key
    mock.ok("POST", "/admin/accept-submissions")
    family = mock.ok("GET", f"/v1/families/{expect.well_off.family.central_id}")
    finals = [r for r in family["final_results"] if r["round_ref"] == str(round_.public_id)]
    assert [(r["decision"], r["receipt_id"]) for r in finals] == [("eligible", second.receipt_id)]
    # The usulan sent twice is still one family at the centre.
    usulan_id = Family.objects.get(kk_number=expect.proposal_kk).central_id
    assert mock.ok("GET", f"/v1/families/{usulan_id}")["kk_number"] == expect.proposal_kk

    # The centre refused the new usulan alone, with its reason; everything else of the round stands.
    kick_until(lambda: tasks.push_submissions.apply_async(queue=worker.queue),
               lambda: Submission.objects.filter(pk=second.pk, state=Submission.State.ACKNOWLEDGED).exists(),
               what="second answer", worker=worker)
    refused = SubmissionItem.objects.get(submission=second, outcome=SubmissionItem.Outcome.REJECTED)
    assert refused.kind == "proposal" and f"NIK {stranger['nik']} is already registered" in refused.reason
    assert not SubmissionItem.objects.filter(submission=second).exclude(pk=refused.pk).exclude(
        outcome=SubmissionItem.Outcome.ACCEPTED).exists()
    entry = RoundFamily.objects.get(pk=refused.entry_id)
    assert entry.centre_outcome == "rejected" and "already registered" in entry.centre_reason
    assert Family.objects.get(kk_number=rejected_kk).central_id is None
    assert mock.ok("GET", "/stats")["items_rejected"] == 1
