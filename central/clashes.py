"""Families of a central batch that clash with the register, held on their own for Dinsos to resolve.

A family of a batch *clashes* when its KK number is held in the register by a family with another (or no)
DTSEN id, or when a member's NIK is held by a member of such a family that the batch does not also bring
(a person the batch moves between two families it brings is an ordinary move). Detection runs inside the
ingest's transaction, after validation and before the upsert, as a handful of set-based statements; each
clashing family becomes one ``BatchClash`` (the centre's document as it was sent, a snapshot of the
register's family with its members, the reason) and is left out of the upsert and of the rounds. So one
clash no longer holds a whole regency; a batch whose structure is broken is still held whole by the ingest.

An usulan (origin proposal, no DTSEN id) whose KK number the batch names is not a clash: it is the
centre's answer to the village's proposal, so the family takes the batch's DTSEN id (audited) and is then
updated like any other family; no second family is created.

``clash_resolve`` is Dinsos's decision on one held family: take the centre's version, keep the register's,
or record the centre's family as a duplicate of the register's.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from accounts.models import Role
from accounts.scope import user_covers_code
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from registry import duplicates
from registry.models import Family, Member
from registry.services import desil_record
from verification.models import EDITABLE_STATES, RoundFamily, VerificationRound

from .ingest import (
    ATTR_FIELDS,
    FAMILY_COLUMNS,
    MEMBER_COLUMNS,
    NEW_IDS_KEPT,
    NewRows,
    history_sql,
    set_rounds_calendar,
)
from .models import BatchClash, CentralBatch, DownloadedPage

log = logging.getLogger(__name__)

REASON_LIMIT = 100  # history_change_reason is a varchar(100)
ID_MARK = "@ID@"  # replaced by each family's DTSEN id inside the link statement


class _Candidate(NamedTuple):
    """One reason a batch family clashes: its KK, or one member's NIK, held by a register family."""

    central_id: str
    village_id: str
    page: int
    kk_number: str
    kind: str  # BatchClash.Kind
    nik: str
    family_id: int
    family_kk: str
    family_central_id: str | None


# -- detection: PostgreSQL staging path --------------------------------------------------------------------
def _link_sql() -> str:
    table = Family._meta.db_table
    return (
        f"WITH linked AS (UPDATE {table} f SET central_id = s.central_id, version = f.version + 1, "  # nosec B608
        f"updated_at = now() FROM central_stage_family s "
        f"WHERE f.kk_number = s.kk_number AND f.central_id IS NULL AND f.origin = %s "
        # An id the register already gives another family makes this a KK clash, not a link.
        f"AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.central_id = s.central_id) RETURNING f.*) "
        + history_sql(Family, "linked", reason_sql=f"left(replace(%s, '{ID_MARK}', central_id), {REASON_LIMIT})"))


def _candidates_sql() -> str:
    family, member = Family._meta.db_table, Member._meta.db_table
    return (
        f"SELECT s.central_id, s.village_id, s.page, s.kk_number, 'kk', '', f.id, f.kk_number, f.central_id "  # nosec B608
        f"FROM central_stage_family s JOIN {family} f ON f.kk_number = s.kk_number "
        f"WHERE f.central_id IS DISTINCT FROM s.central_id "
        f"UNION ALL "
        f"SELECT s.central_id, s.village_id, s.page, s.kk_number, 'nik', sm.nik, f.id, f.kk_number, f.central_id "
        f"FROM central_stage_member sm JOIN {member} m ON m.nik = sm.nik JOIN {family} f ON f.id = m.family_id "
        f"JOIN central_stage_family s ON s.central_id = sm.central_id "
        f"WHERE f.central_id IS DISTINCT FROM sm.central_id "
        f"AND NOT EXISTS (SELECT 1 FROM central_stage_family b WHERE b.central_id = f.central_id) "
        f"ORDER BY 1, 5, 6")


