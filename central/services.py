"""State changes of the central sync: discover and download batches, apply them, push approved rounds,
pull determinations and desil publications. The Celery tasks and ``sync_central`` call these same verbs.

Every verb is safe to repeat: a batch or page seen twice changes nothing, a push re-sent after a lost
acknowledgement carries the same idempotency key, and a failure leaves recorded state (attempts, last
error) from which the next run continues.
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Count, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from accounts.models import Role
from accounts.scope import user_covers_code
from distribution.models import CitizenReport, Determination
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from registry.models import Family, Region
from verification import services as rounds
from verification.models import CentreOutcome, RoundFamily, RoundState, VerificationRound
from verification.services import CYCLE_RE

from .client import CANONICAL, CentralBadData, CentralClient, CentralRefused, CentralUnavailable
from .ingest import BatchRejected, ingest_batch, stage_discard, stage_range, unstaged_ranges
from .models import (
    BatchClash,
    BatchState,
    CentralBatch,
    DesilPublication,
    DownloadedPage,
    Submission,
    SubmissionItem,
    SyncCursor,
)
from .protocol import PROGRAMMES, combined_checksum
from .submissions import page_body, submissions_prepare

log = logging.getLogger(__name__)
SYNC_ROLES = (Role.DINSOS, Role.ADMIN)


def _more(answer: dict, before: str, after: str) -> bool:
    """Whether to ask for the next page. A centre that says more follows without moving its cursor would keep
    a worker asking for the same page forever: that answer is bad data."""
    if not answer.get("has_more"):
        return False
    if not after or after == before:
        raise CentralBadData("the centre says more follows but its cursor did not move")
    return True


def _cursor(stream: str) -> SyncCursor:
    return SyncCursor.objects.get_or_create(stream=stream)[0]


def _record_error(model, pk: int, error: Exception | str) -> None:
    model.objects.filter(pk=pk).update(last_error=str(error)[:2000], **(
        {"last_error_at": timezone.now()} if model is CentralBatch else {}))


# -- batches of data awal ----------------------------------------------------------------------------------
def batches_discover(*, client: CentralClient, regency: str = "") -> list[CentralBatch]:
    """Record every batch the centre published since the last look; returns the new ones.

    A batch for an unknown programme or regency is recorded and held with its reason, never skipped.
    """
    cursor = _cursor(f"batches:{regency}" if regency else "batches")
    new = []
    while True:
        previous = cursor.cursor
        answer = client.batches(since=cursor.cursor, regency=regency)
        with transaction.atomic():
            for item in answer.get("batches", []):
                batch, created = CentralBatch.objects.get_or_create(
                    batch_id=item["batch_id"], defaults=_batch_fields(item))
                if created:
                    problem = _batch_problem(batch)
                    if problem:
                        batch_quarantine(batch, problem)
                    new.append(batch)
            cursor.cursor = answer.get("next_cursor") or cursor.cursor
            cursor.save(update_fields=["cursor", "updated_at"])
        if not _more(answer, previous, cursor.cursor):
            return new


def _batch_fields(item: dict) -> dict:
    return {
        "regency_code": str(item.get("regency", "")), "programme": str(item.get("programme", "")),
        "published_at": parse_datetime(item.get("published_at") or ""),
        "family_count": int(item.get("family_count") or 0), "member_count": int(item.get("member_count") or 0),
        "page_size": int(item.get("page_size") or 0), "page_count": int(item.get("page_count") or 0),
        "checksum": str(item.get("checksum", "")),
        "deadline": _date_or_none(item.get("deadline")),
        "cycle": cycle if re.fullmatch(CYCLE_RE, cycle := str(item.get("cycle") or "")) else "",
    }


def _date_or_none(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _batch_problem(batch: CentralBatch) -> str:
    if batch.programme not in PROGRAMMES:
        return _("Unknown programme %(programme)s (known: %(known)s).") % {
            "programme": batch.programme, "known": ", ".join(PROGRAMMES)}
    if not Region.objects.filter(code=batch.regency_code, level=Region.Level.REGENCY).exists():
        return _("Regency %(code)s is not in the portal's region list.") % {"code": batch.regency_code}
    return ""


def batch_quarantine(batch: CentralBatch, reason: str) -> None:
    """Hold a batch that cannot be applied, with its reason; nothing of it is in the register."""
    batch.quarantine()
    batch.last_error, batch.last_error_at = reason[:2000], timezone.now()
    batch.save(update_fields=["state", "last_error", "last_error_at", "updated_at"])
    stage_discard(batch)
    # The reason names NIKs and KK numbers of the batch's rows; it is on the sync page, the log gets the id.
    log.warning("central batch %s held; the reason is on the sync page", batch.batch_id)


def batch_download(*, batch: CentralBatch, client: CentralClient) -> None:
    """Fetch the pages not yet stored (a restart resumes here), then check the whole batch's checksum."""
    if batch.state not in (BatchState.DISCOVERED, BatchState.DOWNLOADING):
        return  # downloaded already (a worker lost during the ingest picks up from there)
    if batch.state == BatchState.DISCOVERED:
        batch.start_download()
        batch.save(update_fields=["state", "updated_at"])
    have, missing = _stored_and_missing(batch)
    if missing:
        missing = _copy_known_pages(batch, client, missing, have)
    _fetch_pages(batch, client, missing)
    pages = list(DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id)
                 .order_by("number").values_list("checksum", flat=True))
    if combined_checksum(pages) != batch.checksum:
        raise BatchRejected(_("The downloaded pages do not add up to the batch checksum the centre announced."))
    batch.refresh_from_db()
    batch.finish_download()
    batch.save(update_fields=["state", "updated_at"])


