"""State changes of the central sync: discover and download batches, apply them, push approved rounds,
pull determinations and desil publications. The Celery tasks and ``sync_central`` call these same verbs.

Every verb is safe to repeat: a batch or page seen twice changes nothing, a push re-sent after a lost
acknowledgement carries the same idempotency key, and a failure leaves recorded state (attempts, last
error) from which the next run continues.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from django.db import DataError, IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.scope import user_covers_code
from distribution.models import Determination
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from registry.models import Family, Region
from verification import services as rounds
from verification.models import RoundFamily, RoundState, VerificationRound
from verification.services import CYCLE_RE

from .client import CentralBadData, CentralClient, CentralRefused, CentralUnavailable
from .ingest import BatchRejected, ingest_batch
from .models import BatchState, CentralBatch, DesilPublication, DownloadedPage, Submission, SyncCursor
from .protocol import PROGRAMMES, combined_checksum

log = logging.getLogger(__name__)
SYNC_ROLES = (Role.DINSOS, Role.ADMIN)


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
        if not answer.get("has_more"):
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
    log.warning("central batch %s held: %s", batch.batch_id, reason)


def batch_download(*, batch: CentralBatch, client: CentralClient) -> None:
    """Fetch the pages not yet stored (a restart resumes here), then check the whole batch's checksum."""
    if batch.state not in (BatchState.DISCOVERED, BatchState.DOWNLOADING):
        return  # downloaded already (a worker lost during the ingest picks up from there)
    if batch.state == BatchState.DISCOVERED:
        batch.start_download()
        batch.save(update_fields=["state", "updated_at"])
    have = set(DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id)
               .values_list("number", flat=True))
    for number in range(1, batch.page_count + 1):
        if number in have:
            continue
        page = client.batch_page(batch.batch_id, number)
        DownloadedPage.for_rows(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id, number=number,
                                checksum=page["checksum"], rows=page["families"]).save_once()
        CentralBatch.objects.filter(pk=batch.pk).update(pages_done=len(have) + 1)
        have.add(number)
    pages = list(DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id)
                 .order_by("number").values_list("checksum", flat=True))
    if combined_checksum(pages) != batch.checksum:
        raise BatchRejected(_("The downloaded pages do not add up to the batch checksum the centre announced."))
    batch.refresh_from_db()
    batch.finish_download()
    batch.save(update_fields=["state", "updated_at"])


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
    batch.ingested_at, batch.last_error = timezone.now(), ""
    if result.families_held:
        log.warning("central batch %s: %d families held for Dinsos (clash with the register)", batch.batch_id,
                    result.families_held)
    batch.save(update_fields=["state", "rounds_created", "families_changed", "ingested_at", "last_error",
                              "updated_at"])
    return batch


def batches_pending() -> list[int]:
    return list(CentralBatch.objects.exclude(state__in=[BatchState.INGESTED, BatchState.QUARANTINED])
                .order_by("created_at").values_list("pk", flat=True))


def batch_retry(*, batch_id: int, actor) -> CentralBatch:
    """A Dinsos officer or administrator sends a held or stuck batch round again."""
    with transaction.atomic():
        batch = CentralBatch.objects.select_for_update().get(pk=batch_id)
        if not user_covers_code(actor, batch.regency_code):
            raise NotInScope(_("Not found."))
        if not (actor.is_administrator or actor.role in SYNC_ROLES):
            raise NotAllowed(_("Your role may not do this."))
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
def submission_payload(round_: VerificationRound) -> dict:
    entries = (RoundFamily.objects.filter(round=round_).select_related("family")
               .order_by("family__central_id").values_list("family__central_id", "decision", "reason", "note"))
    return {
        "batch_id": round_.batch_ref, "round_ref": str(round_.public_id), "village_code": round_.village_id,
        "programme": round_.programme,
        "results": [{"central_id": central_id, "decision": decision or "eligible", "reason": reason,
                     "corrections": {}, "note": note}
                    for central_id, decision, reason, note in entries if central_id],
        "proposals": [],
    }