def clashes_hold_sql(cursor, batch: CentralBatch) -> int:
    """Link usulan, record the clashing families of the staged batch and take them out of staging.
    Runs inside the ingest's transaction; returns how many families are held."""
    # No ANALYZE of the staging tables: measured, it costs seconds and the joins below are hash joins anyway.
    cursor.execute(_link_sql(), [Family.Origin.PROPOSAL, _link_reason(ID_MARK)])
    cursor.execute(_candidates_sql())
    candidates = [_Candidate(*row) for row in cursor.fetchall()]
    if not candidates:
        return 0
    held = sorted(_hold(batch, candidates))
    cursor.execute("DELETE FROM central_stage_member WHERE central_id = ANY(%s)", [held])
    cursor.execute("DELETE FROM central_stage_family WHERE central_id = ANY(%s)", [held])
    return len(held)


# -- detection: the ORM path (SQLite demo) -----------------------------------------------------------------
def _chunks(values: list, size: int | None = None):
    # SQLite limits the parameters of one statement; IN lists go in slices below that limit.
    size = size or max(100, min(connection.features.max_query_params or 10_000, 10_000) - 10)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def clashes_hold_orm(batch: CentralBatch, families: list[tuple], members: list[tuple]) \
        -> tuple[list[tuple], list[tuple], int]:
    """The same as ``clashes_hold_sql`` over the validated rows in memory: returns the families and members
    to apply and how many families are held."""
    by_kk = {row[1]: row for row in families}
    in_batch = {row[0] for row in families}
    _link_orm(by_kk)
    page_at = len(FAMILY_COLUMNS) + 3
    candidates = []
    for kks in _chunks(list(by_kk)):
        for family_id, kk, central_id in Family.objects.filter(kk_number__in=kks) \
                .values_list("id", "kk_number", "central_id"):
            row = by_kk[kk]
            if central_id != row[0]:
                candidates.append(_Candidate(row[0], row[2], row[page_at], kk, BatchClash.Kind.KK, "", family_id,
                                             kk, central_id))
    by_central_id = {row[0]: row for row in families}
    owner = {m[1]: m[0] for m in members}
    for niks in _chunks(list(owner)):
        for nik, family_id, kk, central_id in Member.objects.filter(nik__in=niks) \
                .values_list("nik", "family_id", "family__kk_number", "family__central_id"):
            row = by_central_id[owner[nik]]
            if central_id != row[0] and central_id not in in_batch:
                candidates.append(_Candidate(row[0], row[2], row[page_at], row[1], BatchClash.Kind.NIK, nik,
                                             family_id, kk, central_id))
    if not candidates:
        return families, members, 0
    candidates.sort(key=lambda c: (c.central_id, c.kind, c.nik))
    held = _hold(batch, candidates)
    return ([row for row in families if row[0] not in held], [row for row in members if row[0] not in held],
            len(held))


def _link_orm(by_kk: dict[str, tuple]) -> int:
    proposals = [pk_kk for kks in _chunks(list(by_kk)) for pk_kk in Family.objects.filter(
        kk_number__in=kks, central_id__isnull=True, origin=Family.Origin.PROPOSAL).values_list("id", "kk_number")]
    if not proposals:
        return 0
    taken = set(Family.objects.filter(central_id__in=[by_kk[kk][0] for _pk, kk in proposals])
                .values_list("central_id", flat=True))
    linked = list(Family.objects.filter(pk__in=[pk for pk, kk in proposals if by_kk[kk][0] not in taken]))
    now = timezone.now()
    for family in linked:
        family.central_id = by_kk[family.kk_number][0]
        family.version += 1
        family.updated_at = now
        family._change_reason = _link_reason(family.central_id)
    bulk_update_with_history(linked, Family, ["central_id", "version", "updated_at"])
    return len(linked)


def _link_reason(central_id: str) -> str:
    return (_("usulan linked to DTSEN id %(id)s") % {"id": central_id})[:REASON_LIMIT]