def _stored_and_missing(batch: CentralBatch, first: int = 1, last: int | None = None) -> tuple[set, list[int]]:
    """The numbers of the batch's pages (``first``..``last``, or all) already stored, and those still missing."""
    last = batch.page_count if last is None else last
    have = set(DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id,
                                             number__range=(first, last)).values_list("number", flat=True))
    return have, [number for number in range(first, last + 1) if number not in have]


def _fetch_pages(batch: CentralBatch, client: CentralClient, numbers: list[int]) -> None:
    """Download and store these pages of the batch (several processes may do so for different pages)."""
    stored = DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id)
    for number, page in _pages_ahead(client, batch.batch_id, numbers):
        # The client checked the canonical bytes against the checksum: they are stored as they are.
        DownloadedPage(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id, number=number,
                       checksum=page["checksum"], body=page[CANONICAL].decode("utf-8")).save_once()
        del page
        CentralBatch.objects.filter(pk=batch.pk).update(
            pages_done=Subquery(stored.values("ref").annotate(n=Count("pk")).values("n")))


def batch_ranges_to_stage(*, batch_pk: int, client: CentralClient) -> list[tuple[int, int]]:
    """The page ranges of a large batch for Celery workers to download and stage in parallel
    (``batch_stage_pages``), once the batch is set downloading and the pages the portal already holds are
    copied; ``[]`` when the batch is applied in one go instead (one range's worth of pages, a database other
    than PostgreSQL, or nothing left to stage)."""
    batch = CentralBatch.objects.get(pk=batch_pk)
    if (connection.vendor != "postgresql" or batch.state not in (BatchState.DISCOVERED, BatchState.DOWNLOADING)
            or batch.page_count <= settings.CENTRAL_INGEST_RANGE_PAGES):
        return []
    if batch.state == BatchState.DISCOVERED:
        batch.start_download()
        batch.save(update_fields=["state", "updated_at"])
    CentralBatch.objects.filter(pk=batch.pk).update(rows_total=batch.family_count + batch.member_count)
    have, missing = _stored_and_missing(batch)
    if missing:
        _copy_known_pages(batch, client, missing, have)
    return unstaged_ranges(batch)


STAGED, LAST_RANGE = "staged", "last range"


def batch_stage_pages(*, batch_pk: int, first: int, last: int, client: CentralClient) -> str:
    """One page-range task: download the pages ``first``..``last`` the portal does not hold yet and stage
    them (``central.ingest.stage_range``). Any worker on any machine may take it; run twice, it stages once.

    Returns ``LAST_RANGE`` when this range completed the batch's staging (the batch is ready to apply),
    ``STAGED`` otherwise, or the batch's state when it is no longer being downloaded (held, say)."""
    batch = CentralBatch.objects.get(pk=batch_pk)
    if batch.state != BatchState.DOWNLOADING:
        return batch.state
    _have, missing = _stored_and_missing(batch, first, last)
    try:
        _fetch_pages(batch, client, missing)
        return LAST_RANGE if stage_range(batch, first, last) else STAGED
    except CentralUnavailable as exc:
        _record_error(CentralBatch, batch.pk, exc)
        raise
    except (BatchRejected, CentralBadData, CentralRefused, DataError) as exc:
        batch_quarantine(CentralBatch.objects.get(pk=batch.pk), str(exc))
        return BatchState.QUARANTINED


