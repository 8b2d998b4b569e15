"""What an approved round sends to the centre, page by page, and what the portal does with the answer.

The centre here is a stand-in at the client boundary (the one module that talks HTTP); the end-to-end test
over the real mock process and a Celery worker is in test_loop_integration.py.
"""
import datetime as dt

import pytest
from django.urls import reverse

from central import services
from central.client import CentralUnavailable
from central.models import Submission, SubmissionItem
from central.submissions import page_body, submissions_prepare
from distribution.models import CitizenReport
from registry.models import Family
from verification import services as verval
from verification.models import RoundState, VerificationRound

from ..factories import VILLAGE, MemberFactory, UserFactory, client_for, round_with_families
from .loop import DEATH, ratify_and_submit, users_for, verify_everything

pytestmark = pytest.mark.django_db


class FakeCentre:
    """Keeps pages per key as the centre does and answers with receipts and outcomes."""

    def __init__(self, fail_on_page: int | None = None):
        self.pages: dict[str, dict[int, dict]] = {}
        self.calls: list[tuple[str, int]] = []
        self.fail_on_page = fail_on_page
        self.outcomes: list[dict] = []
        self.status = "received"

    def submit(self, *, idempotency_key: str, payload: dict) -> dict:
        self.calls.append((idempotency_key, payload["page"]))
        if payload["page"] == self.fail_on_page:
            self.fail_on_page = None
            raise CentralUnavailable("POST /v1/submissions: HTTP 503 after 8 attempts")
        stored = self.pages.setdefault(idempotency_key, {})
        assert stored.get(payload["page"], payload) == payload, "a retry must send the same page"
        stored[payload["page"]] = payload
        complete = len(stored) == payload["page_count"]
        return {"receipt_id": "R-000001", "status": "received" if complete else "incomplete",
                "pages_received": sorted(stored)}

    def submission(self, receipt_id: str) -> dict:
        return {"receipt_id": receipt_id, "status": self.status, "decided_at": "2026-12-01T03:00:00+00:00"}

    def submission_outcomes(self, receipt_id: str, *, since: str = "", limit: int = 500) -> dict:
        start = int(since or 0)
        chunk = self.outcomes[start:start + 2]  # small pages: the portal must follow the cursor
        return {"outcomes": chunk, "next_cursor": str(start + len(chunk)),
                "has_more": start + len(chunk) < len(self.outcomes)}

    def items(self, key: str) -> dict[str, list[dict]]:
        lists: dict[str, list[dict]] = {}
        for page in sorted(self.pages[key]):
            for name in ("results", "corrections", "member_changes", "proposals", "recommendations", "reports"):
                lists.setdefault(name, []).extend(self.pages[key][page][name])
        return lists


def verified_round(n: int = 5):
    round_ = round_with_families(n, code=VILLAGE, batch_ref="12.09-PKH-0007")
    for number, entry in enumerate(round_.entries.order_by("pk"), start=1):
        Family.objects.filter(pk=entry.family_id).update(central_id=f"DT120900000{number:03d}")
    renamed = round_.entries.order_by("pk")[3]
    MemberFactory(family=renamed.family, relationship="spouse", sex="P", birth_date=dt.date(1984, 1, 9))
    people = users_for(VILLAGE)
    return round_, verify_everything(round_, people), people