# -- recording the held families (both paths) --------------------------------------------------------------
def _hold(batch: CentralBatch, candidates: list[_Candidate]) -> set[str]:
    """One BatchClash per clashing family (a second ingest of the batch adds nothing); returns their ids."""
    by_family: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_family[candidate.central_id].append(candidate)
    snapshots = register_snapshots({c.family_id for c in candidates})
    documents = _centre_documents(batch, {c.page for c in candidates}, set(by_family))
    clashes = []
    for central_id, reasons in by_family.items():
        main = next((c for c in reasons if c.kind == BatchClash.Kind.KK), reasons[0])
        document = documents.get(central_id) or {"central_id": central_id}
        clashes.append(BatchClash(
            batch=batch, central_id=central_id, village_id=main.village_id, kind=main.kind,
            reason=" ".join(_reason(c, document, snapshots[c.family_id]) for c in reasons),
            central_version=document, register_family_id=main.family_id,
            register_version=snapshots[main.family_id]))
    BatchClash.objects.bulk_create(clashes, ignore_conflicts=True)  # ON CONFLICT (batch, central_id) DO NOTHING
    return set(by_family)


def _centre_documents(batch: CentralBatch, pages: set[int], central_ids: set[str]) -> dict[str, dict]:
    """The held families' documents as the centre sent them, read back from their (few) stored pages."""
    documents = {}
    for body in DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id,
                                              number__in=pages).values_list("body", flat=True):
        for document in json.loads(body):
            if isinstance(document, dict) and document.get("central_id") in central_ids:
                documents[document["central_id"]] = document
    return documents