def _copy_known_pages(batch: CentralBatch, client: CentralClient, missing: list[int], have: set) -> list[int]:
    """Take the pages the portal already holds with the same checksum (an earlier publication of the same
    families) from its own store instead of downloading them; returns the pages still to download. Only
    when the centre's list of page checksums adds up to the batch checksum it announced."""
    checksums = client.batch_page_checksums(batch.batch_id)
    if len(checksums) != batch.page_count or combined_checksum(checksums) != batch.checksum:
        return missing
    table = DownloadedPage._meta.db_table
    still = []
    with connection.cursor() as cursor:
        for number in missing:
            cursor.execute(
                f"INSERT INTO {table} (stream, ref, number, checksum, body, fetched_at) "  # noqa: S608 # nosec B608
                f"SELECT stream, %s, %s, checksum, body, %s FROM {table} WHERE stream = %s AND checksum = %s "
                f"LIMIT 1 ON CONFLICT DO NOTHING",
                [batch.batch_id, number, timezone.now(), DownloadedPage.Stream.BATCH, checksums[number - 1]])
            if cursor.rowcount:
                have.add(number)
                CentralBatch.objects.filter(pk=batch.pk).update(pages_done=len(have))
            else:
                still.append(number)
    return still


DOWNLOAD_AHEAD = 3  # page requests in flight while the current page is checked and stored


def _pages_ahead(client: CentralClient, batch_id: str, numbers: list[int]):
    """(number, page) in order, with a few requests ahead: the centre prepares the next pages while this
    process checks and stores the current one. The database is only touched by the caller's thread."""
    with ThreadPoolExecutor(max_workers=DOWNLOAD_AHEAD) as pool:
        upcoming = iter(numbers)
        pending = deque((n, pool.submit(client.batch_page, batch_id, n, decoded=False))
                        for n in itertools.islice(upcoming, DOWNLOAD_AHEAD))
        try:
            while pending:
                number, future = pending.popleft()
                page = future.result()
                following = next(upcoming, None)
                if following is not None:
                    pending.append((following, pool.submit(client.batch_page, batch_id, following, decoded=False)))
                yield number, page
        finally:
            for _number, future in pending:
                future.cancel()


def batch_sync(*, batch_pk: int, client: CentralClient) -> CentralBatch:
    """Download and apply one batch. Transient trouble raises ``CentralUnavailable`` (retry later);
    content that can never be applied holds the batch with the reason."""
    batch = CentralBatch.objects.get(pk=batch_pk)
    if batch.state in (BatchState.INGESTED, BatchState.QUARANTINED):
        return batch  # done, or waiting for a person to look at it
    CentralBatch.objects.filter(pk=batch.pk).update(attempts=batch.attempts + 1)
    try:
        batch_download(batch=batch, client=client)
        batch.start_ingest()
        batch.save(update_fields=["state", "updated_at"])
        result = ingest_batch(batch)
    except CentralUnavailable as exc:
        _record_error(CentralBatch, batch.pk, exc)
        raise
    except (BatchRejected, CentralBadData, CentralRefused) as exc:
        batch_quarantine(CentralBatch.objects.get(pk=batch.pk), str(exc))
        return CentralBatch.objects.get(pk=batch.pk)
    except (IntegrityError, DataError) as exc:
        # Clashes with the register are held family by family before the upsert (central.clashes); this
        # is the safety net for anything unforeseen: the whole batch rolled back and held with the reason.
        batch_quarantine(CentralBatch.objects.get(pk=batch.pk),
                         _("The register refused the batch: %(error)s") % {"error": str(exc).strip()})
        return CentralBatch.objects.get(pk=batch.pk)
    batch.refresh_from_db()
    batch.finish_ingest()
    batch.rounds_created = batch.rounds_created + result.rounds_created
    batch.families_changed = result.families_changed
    batch.rows_held = result.rows_held
    batch.families_unchecked = result.families_unchecked
    batch.ingested_at, batch.last_error = timezone.now(), ""
    if result.families_held or result.rows_held:
        log.warning("central batch %s: %d families held for Dinsos (clash with the register), %d held (breaking "
                    "the register's rules)", batch.batch_id, result.families_held, result.rows_held)
    batch.save(update_fields=["state", "rounds_created", "families_changed", "rows_held", "families_unchecked",
                              "ingested_at", "last_error", "updated_at"])
    return batch


