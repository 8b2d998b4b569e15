"""What an approved round tells the centre (protocol v2), frozen as items before the first attempt.

One approval becomes one ``Submission`` whose ``SubmissionItem`` rows hold exactly what is sent: every family's
decision, every field correction (before -> after, coded), member changes (added, deceased or moved with the
date, corrected NIK or name), every usulan with its members, the latest ground-check recommendation per family,
the accepted citizens' reports, and the families Dinsos marked as duplicates of the register's. The items are
read in a fixed number of queries, whatever the village's size, and written with one bulk insert; pages are
cut from them in a stable order, so every retry sends byte-for-byte the same pages under the same key.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from distribution.models import CitizenReport
from groundcheck.models import Visit
from registry.models import Member
from verification.models import FieldCorrection, RoundEvent, RoundFamily, RoundState, VerificationRound
from verification.services import MEMBER_CORRECTABLE, coded

from .ingest import ATTR_FIELDS
from .models import BatchClash, Submission, SubmissionItem

PROTOCOL = 2
KIND_ORDER = [SubmissionItem.Kind.RESULT, SubmissionItem.Kind.MEMBER_CHANGE, SubmissionItem.Kind.CORRECTION,
              SubmissionItem.Kind.PROPOSAL, SubmissionItem.Kind.RECOMMENDATION, SubmissionItem.Kind.REPORT]
# The protocol's list name for each kind of item.
LIST_NAMES = {SubmissionItem.Kind.RESULT: "results", SubmissionItem.Kind.CORRECTION: "corrections",
              SubmissionItem.Kind.MEMBER_CHANGE: "member_changes", SubmissionItem.Kind.PROPOSAL: "proposals",
              SubmissionItem.Kind.RECOMMENDATION: "recommendations", SubmissionItem.Kind.REPORT: "reports"}
LOCATION_FIELDS = ("dusun", "rt", "rw", "address", "latitude", "longitude")
MEMBER_FIELDS = tuple(MEMBER_CORRECTABLE)
LIFE_EVENTS = (Member.LifeStatus.DECEASED, Member.LifeStatus.MOVED)


def latest_approvals():
    """The latest approval event of each round (a re-checked round is approved more than once)."""
    return RoundEvent.objects.filter(round=OuterRef("pk"), to_state=RoundState.APPROVED).order_by("-id")


def submissions_prepare() -> int:
    """Freeze a submission for every approved round whose latest approval has none yet; returns how many.

    Committed before anything is sent, so the key and the content survive a crash mid-push."""
    approved = (VerificationRound.objects.filter(state=RoundState.APPROVED)
                .annotate(approval_id=Subquery(latest_approvals().values("id")[:1])))
    carried = Submission.objects.filter(approval__isnull=False).values("approval_id")
    rounds = list(approved.exclude(approval_id__isnull=True).exclude(approval_id__in=carried)
                  .values_list("pk", "approval_id"))
    # A round approved before approvals were recorded as events: sent once, as it stands.
    rounds += [(pk, None) for pk in approved.filter(approval_id__isnull=True, submissions__isnull=True)
               .values_list("pk", flat=True)]
    created = 0
    for round_id, approval_id in rounds:
        with transaction.atomic():
            created += _freeze(round_id, approval_id)
    return created


def submissions_record(round_ids: list[int]) -> None:
    """Freeze the submission of rounds being approved, inside the approval's transaction (the outbox).

    Registered with verification's approval hook: the approval and what it sends commit together, so a broker
    that is down when the push is queued loses nothing; every scheduled push drains pending submissions."""
    approvals = dict(VerificationRound.objects.filter(pk__in=round_ids, state=RoundState.APPROVED)
                     .annotate(approval_id=Subquery(latest_approvals().values("id")[:1]))
                     .values_list("pk", "approval_id"))
    for round_id in sorted(approvals):
        _freeze(round_id, approvals[round_id])


def _freeze(round_id: int, approval_id: int | None) -> bool:
    """Create the round's submission for this approval unless it exists (called inside a transaction)."""
    # Two pushes racing: the round lock makes the second one see the first one's submission.
    VerificationRound.objects.select_for_update().filter(pk=round_id).first()
    done = Submission.objects.filter(approval_id=approval_id) if approval_id else \
        Submission.objects.filter(round_id=round_id)
    if done.exists():
        return False
    submission_create(round_id=round_id, approval_id=approval_id)
    return True