def submissions_push(*, client: CentralClient) -> dict:
    """Send every approved round that the centre has not yet received. Returns counts."""
    for round_id in VerificationRound.objects.filter(state=RoundState.APPROVED, submissions__isnull=True) \
            .values_list("pk", flat=True):
        # Created and committed before the first attempt: the key survives a crash mid-push.
        Submission.objects.get_or_create(round_id=round_id)
    sent = failed = 0
    for submission in Submission.objects.filter(state__in=[Submission.State.PENDING, Submission.State.FAILED]) \
            .select_related("round"):
        payload = submission_payload(submission.round)
        Submission.objects.filter(pk=submission.pk).update(attempts=submission.attempts + 1)
        try:
            receipt = client.submit(idempotency_key=str(submission.idempotency_key), payload=payload)
        except CentralUnavailable as exc:
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.FAILED, last_error=str(exc))
            failed += 1
            continue
        except CentralRefused as exc:
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.REJECTED, last_error=str(exc))
            failed += 1
            continue
        with transaction.atomic():
            Submission.objects.filter(pk=submission.pk).update(
                state=Submission.State.SENT, receipt_id=receipt.get("receipt_id", ""), sent_at=timezone.now(),
                result_count=len(payload["results"]), last_error="")
            if submission.round.state == RoundState.APPROVED:
                rounds.round_mark_sent(round_id=submission.round_id,
                                       note=_("Receipt %(receipt)s") % {"receipt": receipt.get("receipt_id")})
        sent += 1
    return {"sent": sent, "failed": failed}


def submissions_check(*, client: CentralClient) -> dict:
    """Ask the centre about sent submissions; an accepted one acknowledges its round."""
    acknowledged = 0
    for submission in Submission.objects.filter(state=Submission.State.SENT).exclude(receipt_id=""):
        status = client.submission(submission.receipt_id).get("status")
        if status == "accepted":
            with transaction.atomic():
                Submission.objects.filter(pk=submission.pk).update(state=Submission.State.ACKNOWLEDGED,
                                                                   acknowledged_at=timezone.now())
                rounds.round_acknowledge(round_id=submission.round_id)
            acknowledged += 1
        elif status == "rejected":
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.REJECTED,
                                                               last_error=_("Rejected by the centre."))
    return {"acknowledged": acknowledged}


# -- determinations and desil ------------------------------------------------------------------------------
def determinations_pull(*, client: CentralClient, regency: str = "") -> dict:
    """Record the centre's KPM determinations since the last look (each once, by its id)."""
    cursor = _cursor(f"determinations:{regency}" if regency else "determinations")
    created = 0
    while True:
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
            Determination.objects.bulk_create(rows, ignore_conflicts=True)
            created += Determination.objects.count() - before
            cursor.cursor = answer.get("next_cursor") or cursor.cursor
            cursor.save(update_fields=["cursor", "updated_at"])
        if not answer.get("has_more"):
            return {"determinations_new": created}


def desil_pull(*, client: CentralClient) -> dict:
    """Download and apply every desil publication not applied yet (pages resumable, checksum verified)."""
    from .desil import apply_publication

    cursor = _cursor("desil")
    while True:
        answer = client.desil_publications(since=cursor.cursor)
        with transaction.atomic():
            for item in answer.get("publications", []):
                DesilPublication.objects.update_or_create(
                    period=dt.date.fromisoformat(item["period"]),
                    defaults={"row_count": item.get("row_count", 0), "page_count": item.get("page_count", 0),
                              "checksum": item.get("checksum", ""), "state": DesilPublication.State.DISCOVERED})
            cursor.cursor = answer.get("next_cursor") or cursor.cursor
            cursor.save(update_fields=["cursor", "updated_at"])
        if not answer.get("has_more"):
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
    return {
        "families": Family.objects.count(),
        "members": Member.objects.count(),
        "batches": {"total": sum(batches.values()), **batches},
        "rounds": {"total": sum(by_state.values()), **by_state},
        "submissions": {
            "pending": submissions.get(Submission.State.PENDING, 0) + submissions.get(Submission.State.SENT, 0),
            "acknowledged": submissions.get(Submission.State.ACKNOWLEDGED, 0),
            "failed": submissions.get(Submission.State.FAILED, 0) + submissions.get(Submission.State.REJECTED, 0),
        },
        "determinations": Determination.objects.count(),
        "desil_publications": DesilPublication.objects.filter(state=DesilPublication.State.APPLIED).count(),
    }