def batches_pending() -> list[int]:
    return list(CentralBatch.objects.exclude(state__in=[BatchState.INGESTED, BatchState.QUARANTINED])
                .order_by("created_at").values_list("pk", flat=True))


def batch_retry(*, batch_id: int, actor) -> CentralBatch:
    """A Dinsos officer or administrator sends a held or stuck batch round again."""
    with transaction.atomic():
        batch = CentralBatch.objects.get(pk=batch_id)
        if not user_covers_code(actor, batch.regency_code):
            raise NotInScope(_("Not found."))
        if not (actor.is_administrator or actor.role in SYNC_ROLES):
            raise NotAllowed(_("Your role may not do this."))
        # The staging goes first: ranges being staged by other processes finish, then it is dropped (its lock
        # is held to the commit). Only then the batch's row, which those ranges update as they finish.
        stage_discard(batch)
        batch = CentralBatch.objects.select_for_update().get(pk=batch_id)
        if batch.state == BatchState.INGESTED:
            raise InvalidState(_("This batch is already applied."))
        problem = _batch_problem(batch)
        if problem:
            raise InvalidState(problem)
        # Pages that failed validation come again from the centre, in case it corrected them.
        DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id).delete()
        batch.restart()
        batch.pages_done = batch.rows_done = 0
        batch.save(update_fields=["state", "pages_done", "rows_done", "updated_at"])
    return batch


# -- pushing approved rounds -------------------------------------------------------------------------------
def submissions_push(*, client: CentralClient) -> dict:
    """Freeze a submission for every newly approved round, then send every page the centre has not
    confirmed yet. Returns counts."""
    prepared = submissions_prepare()
    sent = failed = cancelled = 0
    for submission in Submission.objects.filter(state__in=[Submission.State.PENDING, Submission.State.FAILED]) \
            .select_related("round").order_by("created_at", "pk"):
        if submission.round.state != RoundState.APPROVED:
            # Re-checked before it went up: the round's next approval sends its new state instead.
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.CANCELLED)
            cancelled += 1
            continue
        outcome = _submission_send(submission, client)
        sent += outcome == Submission.State.SENT
        failed += outcome in (Submission.State.FAILED, Submission.State.REJECTED)
    return {"prepared": prepared, "sent": sent, "failed": failed, "cancelled": cancelled}


def _submission_send(submission: Submission, client: CentralClient) -> str:
    """Send the pages after the last one the centre confirmed; the key is the same for every page and retry."""
    Submission.objects.filter(pk=submission.pk).update(attempts=submission.attempts + 1)
    receipt = {}
    for page in range(submission.pages_sent + 1, submission.page_count + 1):
        try:
            receipt = client.submit(idempotency_key=str(submission.idempotency_key),
                                    payload=page_body(submission, page))
        except CentralUnavailable as exc:
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.FAILED, last_error=str(exc))
            return Submission.State.FAILED
        except CentralRefused as exc:
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.REJECTED, last_error=str(exc))
            # The centre's message may quote an item (a name, a NIK): the log keeps its status and code only.
            log.warning("centre refused page %d of submission %s: %s %s", page, submission.pk, exc.status,
                        exc.code)
            return Submission.State.REJECTED
        Submission.objects.filter(pk=submission.pk).update(pages_sent=page,
                                                           receipt_id=str(receipt.get("receipt_id", "")))
    if receipt.get("status") == "incomplete":
        # The centre misses a page it confirmed earlier (its storage was reset, say): send them all again.
        Submission.objects.filter(pk=submission.pk).update(state=Submission.State.FAILED, pages_sent=0,
                                                           last_error=_("The centre is missing pages; resending."))
        return Submission.State.FAILED
    with transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(
            state=Submission.State.SENT, sent_at=timezone.now(), last_error="",
            receipt_id=str(receipt.get("receipt_id", submission.receipt_id)))
        _entries_answer(submission, received=True)
        CitizenReport.objects.filter(submission_items__submission=submission).update(
            centre_outcome=CentreOutcome.RECEIVED)
        if submission.round.state == RoundState.APPROVED:
            rounds.round_mark_sent(round_id=submission.round_id, note=_("Receipt %(receipt)s, %(pages)d page(s)") % {
                "receipt": receipt.get("receipt_id"), "pages": submission.page_count})
    return Submission.State.SENT