def _json_value(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


SNAPSHOT_FIELDS = ["id", "central_id", "kk_number", "origin", "village_id", "dusun", "rt", "rw", "address",
                   "latitude", "longitude", "desil", *ATTR_FIELDS]


def register_snapshots(family_ids) -> dict[int, dict]:
    """The register's families with their members, shaped like the centre's documents (two queries)."""
    snapshots = {}
    for row in Family.objects.filter(pk__in=family_ids).values(*SNAPSHOT_FIELDS):
        snapshots[row["id"]] = {
            "family_id": row["id"], "central_id": row["central_id"], "kk_number": row["kk_number"],
            "origin": row["origin"], "village_code": row["village_id"],
            **{name: _json_value(row[name]) for name in ("dusun", "rt", "rw", "address", "latitude", "longitude",
                                                         "desil")},
            "attrs": {name: row[name] for name in ATTR_FIELDS}, "members": []}
    for row in Member.objects.filter(family_id__in=family_ids).order_by("family_id", "birth_date", "nik") \
            .values("family_id", *MEMBER_COLUMNS, "life_event_date"):
        snapshots[row.pop("family_id")]["members"].append({k: _json_value(v) for k, v in row.items()})
    return snapshots


def _head_name(members: list[dict]) -> str:
    heads = [m for m in members if m.get("relationship") == Member.Relationship.HEAD] or members
    return heads[0].get("name", "-") if heads else "-"


def describe_family(snapshot: dict) -> str:
    """How a reason names a register family: its head, KK number and DTSEN id (or its origin)."""
    if snapshot.get("central_id"):
        identity = _("DTSEN id %(id)s") % {"id": snapshot["central_id"]}
    else:
        identity = _("no DTSEN id, %(origin)s") % {"origin": Family.Origin(snapshot["origin"]).label}
    return _("the family of %(head)s (KK %(kk)s, %(identity)s)") % {
        "head": _head_name(snapshot["members"]), "kk": snapshot["kk_number"], "identity": identity}


def _reason(candidate: _Candidate, document: dict, snapshot: dict) -> str:
    if candidate.kind == BatchClash.Kind.KK:
        return _("KK number %(kk)s is already held in the register by another family: %(family)s.") % {
            "kk": candidate.kk_number, "family": describe_family(snapshot)}
    name = next((m.get("name", "") for m in document.get("members") or [] if m.get("nik") == candidate.nik), "")
    return _("NIK %(nik)s (%(name)s) is already held in the register by a member of another family: "
             "%(family)s.") % {"nik": candidate.nik, "name": name, "family": describe_family(snapshot)}


# -- likely duplicates among the families a batch added ---------------------------------------------------
def likely_duplicates_hold(cursor, batch: CentralBatch, new: NewRows) -> tuple[int, int]:
    """Record, as adjudication items, the families the batch added that are likely the same as a family the
    register already held (or as another family of the batch). They stay applied: nothing is overwritten or
    held back, Dinsos decides. Runs inside the ingest's transaction (the staging tables on its search path);
    returns (items recorded, families left uncompared because the batch added more than ``NEW_IDS_KEPT``)."""
    if new.count > NEW_IDS_KEPT:
        log.info("central batch %s added %d families: left to the regency-wide duplicate scan", batch.batch_id,
                 new.count)
        return 0, new.count
    best: dict[int, duplicates.Pair] = {}
    for pair in duplicates.likely_duplicates(new.ids, batch.regency_code):
        best.setdefault(pair.family_a, pair)  # most likely first: one item per added family
    if not best:
        return 0, 0
    added = {row["id"]: row for row in Family.objects.filter(pk__in=best)
             .values("id", "central_id", "village_id")}
    cursor.execute("SELECT central_id, page FROM central_stage_family WHERE central_id = ANY(%s)",
                   [[row["central_id"] for row in added.values()]])
    pages = dict(cursor.fetchall())
    documents = _centre_documents(batch, set(pages.values()), set(pages))
    snapshots = register_snapshots({p.family_b for p in best.values()})
    items = []
    for family_id, pair in best.items():
        row = added[family_id]
        items.append(BatchClash(
            batch=batch, central_id=row["central_id"], village_id=row["village_id"], kind=BatchClash.Kind.SIMILAR,
            reason=similar_reason(pair, snapshots[pair.family_b]),
            central_version=documents.get(row["central_id"]) or {"central_id": row["central_id"]},
            batch_family_id=family_id, register_family_id=pair.family_b, likelihood=pair.likelihood,
            register_version=snapshots[pair.family_b]))
    BatchClash.objects.bulk_create(items, ignore_conflicts=True)
    return len(items), 0


def similar_reason(pair: duplicates.Pair, snapshot: dict) -> str:
    return _("Likely the same family as %(family)s (likelihood %(likelihood)s): %(reasons)s.") % {
        "family": describe_family(snapshot), "likelihood": number_format(pair.likelihood, 2),
        "reasons": ", ".join(str(duplicates.REASONS[r]) for r in pair.reasons)}


# -- resolution --------------------------------------------------------------------------------------------
RESOLVER_ROLES = (Role.DINSOS, Role.ADMIN)


@transaction.atomic
def clash_resolve(*, actor, clash_id: int, resolution: str, note: str) -> BatchClash:
    """Dinsos (of the clash's regency) or an administrator decides on one held family, with a note.

    - ``take_centre``: the register yields. On a KK clash the register's family takes the centre's
      identity and data; on a NIK clash the centre's family is added. Either way the centre's members are
      upserted into it (a NIK of another family moves, with history; members the centre does not list
      stay for the village to verify) and the family joins the batch's verification round of its village.
    - ``keep_register``: nothing in the register changes; the centre's family stays out.
    - ``duplicate``: the centre's family is recorded as a duplicate of ``register_family`` and stays out.

    A likely duplicate (kind ``similar``, the batch's family already in the register):

    - ``keep_both``: they are different families; nothing changes.
    - ``merge``: the batch's family is merged into the register's (``merge_families``); refused, nothing
      changed, when their members clash.
    - ``duplicate``: the batch's family leaves the batch's verval round, so it is not verified (nor paid)
      twice; it stays in the register, recorded as the duplicate.

    Two people deciding the same item at once: the first wins, the second is told who decided what.
    """
    clash = BatchClash.objects.select_for_update(of=("self",)).select_related("batch").filter(pk=clash_id).first()
    if clash is None or not user_covers_code(actor, clash.village_id):
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role in RESOLVER_ROLES):
        raise NotAllowed(_("Only Dinas Sosial staff of the regency or an administrator may resolve a clash."))
    if clash.state != BatchClash.State.HELD:
        raise InvalidState(_("This clash was already resolved (%(resolution)s) by %(who)s.") % {
            "resolution": clash.get_resolution_display(), "who": _user_name(clash.resolved_by)})
    if resolution not in clash.resolutions:
        raise InvalidState(_("Choose how to resolve the clash."),
                           field_errors={"resolution": [_("Choose how to resolve the clash.")]})
    note = (note or "").strip()
    if not note:
        raise InvalidState(_("Write a note saying why you chose this."),
                           field_errors={"note": [_("Write a note saying why you chose this.")]})
    if resolution == BatchClash.Resolution.TAKE_CENTRE:
        _take_centre(clash, actor)
    elif resolution == BatchClash.Resolution.DUPLICATE and clash.register_family_id is None:
        raise InvalidState(_("The register's family of this clash no longer exists; it cannot be a duplicate."))
    elif clash.kind == BatchClash.Kind.SIMILAR and resolution != BatchClash.Resolution.KEEP_BOTH:
        if clash.batch_family_id is None or clash.register_family_id is None:
            raise InvalidState(_("One of the two families no longer exists in the register; keep both."))
        reason = (_("adjudication %(item)s: %(decision)s") % {
            "item": clash.pk, "decision": BatchClash.Resolution(resolution).label})[:REASON_LIMIT]
        if resolution == BatchClash.Resolution.MERGE:
            merge_families(kept_id=clash.register_family_id, merged_id=clash.batch_family_id, actor=actor,
                           reason=reason)
        else:
            _leave_batch_rounds(clash, actor, reason)
    clash.state, clash.resolution, clash.note = BatchClash.State.RESOLVED, resolution, note
    clash.resolved_by, clash.resolved_at = actor, timezone.now()
    clash.save(update_fields=["state", "resolution", "note", "resolved_by", "resolved_at"])
    return clash