def test_an_approved_round_sends_every_decision_correction_member_change_usulan_recommendation_and_report():
    round_, expect, _people = verified_round()
    # The approval froze its submission in its own transaction; the push finds nothing left to prepare.
    assert Submission.objects.get().state == Submission.State.PENDING and submissions_prepare() == 0
    centre = FakeCentre()
    services.submissions_push(client=centre)
    submission = Submission.objects.get()
    sent = centre.items(str(submission.idempotency_key))
    assert {name: len(items) for name, items in sent.items()} == {
        "results": 5, "corrections": 3, "member_changes": 3, "proposals": 1, "recommendations": 1, "reports": 2}
    header = centre.pages[str(submission.idempotency_key)][1]
    assert (header["protocol"], header["batch_id"], header["round_ref"], header["village_code"]) == (
        2, "12.09-PKH-0007", str(round_.public_id), VILLAGE)

    results = {r["central_id"]: r for r in sent["results"]}
    assert results[expect.well_off.family.central_id] | {"ref": ""} == {
        "ref": "", "central_id": expect.well_off.family.central_id, "decision": "not_eligible",
        "reason": "well_off", "note": "Rumah permanen, punya mobil"}
    assert results[expect.corrected.family.central_id]["decision"] == "corrected"

    corrections = {c["field"]: c for c in sent["corrections"]}
    assert set(corrections) == {"floor_type", "wall_type", "has_refrigerator"}
    assert corrections["floor_type"]["before"] == "earth" and corrections["floor_type"]["after"] == "ceramic"
    assert corrections["has_refrigerator"]["before"] is False and corrections["has_refrigerator"]["after"] is True
    assert {c["central_id"] for c in sent["corrections"]} == {expect.corrected.family.central_id}

    changes = {c["change"]: c for c in sent["member_changes"]}
    old_nik, new_nik = expect.people["renamed_nik"]
    assert changes["deceased"]["date"] == DEATH.isoformat()
    assert changes["deceased"]["central_id"] == expect.bereaved.family.central_id
    assert changes["corrected"]["nik"] == old_nik  # the centre knows the person by the NIK it holds
    assert changes["corrected"]["fields"]["nik"] == {"before": old_nik, "after": new_nik}
    assert changes["corrected"]["fields"]["name"]["after"].endswith(" Saragih")
    added = changes["added"]["member"]
    assert added["name"] == "Bayi Nauli" and added["birth_date"] == "2026-09-01"

    proposal = sent["proposals"][0]
    assert proposal["kk_number"] == expect.proposal_kk and proposal["attrs"]["floor_type"] == "earth"
    assert [m["relationship"] for m in proposal["members"]] == ["head", "child"]
    assert sent["recommendations"][0] | {"ref": ""} == {
        "ref": "", "central_id": expect.eligible.family.central_id, "recommendation": "stop",
        "visited_on": "2026-11-04", "findings": "Sudah bekerja tetap di pabrik"}
    reports = {r["kind"]: r for r in sent["reports"]}
    assert reports["sanggahan"]["central_id"] == expect.well_off.family.central_id
    assert reports["usulan"]["proposal_ref"] == proposal["ref"]  # travels with the usulan it led to

    submission.refresh_from_db()
    assert submission.state == Submission.State.SENT and submission.receipt_id == "R-000001"
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.SENT


def test_a_large_round_goes_up_in_pages_under_one_key_and_resumes_after_the_last_confirmed_page(settings):
    settings.CENTRAL_SUBMISSION_PAGE_ITEMS = 4
    round_, _expect, _people = verified_round(n=9)
    submissions_prepare()
    submission = Submission.objects.get()
    assert submission.page_count == 5  # 9 results + 3 + 3 + 1 + 1 + 2 = 19 items
    first_page = page_body(submission, 1)
    assert page_body(submission, 1) == first_page  # rebuilt identically for every retry

    centre = FakeCentre(fail_on_page=3)
    assert services.submissions_push(client=centre)["failed"] == 1
    submission.refresh_from_db()
    assert (submission.state, submission.pages_sent) == (Submission.State.FAILED, 2)
    services.submissions_push(client=centre)
    submission.refresh_from_db()
    assert submission.state == Submission.State.SENT
    key = str(submission.idempotency_key)
    assert [page for k, page in centre.calls] == [1, 2, 3, 3, 4, 5] and {k for k, _p in centre.calls} == {key}
    sent = centre.items(key)
    assert sum(len(items) for items in sent.values()) == 19
    refs = [item["ref"] for items in sent.values() for item in items]
    assert len(refs) == len(set(refs))


def test_the_centres_answer_is_kept_per_item_and_shown_where_people_look():
    round_, expect, people = verified_round()
    centre = FakeCentre()
    services.submissions_push(client=centre)
    submission = Submission.objects.get()
    items = {(i.kind, i.entry_id): i for i in submission.items.all()}
    floor = submission.items.get(kind="correction", payload__field="floor_type")
    proposal = items[("proposal", expect.proposal.pk)]
    centre.outcomes = [{"ref": i.ref, "kind": i.kind, "outcome": "accepted", "reason": ""}
                       for i in submission.items.exclude(pk__in=[floor.pk, proposal.pk])]
    centre.outcomes += [
        {"ref": floor.ref, "kind": "correction", "outcome": "rejected", "reason": "invalid value for floor_type"},
        {"ref": proposal.ref, "kind": "proposal", "outcome": "accepted", "reason": "", "central_id": "P12090820020001"}]
    centre.status = "partial"
    assert services.submissions_check(client=centre) == {"acknowledged": 1}

    submission.refresh_from_db()
    assert submission.state == Submission.State.ACKNOWLEDGED
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.ACKNOWLEDGED
    corrected = expect.corrected.__class__.objects.get(pk=expect.corrected.pk)
    assert corrected.centre_outcome == "partial"
    assert "invalid value for floor_type" in corrected.centre_reason
    # The usulan is the centre's family now, under its new id, with the change in its history.
    family = Family.objects.get(pk=expect.proposal.family_id)
    assert family.central_id == "P12090820020001"
    assert family.history.first().history_change_reason.startswith("usulan diterima pusat")
    assert CitizenReport.objects.get(reference=expect.people["reports"][1]).centre_outcome == "accepted"

    operator = people["operator"]
    page = client_for(operator).get(reverse("round-detail", args=[round_.pk])).content.decode()
    assert "Sebagian diterima pusat" in page and "invalid value for floor_type" in page
    assert "P12090820020001" in page
    entry_page = client_for(operator).get(
        reverse("round-entry", args=[round_.pk, expect.corrected.pk])).content.decode()
    assert "Lantai: Tanah → Keramik" in entry_page and "invalid value for floor_type" in entry_page
    family_page = client_for(operator).get(reverse("family-detail", args=[expect.corrected.family_id])).content.decode()
    assert "Tindak lanjut pusat" in family_page and "Ditolak" in family_page
    citizen = client_for(operator).get(reverse("cek-bansos-status"), {"reference": expect.people["reports"][1]})
    assert "Diterima pusat" in citizen.content.decode()
    # The centre's answer is in the decision's and the report's history, by the system, with the receipt.
    answer = expect.corrected.history.filter(centre_outcome="partial").get()
    assert answer.history_user is None and answer.history_change_reason.startswith("jawaban pusat")
    assert answer.decision == expect.corrected.__class__.objects.get(pk=expect.corrected.pk).decision
    entry_page = client_for(operator).get(
        reverse("round-entry", args=[round_.pk, expect.corrected.pk])).content.decode()
    history = entry_page.split('data-testid="decision-history"')[1].split("</section>")[0]
    assert "Sebagian diterima pusat" in history and "jawaban pusat" in history
    report = CitizenReport.objects.get(reference=expect.people["reports"][1])
    assert report.history.filter(centre_outcome="accepted").count() == 1
    records = (expect.corrected.history.count(), report.history.count())
    # Answering again changes nothing, and records nothing.
    assert services.submission_record_outcomes(submission=submission, outcomes=centre.outcomes) == 0
    services.submissions_check(client=centre)
    assert (expect.corrected.history.count(), report.history.count()) == records