DECIDED = ("accepted", "partial", "rejected")


def submissions_check(*, client: CentralClient) -> dict:
    """Ask the centre about sent submissions; once it has decided, store its answer per item, give accepted
    usulan their new DTSEN id, and acknowledge the round."""
    answered = 0
    for submission in Submission.objects.filter(state=Submission.State.SENT).exclude(receipt_id="") \
            .select_related("round"):
        receipt = client.submission(submission.receipt_id)
        if receipt.get("status") not in DECIDED:
            continue
        outcomes, since = [], ""
        while True:
            answer = client.submission_outcomes(submission.receipt_id, since=since)
            outcomes.extend(answer.get("outcomes", []))
            previous, since = since, answer.get("next_cursor") or since
            if not _more(answer, previous, since):
                break
        submission_record_outcomes(submission=submission, outcomes=outcomes, decided=receipt.get("decided_at"))
        answered += 1
    return {"acknowledged": answered}


@transaction.atomic
def submission_record_outcomes(*, submission: Submission, outcomes: list[dict], decided: str | None = None) -> int:
    """Store the centre's answer per item (set-based), write it back where people look for it, and
    acknowledge the round. Returns how many items the answer named."""
    submission = Submission.objects.select_for_update(of=("self",)).select_related("round").get(pk=submission.pk)
    if submission.state != Submission.State.SENT:
        return 0  # answered already (a second worker, or a repeat)
    decided_at = parse_datetime(decided or "") or timezone.now()
    by_ref = {str(o.get("ref")): o for o in outcomes if isinstance(o, dict)}
    items = list(SubmissionItem.objects.filter(submission=submission, ref__in=list(by_ref)))
    for item in items:
        answer = by_ref[item.ref]
        accepted = answer.get("outcome") == "accepted"
        item.outcome = SubmissionItem.Outcome.ACCEPTED if accepted else SubmissionItem.Outcome.REJECTED
        item.reason = "" if accepted else str(answer.get("reason") or _("Rejected by the centre."))[:2000]
        item.central_id = str(answer.get("central_id") or "")[:32] if accepted else ""
        item.decided_at = decided_at
    SubmissionItem.objects.bulk_update(items, ["outcome", "reason", "central_id", "decided_at"], batch_size=2000)
    _link_accepted_proposals(submission)
    _entries_answer(submission)
    _reports_answer(submission)
    Submission.objects.filter(pk=submission.pk).update(state=Submission.State.ACKNOWLEDGED,
                                                       acknowledged_at=timezone.now())
    if submission.round.state == RoundState.SENT and submission.approval_id == _latest_approval_id(submission.round):
        rounds.round_acknowledge(round_id=submission.round_id, note=_("Receipt %(receipt)s answered") % {
            "receipt": submission.receipt_id})
    return len(items)


def _latest_approval_id(round_: VerificationRound) -> int | None:
    return round_.events.filter(to_state=RoundState.APPROVED).order_by("-id").values_list("id", flat=True).first()


def _link_accepted_proposals(submission: Submission) -> None:
    """An accepted usulan is the centre's family from now on: it takes the new DTSEN id, so the next batch
    or publication naming that id updates it instead of creating a duplicate."""
    accepted = dict(SubmissionItem.objects.filter(
        submission=submission, kind=SubmissionItem.Kind.PROPOSAL, outcome=SubmissionItem.Outcome.ACCEPTED,
        family__central_id__isnull=True).exclude(central_id="").values_list("family_id", "central_id"))
    taken = set(Family.objects.filter(central_id__in=list(accepted.values())).values_list("central_id", flat=True))
    families = list(Family.objects.filter(pk__in=[pk for pk, cid in accepted.items() if cid not in taken]))
    for family in families:
        family.central_id = accepted[family.pk]
    bulk_update_with_history(families, Family, ["central_id"], batch_size=500,
                             default_change_reason=_("usulan accepted by the centre (receipt %(receipt)s)")
                             % {"receipt": submission.receipt_id})