def _leave_batch_rounds(clash: BatchClash, actor, reason: str) -> None:
    """The batch's family leaves the verval rounds of the batch (with history), unless a round has moved on."""
    links = list(RoundFamily.objects.select_for_update(of=("self",)).select_related("round", "round__village")
                 .filter(family_id=clash.batch_family_id, round__batch_ref=clash.batch.batch_id))
    for link in links:
        if link.round.state not in EDITABLE_STATES:
            raise InvalidState(_(
                "The verval round of %(village)s is %(state)s; the family can no longer leave it. Return the "
                "round to the village first.") % {"village": link.round.village.display_name,
                                                 "state": link.round.get_state_display()})
    for link in links:  # a family is in one round of a batch
        link._history_user, link._change_reason = actor, reason
        link.delete()


def member_clashes(kept: Family, merged: Family) -> tuple[dict[int, int], list[str]]:
    """How the members of ``merged`` meet those of ``kept``: which are the same person (member id of merged
    -> member id of kept: a name alike, the same sex, the birth date within the tolerance), and the clashes
    that forbid a merge: a name alike with another sex or birth date, or two heads."""
    people = list(Member.objects.filter(family_id__in=[kept.pk, merged.pk]).order_by("pk"))
    theirs_all = [m for m in people if m.family_id == merged.pk]
    ours_all = [m for m in people if m.family_id == kept.pk]
    same: dict[int, int] = {}
    problems = []
    for i, j, _score in duplicates.alike_names([m.name for m in theirs_all], [m.name for m in ours_all],
                                               duplicates.SAME_PERSON_NAME):
        theirs, ours = theirs_all[i], ours_all[j]
        if theirs.pk in same or ours.pk in same.values():
            continue
        if theirs.sex == ours.sex and duplicates.date_kind(theirs.birth_date, ours.birth_date):
            same[theirs.pk] = ours.pk
        else:
            problems.append(_("%(a)s (%(a_sex)s, born %(a_born)s) and %(b)s (%(b_sex)s, born %(b_born)s) have alike "
                              "names but another sex or date of birth") % {
                "a": theirs.name, "a_sex": theirs.get_sex_display(), "a_born": date_format(theirs.birth_date),
                "b": ours.name, "b_sex": ours.get_sex_display(), "b_born": date_format(ours.birth_date)})
    heads = [m for m in people if m.relationship == Member.Relationship.HEAD]
    if len({same.get(m.pk, m.pk) for m in heads}) > 1:
        problems.append(_("the heads of the two families (%(heads)s) are not the same person") % {
            "heads": ", ".join(sorted(m.name for m in heads))})
    return same, problems