def test_a_round_rechecked_and_approved_again_sends_its_new_state_under_a_new_key():
    round_, expect, people = verified_round()
    centre = FakeCentre()
    services.submissions_push(client=centre)
    first = Submission.objects.get()
    verval.round_recheck(actor=people["dinsos"], round_id=round_.pk, note="Keluarga mampu ternyata layak")
    entry = expect.well_off.__class__.objects.get(pk=expect.well_off.pk)
    verval.entry_decide(actor=people["operator"], round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                        expected_version=entry.version)
    ratify_and_submit(round_, people, held_on=dt.date(2026, 11, 27))
    services.submissions_push(client=centre)
    second = Submission.objects.exclude(pk=first.pk).get()
    assert second.idempotency_key != first.idempotency_key and second.state == Submission.State.SENT
    result = {r["central_id"]: r for r in centre.items(str(second.idempotency_key))["results"]}
    assert result[expect.well_off.family.central_id]["decision"] == "eligible"
    assert first.approval != second.approval and second.approval.actor == people["dinsos"]


def test_an_approval_rechecked_before_it_was_sent_is_withdrawn_not_sent():
    round_, _expect, people = verified_round()
    assert Submission.objects.get().state == Submission.State.PENDING
    verval.round_recheck(actor=people["dinsos"], round_id=round_.pk, note="Periksa lagi")
    centre = FakeCentre()
    assert services.submissions_push(client=centre)["cancelled"] == 1
    assert centre.calls == [] and Submission.objects.get().state == Submission.State.CANCELLED


def test_sync_status_counts_submitted_items_by_kind_and_outcome():
    verified_round()
    services.submissions_push(client=FakeCentre())
    items = services.sync_status()["submitted_items"]
    assert {kind: counts["pending"] for kind, counts in items.items()} == {
        "result": 5, "correction": 3, "member_change": 3, "proposal": 1, "recommendation": 1, "report": 2}
    assert SubmissionItem.objects.filter(outcome="accepted").count() == 0


def test_the_submission_page_shows_what_went_up_by_kind_in_a_fixed_number_of_queries(
        django_assert_max_num_queries, settings):
    settings.CENTRAL_SUBMISSION_PAGE_ITEMS = 5
    _round, _expect, people = verified_round(n=8)
    services.submissions_push(client=FakeCentre())
    submission = Submission.objects.get()
    dinsos = client_for(people["dinsos"])
    url = reverse("sync-submission", args=[submission.pk])
    with django_assert_max_num_queries(12):
        page = dinsos.get(url).content.decode()
    assert f"{submission.pages_sent} / {submission.page_count}" in page and "Koreksi data" in page
    assert page.count("<tr data-ref=") == SubmissionItem.objects.filter(submission=submission).count() == 18
    corrections = dinsos.get(url, {"kind": "correction", "outcome": "pending"}).content.decode()
    assert corrections.count("<tr data-ref=") == 3
    # The village sees its round's answer on the round page; the submission page is the regency's.
    assert client_for(people["operator"]).get(url).status_code == 403
    assert client_for(UserFactory(role="dinsos", area_id="12.72")).get(url).status_code == 404