def _entries_answer(submission: Submission, *, received: bool = False) -> None:
    """Each family of the round gets one summary of what the centre did with its items."""
    now = timezone.now()
    per_entry = (SubmissionItem.objects.filter(submission=submission, entry__isnull=False).values("entry_id")
                 .annotate(total=Count("id"), accepted=Count("id", filter=Q(outcome="accepted")),
                           rejected=Count("id", filter=Q(outcome="rejected"))))
    reasons = defaultdict(list)
    if not received:
        for entry_id, kind, reason in SubmissionItem.objects.filter(
                submission=submission, outcome=SubmissionItem.Outcome.REJECTED, entry__isnull=False) \
                .order_by("id").values_list("entry_id", "kind", "reason"):
            reasons[entry_id].append(f"{SubmissionItem.Kind(kind).label}: {reason}")
    rows = list(per_entry)
    # Whole rows, so that each history record (the family's decision history shows the centre's answer) keeps
    # the decision beside the answer.
    current = RoundFamily.objects.in_bulk([row["entry_id"] for row in rows])
    entries = []
    for row in rows:
        if received:
            outcome = CentreOutcome.RECEIVED
        elif row["rejected"] == 0:
            outcome = CentreOutcome.ACCEPTED
        elif row["accepted"] == 0:
            outcome = CentreOutcome.REJECTED
        else:
            outcome = CentreOutcome.PARTIAL
        entry = current[row["entry_id"]]
        reason = "; ".join(reasons[row["entry_id"]])[:2000]
        if (entry.centre_outcome, entry.centre_reason, entry.centre_answered_at is None) == (outcome, reason,
                                                                                            received):
            continue  # the same answer again (asked twice): no second history record
        entry.centre_outcome, entry.centre_reason = outcome, reason
        entry.centre_answered_at = None if received else now
        entries.append(entry)
    bulk_update_with_history(entries, RoundFamily, ["centre_outcome", "centre_reason", "centre_answered_at"],
                             batch_size=2000, default_change_reason=_centre_reason(submission))


def _centre_reason(submission: Submission) -> str:
    return (_("the centre's answer (receipt %(receipt)s)") % {"receipt": submission.receipt_id or "-"})[:100]


def _reports_answer(submission: Submission) -> None:
    """A citizen follows their report by its reference number: it shows how it ended at the centre."""
    answers = list(SubmissionItem.objects.filter(submission=submission, kind=SubmissionItem.Kind.REPORT,
                                                 report__isnull=False)
                   .values_list("report_id", "outcome", "reason", "decided_at"))
    current = CitizenReport.objects.in_bulk([report_id for report_id, *_rest in answers])
    reports = []
    for report_id, outcome, reason, decided_at in answers:
        answered = outcome in (SubmissionItem.Outcome.ACCEPTED, SubmissionItem.Outcome.REJECTED)
        report = current[report_id]
        answer = (outcome if answered else CentreOutcome.RECEIVED, reason, decided_at)
        if (report.centre_outcome, report.centre_reason, report.centre_answered_at) == answer:
            continue
        report.centre_outcome, report.centre_reason, report.centre_answered_at = answer
        reports.append(report)
    bulk_update_with_history(reports, CitizenReport, ["centre_outcome", "centre_reason", "centre_answered_at"],
                             default_change_reason=_centre_reason(submission))


# -- determinations and desil ------------------------------------------------------------------------------
def determinations_pull(*, client: CentralClient, regency: str = "") -> dict:
    """Record the centre's KPM determinations since the last look (each once, by its id)."""
    cursor = _cursor(f"determinations:{regency}" if regency else "determinations")
    created = 0
    while True:
        previous = cursor.cursor
        answer = client.determinations(since=cursor.cursor, regency=regency)
        items = answer.get("determinations", [])
        families = dict(Family.objects.filter(central_id__in=[i.get("central_id") for i in items])
                        .values_list("central_id", "id"))
        known_villages = set(Region.objects.filter(code__in=[i.get("village_code") for i in items])
                             .values_list("code", flat=True))
        rows = [Determination(
            determination_id=i["determination_id"], central_id=i["central_id"],
            family_id=families.get(i["central_id"]), village_id=i["village_code"], programme=i["programme"],
            period=i["period"], status=i.get("status", "kpm"), receipt_id=i.get("receipt_id", ""))
            for i in items if i.get("village_code") in known_villages]
        with transaction.atomic():
            before = Determination.objects.count()
            # A determination the centre withdrew (a round re-checked and approved again) comes again with
            # its new status: the status follows, nothing else of a recorded determination changes.
            Determination.objects.bulk_create(rows, update_conflicts=True, unique_fields=["determination_id"],
                                              update_fields=["status"])
            created += Determination.objects.count() - before
            cursor.cursor = answer.get("next_cursor") or cursor.cursor
            cursor.save(update_fields=["cursor", "updated_at"])
        if not _more(answer, previous, cursor.cursor):
            return {"determinations_new": created}