def merge_families(*, kept_id: int, merged_id: int, actor, reason: str) -> Family:
    """Merge family ``merged_id`` into ``kept_id``: its people already in the kept family are removed (the
    kept family's record of them stays), the others move in; the kept family takes the centre's DTSEN id if it
    had none and the merged family's place in its verval rounds; the merged family is deleted. Every row is
    written with its history. Refused, nothing changed, when the members clash, when the village already
    decided on the merged family, or when it has visits, assignments, payments or reports of its own."""
    kept = Family.objects.select_for_update().get(pk=kept_id)
    merged = Family.objects.select_for_update().get(pk=merged_id)
    same, problems = member_clashes(kept, merged)
    if problems:
        raise InvalidState(_("The two families cannot be merged: their members clash (%(problems)s). Nothing "
                             "was changed; keep both or mark a duplicate.") % {"problems": "; ".join(problems)})
    links = list(RoundFamily.objects.select_for_update(of=("self",)).select_related("round")
                 .filter(family=merged))
    for link in links:
        if link.decision or link.round.state not in EDITABLE_STATES:
            raise InvalidState(_("The village has already decided on the batch's family in its verval round; "
                                 "it cannot be merged. Keep both or mark a duplicate."))
    try:
        with transaction.atomic():
            for member in Member.objects.filter(family=merged).order_by("pk"):
                member._history_user, member._change_reason = actor, reason
                if member.pk in same:
                    member.delete()
                else:
                    member.family = kept
                    member.save()
            rounds = [link.round for link in links]
            for link in links:
                link._history_user, link._change_reason = actor, reason
                link.delete()
            centre_id = merged.central_id
            merged._history_user, merged._change_reason = actor, reason
            merged.delete()
    except ProtectedError:
        raise InvalidState(_("The batch's family already has visits, assignments, payments or reports of its "
                             "own; it cannot be merged. Keep both or mark a duplicate.")) from None
    if centre_id and not kept.central_id:
        kept.central_id = centre_id
    kept.version += 1
    kept._history_user, kept._change_reason = actor, reason
    kept.save()
    for round_ in rounds:
        RoundFamily.objects.get_or_create(round=round_, family=kept)
    return kept


def _user_name(user) -> str:
    return (user.get_full_name() or user.username) if user else "-"