def submission_create(*, round_id: int, approval_id: int | None) -> Submission:
    """Build and store one submission of a round's current state (called inside a transaction)."""
    round_ = VerificationRound.objects.select_related("village").get(pk=round_id)
    items = _Builder(round_).items()
    page_size = settings.CENTRAL_SUBMISSION_PAGE_ITEMS
    for position, item in enumerate(items):
        item.page = position // page_size + 1
    submission = Submission.objects.create(
        round=round_, approval_id=approval_id, protocol=PROTOCOL, page_count=max(1, -(-len(items) // page_size)),
        result_count=sum(1 for i in items if i.kind == SubmissionItem.Kind.RESULT))
    for item in items:
        item.submission = submission
    SubmissionItem.objects.bulk_create(items, batch_size=2000)
    # Earlier approvals of this round that never left the portal are superseded by this one.
    Submission.objects.filter(round=round_, state__in=[Submission.State.PENDING, Submission.State.FAILED]) \
        .exclude(pk=submission.pk).update(state=Submission.State.CANCELLED)
    return submission


def page_body(submission: Submission, page: int) -> dict:
    """The body of one page: the round's header and the page's items grouped by kind, in item order."""
    round_ = submission.round
    body = {"protocol": submission.protocol, "batch_id": round_.batch_ref, "round_ref": str(round_.public_id),
            "village_code": round_.village_id, "programme": round_.programme, "page": page,
            "page_count": submission.page_count}
    lists = {name: [] for name in LIST_NAMES.values()}
    for kind, payload in submission.items.filter(page=page).order_by("id").values_list("kind", "payload"):
        lists[LIST_NAMES[kind]].append(payload)
    return body | lists


class _Builder:
    """Reads a round and its families once per kind of data, and turns them into items."""

    def __init__(self, round_: VerificationRound):
        self.round = round_
        self.entries = list(RoundFamily.objects.filter(round=round_).select_related("family")
                            .order_by("family__central_id", "family_id"))
        self.by_family = {e.family_id: e for e in self.entries}
        self.proposal_ref = {e.family_id: f"P{e.pk}" for e in self.entries if not e.family.central_id}

    def items(self) -> list[SubmissionItem]:
        items = [*self.results(), *self.member_changes(), *self.corrections(), *self.proposals(),
                 *self.recommendations(), *self.reports()]
        order = {kind: n for n, kind in enumerate(KIND_ORDER)}
        return sorted(items, key=lambda i: order[i.kind])  # stable: the order within a kind is kept

    def _item(self, kind: str, ref: str, payload: dict, entry: RoundFamily | None = None, **extra) -> SubmissionItem:
        return SubmissionItem(kind=kind, ref=ref, payload={"ref": ref, **payload}, entry=entry,
                              family_id=entry.family_id if entry else None, **extra)

    def _target(self, family_id: int) -> dict:
        """How an item names its family: the DTSEN id, or the usulan it travels with."""
        entry = self.by_family[family_id]
        if entry.family.central_id:
            return {"central_id": entry.family.central_id}
        return {"proposal_ref": self.proposal_ref[family_id]}

    # -- decisions ---------------------------------------------------------------------------------------
    def results(self) -> Iterable[SubmissionItem]:
        for entry in self.entries:
            if entry.family.central_id:
                yield self._item(SubmissionItem.Kind.RESULT, f"R{entry.pk}", {
                    "central_id": entry.family.central_id, "decision": entry.decision or RoundFamily.Decision.ELIGIBLE,
                    "reason": entry.reason, "note": entry.note}, entry)
        # Families Dinsos recognised as duplicates of the register's when their batch clashed, or merged into one
        # of the register's that keeps its own DTSEN id: the centre learns.
        duplicates = (BatchClash.objects.filter(batch__batch_id=self.round.batch_ref, village_id=self.round.village_id,
                                                resolution__in=[BatchClash.Resolution.DUPLICATE,
                                                                BatchClash.Resolution.MERGE])
                      .select_related("register_family").order_by("central_id"))
        for clash in duplicates:
            register = clash.register_family
            if clash.resolution == BatchClash.Resolution.MERGE and register and \
                    register.central_id == clash.central_id:
                continue  # the register's family took the centre's id: its own result goes up
            note = _("Duplicate of KK %(kk)s (DTSEN id %(id)s) in the register.") % {
                "kk": register.kk_number if register else "-",
                "id": (register.central_id if register else "") or "-"}
            yield self._item(SubmissionItem.Kind.RESULT, f"D{clash.pk}", {
                "central_id": clash.central_id, "decision": RoundFamily.Decision.NOT_ELIGIBLE,
                "reason": RoundFamily.Reason.DUPLICATE, "note": f"{note} {clash.note}".strip()})

    # -- corrections of the family's house, assets and location -------------------------------------------
    def _correction_groups(self, *, members: bool) -> dict[tuple, list[FieldCorrection]]:
        """Corrections of the round grouped per family entry (and member) and field, oldest first."""
        rows = FieldCorrection.objects.filter(entry__round=self.round).order_by("corrected_at", "id") \
            .only("id", "entry_id", "member_id", "member_label", "field", "old_raw", "new_raw", "corrected_at")
        rows = rows.exclude(member_label="") if members else rows.filter(member_label="")
        groups: dict[tuple, list[FieldCorrection]] = defaultdict(list)
        for row in rows:
            groups[(row.entry_id, row.member_id if members else None, row.field)].append(row)
        return groups

    def corrections(self) -> Iterable[SubmissionItem]:
        entries = {e.pk: e for e in self.entries}
        for (entry_id, _member, field), rows in self._correction_groups(members=False).items():
            entry = entries.get(entry_id)
            if entry is None or not entry.family.central_id or field not in (*ATTR_FIELDS, *LOCATION_FIELDS):
                continue  # an usulan carries its attributes itself
            before = rows[0].old_raw
            after = coded(getattr(entry.family, field))  # the value as verified, as the register holds it now
            if before == after and rows[0].old_raw is not None:
                continue  # changed and changed back
            yield self._item(SubmissionItem.Kind.CORRECTION, f"C{rows[-1].pk}", {
                "central_id": entry.family.central_id, "field": field, "before": before, "after": after}, entry)

    # -- members ----------------------------------------------------------------------------------------
    def member_changes(self) -> Iterable[SubmissionItem]:
        entries = {e.pk: e for e in self.entries}
        groups = self._correction_groups(members=True)
        member_ids = {member for (_e, member, _f) in groups if member}
        members = {m.pk: m for m in Member.objects.filter(pk__in=member_ids)}
        per_member: dict[tuple[int, int], dict[str, list[FieldCorrection]]] = defaultdict(dict)
        for (entry_id, member_id, field), rows in groups.items():
            if member_id in members:
                per_member[(entry_id, member_id)][field] = rows
        for (entry_id, member_id), fields in sorted(per_member.items()):
            entry, member = entries.get(entry_id), members[member_id]
            if entry is None or not entry.family.central_id or member.family_id != entry.family_id:
                continue
            yield from self._member_items(entry, member, fields)

    def _member_items(self, entry: RoundFamily, member: Member, fields: dict[str, list[FieldCorrection]]):
        central_id = entry.family.central_id
        if FieldCorrection.ADDED in fields:
            yield self._item(SubmissionItem.Kind.MEMBER_CHANGE, f"M{member.pk}.add", {
                "central_id": central_id, "change": "added", "nik": member.nik,
                "date": coded(timezone.localdate(fields[FieldCorrection.ADDED][0].corrected_at)),
                "member": member_json(member)}, entry)
            return  # the added member travels with its final values
        # The centre knows the person by the NIK it holds: the one before any correction in this round.
        nik_before = fields["nik"][0].old_raw if "nik" in fields and fields["nik"][0].old_raw else member.nik
        status_before = fields["life_status"][0].old_raw if "life_status" in fields else member.life_status
        corrected = {}
        for field, rows in fields.items():
            if field not in MEMBER_FIELDS or field == "life_event_date":
                continue
            if field == "life_status" and member.life_status in LIFE_EVENTS:
                continue  # said below, with its date
            before, after = rows[0].old_raw, coded(getattr(member, field))
            if before != after:
                corrected[field] = {"before": before, "after": after}
        if corrected:
            yield self._item(SubmissionItem.Kind.MEMBER_CHANGE, f"M{member.pk}.fix", {
                "central_id": central_id, "change": "corrected", "nik": nik_before, "fields": corrected}, entry)
        if member.life_status in LIFE_EVENTS and member.life_status != status_before:
            # After the correction above (the centre applies member changes in order): the current NIK.
            yield self._item(SubmissionItem.Kind.MEMBER_CHANGE, f"M{member.pk}.{member.life_status}", {
                "central_id": central_id, "change": member.life_status, "nik": member.nik,
                "date": coded(member.life_event_date)}, entry)

    # -- usulan -----------------------------------------------------------------------------------------
    def proposals(self) -> Iterable[SubmissionItem]:
        proposed = [e for e in self.entries if not e.family.central_id]
        members = defaultdict(list)
        for member in Member.objects.filter(family_id__in=[e.family_id for e in proposed]).order_by("family_id", "id"):
            members[member.family_id].append(member_json(member))
        for entry in proposed:
            family = entry.family
            yield self._item(SubmissionItem.Kind.PROPOSAL, self.proposal_ref[family.pk], {
                "kk_number": family.kk_number, "village_code": family.village_id,
                **{field: coded(getattr(family, field)) for field in LOCATION_FIELDS},
                # Only what the village recorded: a blank variable is unknown, not a code.
                "attrs": {field: coded(getattr(family, field)) for field in ATTR_FIELDS
                          if getattr(family, field) not in ("", None)},
                "members": members[family.pk]}, entry)

    # -- ground-checks and citizens' reports ------------------------------------------------------------
    def recommendations(self) -> Iterable[SubmissionItem]:
        visits = (Visit.objects.filter(family_id__in=list(self.by_family)).order_by("family_id", "-visited_at", "-id")
                  .only("id", "family_id", "visited_at", "recommendation", "findings"))
        seen = set()
        for visit in visits:
            if visit.family_id in seen:
                continue  # the latest visit of each family speaks for it
            seen.add(visit.family_id)
            yield self._item(SubmissionItem.Kind.RECOMMENDATION, f"G{visit.pk}", {
                **self._target(visit.family_id), "recommendation": visit.recommendation,
                "visited_on": coded(timezone.localdate(visit.visited_at)), "findings": visit.findings[:2000]},
                self.by_family[visit.family_id])

    def reports(self) -> Iterable[SubmissionItem]:
        entries = {e.pk: e for e in self.entries}
        reports = CitizenReport.objects.filter(entry__round=self.round, status=CitizenReport.Status.ACCEPTED) \
            .order_by("id")
        for report in reports:
            entry = entries[report.entry_id]
            yield self._item(SubmissionItem.Kind.REPORT, f"W{report.pk}", {
                **self._target(entry.family_id), "kind": report.kind, "reason": report.reason,
                "resolution": report.resolution, "received_on": coded(timezone.localdate(report.created_at))},
                entry, report=report)


def member_json(member: Member) -> dict:
    return {field: coded(getattr(member, field)) for field in MEMBER_FIELDS}