def desil_pull(*, client: CentralClient) -> dict:
    """Download and apply every desil publication not applied yet (pages resumable, checksum verified)."""
    from .desil import apply_publication

    cursor = _cursor("desil")
    while True:
        previous = cursor.cursor
        answer = client.desil_publications(since=cursor.cursor)
        with transaction.atomic():
            for item in answer.get("publications", []):
                DesilPublication.objects.update_or_create(
                    period=dt.date.fromisoformat(item["period"]),
                    defaults={"row_count": item.get("row_count", 0), "page_count": item.get("page_count", 0),
                              "checksum": item.get("checksum", ""), "state": DesilPublication.State.DISCOVERED})
            cursor.cursor = answer.get("next_cursor") or cursor.cursor
            cursor.save(update_fields=["cursor", "updated_at"])
        if not _more(answer, previous, cursor.cursor):
            break
    applied = 0
    for publication in DesilPublication.objects.filter(state=DesilPublication.State.DISCOVERED).order_by("period"):
        DesilPublication.objects.filter(pk=publication.pk).update(attempts=publication.attempts + 1)
        try:
            applied += apply_publication(publication=publication, client=client)
        except CentralUnavailable as exc:
            _record_error(DesilPublication, publication.pk, exc)
            raise
        except (BatchRejected, CentralBadData, CentralRefused) as exc:
            DesilPublication.objects.filter(pk=publication.pk).update(
                state=DesilPublication.State.QUARANTINED, last_error=str(exc))
    return {"families_ranked": applied}


# -- the local picture -------------------------------------------------------------------------------------
def sync_status() -> dict:
    """Local counts, as ``sync_central status`` prints them."""
    from registry.models import Member

    by_state = dict(VerificationRound.objects.values_list("state").annotate(n=Count("id")).order_by())
    batches = dict(CentralBatch.objects.values_list("state").annotate(n=Count("id")).order_by())
    submissions = dict(Submission.objects.values_list("state").annotate(n=Count("id")).order_by())
    items: dict[str, dict[str, int]] = {kind: dict.fromkeys(SubmissionItem.Outcome.values, 0)
                                        for kind in SubmissionItem.Kind.values}
    for kind, outcome, n in SubmissionItem.objects.exclude(submission__state=Submission.State.CANCELLED) \
            .values_list("kind", "outcome").annotate(n=Count("id")).order_by():
        items[kind][outcome] = n
    return {
        "families": Family.objects.count(),
        "members": Member.objects.count(),
        "batches": {"total": sum(batches.values()), **batches},
        "rounds": {"total": sum(by_state.values()), **by_state},
        "submissions": {
            "pending": submissions.get(Submission.State.PENDING, 0) + submissions.get(Submission.State.SENT, 0),
            "acknowledged": submissions.get(Submission.State.ACKNOWLEDGED, 0),
            "failed": submissions.get(Submission.State.FAILED, 0) + submissions.get(Submission.State.REJECTED, 0),
            "cancelled": submissions.get(Submission.State.CANCELLED, 0),
        },
        # What went up, by kind, and what the centre did with it (pending = sent or waiting, not answered yet).
        "submitted_items": items,
        "held_families": BatchClash.objects.filter(state=BatchClash.State.HELD)
        .exclude(kind=BatchClash.Kind.SIMILAR).count(),
        "likely_duplicates": BatchClash.objects.filter(state=BatchClash.State.HELD,
                                                       kind=BatchClash.Kind.SIMILAR).count(),
        "determinations": Determination.objects.count(),
        "desil_publications": DesilPublication.objects.filter(state=DesilPublication.State.APPLIED).count(),
    }