def _take_centre(clash: BatchClash, actor) -> Family:
    document, batch = clash.central_version, clash.batch
    kk = str(document.get("kk_number") or "")
    holder_of_kk = Family.objects.select_for_update().filter(kk_number=kk).first()
    holder_of_id = Family.objects.select_for_update().filter(central_id=clash.central_id).first()
    if holder_of_kk and holder_of_id and holder_of_kk.pk != holder_of_id.pk:
        raise InvalidState(_(
            "The register holds DTSEN id %(id)s as KK %(own_kk)s and KK %(kk)s as another family; the centre's "
            "version cannot replace both. Keep the register's version or mark a duplicate, and report it to "
            "the centre.") % {"id": clash.central_id, "own_kk": holder_of_id.kk_number, "kk": kk})
    round_ = _editable_round(batch, str(document.get("village_code") or clash.village_id))
    reason = (_("clash in batch %(batch)s: centre's version taken") % {"batch": batch.batch_id})[:REASON_LIMIT]

    family = holder_of_kk or holder_of_id or Family(origin=Family.Origin.CENTRAL)
    values = _family_values(document, clash.central_id)
    if family.pk is None or any(getattr(family, k) != v for k, v in values.items()):
        for name, value in values.items():
            setattr(family, name, value)
        if family.pk:
            family.version += 1
        family._history_user, family._change_reason = actor, reason
        family.save()

    wanted = [_member_values(data) for data in document.get("members") or []]
    existing = {m.nik: m for m in Member.objects.select_for_update().filter(nik__in=[w["nik"] for w in wanted])}
    for values in wanted:
        member = existing.get(values["nik"]) or Member()
        if member.pk and member.family_id == family.pk and all(getattr(member, k) == v for k, v in values.items()):
            continue
        for name, value in values.items():
            setattr(member, name, value)
        member.family = family
        member._history_user, member._change_reason = actor, reason
        member.save()

    history = [h for h in document.get("desil_history") or [] if isinstance(h, dict) and h.get("period")]
    if history:
        latest = max(history, key=lambda h: h["period"])
        desil_record(family=family, period=dt.date.fromisoformat(latest["period"]), desil=latest["desil"],
                     score=latest.get("score"))
    RoundFamily.objects.get_or_create(round=round_, family=family)
    return family


def _editable_round(batch: CentralBatch, village_code: str) -> VerificationRound:
    """The batch's round of the village, created (with the batch's period and deadline) if it had none."""
    round_, created = VerificationRound.objects.get_or_create(
        village_id=village_code, batch_ref=batch.batch_id, defaults={"programme": batch.programme})
    if created:
        set_rounds_calendar(batch)
    # Locked so the village cannot submit the round while the family is being added to it.
    round_ = VerificationRound.objects.select_for_update().select_related("village").get(pk=round_.pk)
    if round_.state not in EDITABLE_STATES:
        raise InvalidState(_(
            "The verval round of %(village)s for this batch is %(state)s; a family can no longer join it. "
            "Return the round to the village first.") % {"village": round_.village.display_name,
                                                         "state": round_.get_state_display()})
    return round_


def _family_values(document: dict, central_id: str) -> dict:
    """The register's fields from a centre document (validated when the batch was applied)."""
    attrs = document.get("attrs") if isinstance(document.get("attrs"), dict) else {}
    return {
        "central_id": central_id, "kk_number": str(document.get("kk_number") or ""),
        "village_id": str(document.get("village_code") or ""), "dusun": str(document.get("dusun") or "")[:60],
        "rt": str(document.get("rt") or "")[:3], "rw": str(document.get("rw") or "")[:3],
        "address": str(document.get("address") or "")[:255],
        **{name: attrs.get(name, _ATTR_DEFAULTS.get(name, "")) for name in ATTR_FIELDS},
    }


_ATTR_DEFAULTS = {"floor_area_m2": None, **dict.fromkeys(Family.ASSET_FIELDS, False)}


def _member_values(data: dict) -> dict:
    return {
        "nik": str(data.get("nik") or ""), "name": str(data.get("name") or "").strip()[:120],
        "sex": data.get("sex", ""), "birth_place": str(data.get("birth_place") or "")[:60],
        "birth_date": dt.date.fromisoformat(data["birth_date"]), "relationship": data.get("relationship", ""),
        "education": data.get("education") or "", "occupation": str(data.get("occupation") or "")[:60],
        "disability": data.get("disability") or Member.Disability.NONE,
        "life_status": data.get("life_status") or Member.LifeStatus.PRESENT,
    }
