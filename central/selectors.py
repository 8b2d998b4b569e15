"""Reads of the sync records, with the user's area scope applied."""
import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from accounts.scope import get_scoped_or_404, scope_queryset
from privacy.masking import mask_numbers_in_text
from registry import duplicates
from registry.models import Family, Member, Region
from verification.models import RoundFamily, VerificationRound

from .ingest import ATTR_FIELDS
from .models import (
    BatchClash,
    BatchHeldRow,
    CentralBatch,
    DesilPublication,
    Submission,
    SubmissionItem,
    UnmatchedRanking,
)

HELD = BatchClash.State.HELD
# How long after an approval its pages keep refreshing while the push is on its way.
SENDING_WATCH = dt.timedelta(minutes=10)


def batch_list(*, user):
    # The held families per batch ride along in the same query (the sync page links them).
    return scope_queryset(user, _with_waiting_items(CentralBatch.objects.all())).order_by("-created_at")


def batch_get(*, user, pk: int) -> CentralBatch:
    return get_scoped_or_404(user, _with_waiting_items(CentralBatch.objects.all()), pk=pk)


def _with_waiting_items(batches):
    """The batches with their adjudication items waiting for Dinsos: held clashes, likely duplicates."""
    similar = Q(clashes__kind=BatchClash.Kind.SIMILAR)
    return batches.annotate(held_families=Count("clashes", filter=Q(clashes__state=HELD) & ~similar),
                            likely_duplicates=Count("clashes", filter=Q(clashes__state=HELD) & similar))


def batch_held_rows(*, user, batch: CentralBatch):
    """The batch's families held for breaking the register's rules, in the user's area (by village, or by
    regency when the row named no village of it)."""
    return scope_queryset(user, BatchHeldRow.objects.filter(batch=batch).only(
        "page", "position", "central_id", "area_code", "reasons")).order_by("page", "position")


def batch_rounds(*, user, batch: CentralBatch):
    return scope_queryset(user, VerificationRound.objects.filter(batch_ref=batch.batch_id)
                          .select_related("village")).order_by("village_id")


def _with_counts(submissions):
    """Per submission: items sent, accepted and rejected (one grouped query with the list)."""
    return submissions.annotate(
        items_total=Count("items"),
        items_accepted=Count("items", filter=Q(items__outcome=SubmissionItem.Outcome.ACCEPTED)),
        items_rejected=Count("items", filter=Q(items__outcome=SubmissionItem.Outcome.REJECTED)))


def submission_list_base():
    return _with_counts(Submission.objects.select_related("round__village"))


def submission_list(*, user):
    return scope_queryset(user, submission_list_base()).order_by("-created_at")


def round_latest_submission_id(*, user, round_id: int) -> int | None:
    """The newest submission of a round (the one its latest approval made), or None."""
    return scope_queryset(user, Submission.objects.filter(round_id=round_id)).order_by("-created_at", "-pk") \
        .values_list("pk", flat=True).first()


def on_its_way(submission: Submission) -> bool:
    """Still being sent right after its approval: the pages showing it refresh themselves meanwhile. A
    submission the centre has kept waiting longer is shown as it stands (its retries run on their own)."""
    return submission.state == Submission.State.PENDING and \
        submission.created_at >= timezone.now() - SENDING_WATCH


def submission_get(*, user, pk: int) -> Submission:
    return get_scoped_or_404(user, _with_counts(Submission.objects.select_related(
        "round__village", "approval__actor")), pk=pk)


def submission_matrix(submission: Submission) -> list[dict]:
    """What went up and what came back, per kind: sent / accepted / rejected / waiting."""
    counts = {kind: {"kind": kind, "label": label, "sent": 0, "accepted": 0, "rejected": 0, "pending": 0}
              for kind, label in SubmissionItem.Kind.choices}
    for kind, outcome, n in submission.items.values_list("kind", "outcome").annotate(n=Count("id")).order_by():
        counts[kind]["sent"] += n
        counts[kind][outcome] += n
    return list(counts.values())


def submission_items(*, submission: Submission, kind: str = "", outcome: str = ""):
    items = submission.items.select_related("family").order_by("id")
    if kind in SubmissionItem.Kind.values:
        items = items.filter(kind=kind)
    if outcome in SubmissionItem.Outcome.values:
        items = items.filter(outcome=outcome)
    return items


def family_items(*, family: Family, limit: int = 30) -> list[SubmissionItem]:
    """What the portal told the centre about one family and what the centre did with it, newest first.
    The family page is already scoped; the items follow it."""
    return list(SubmissionItem.objects.filter(family=family)
                .exclude(submission__state=Submission.State.CANCELLED)
                .select_related("submission__round").order_by("-submission__created_at", "id")[:limit])


def entry_items(*, entry: RoundFamily) -> list[SubmissionItem]:
    """The items of the round's latest submission about this family (or usulan)."""
    latest = entry.round.submissions.exclude(state=Submission.State.CANCELLED).order_by("-created_at").first()
    if latest is None:
        return []
    return list(latest.items.filter(entry=entry).select_related("submission").order_by("id"))


def round_matrix(round_: VerificationRound) -> tuple[Submission | None, list[dict]]:
    latest = round_.submissions.exclude(state=Submission.State.CANCELLED).order_by("-created_at").first()
    return latest, submission_matrix(latest) if latest else []


def _choice_label(model, field: str, value) -> str:
    try:
        model_field = model._meta.get_field(field)
    except Exception:  # noqa: BLE001 - a field the register does not have: show the code
        return "-" if value in (None, "") else str(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return "-" if value in (None, "") else str(value)


def _field_label(model, field: str) -> str:
    try:
        return capfirst(str(model._meta.get_field(field).verbose_name))
    except Exception:  # noqa: BLE001
        return field


def describe(item: SubmissionItem) -> str:
    """One line a person can read for what an item told the centre."""
    data = item.payload
    if item.kind == SubmissionItem.Kind.RESULT:
        text = _choice_label(RoundFamily, "decision", data.get("decision"))
        if data.get("reason"):
            text += f" ({_choice_label(RoundFamily, 'reason', data['reason'])})"
        return text
    if item.kind == SubmissionItem.Kind.CORRECTION:
        field = data.get("field", "")
        return f"{_field_label(Family, field)}: {_choice_label(Family, field, data.get('before'))} → " \
               f"{_choice_label(Family, field, data.get('after'))}"
    if item.kind == SubmissionItem.Kind.MEMBER_CHANGE:
        # Items are read in lists: NIKs masked (privacy.masking), a corrected NIK's before and after included.
        return mask_numbers_in_text(_describe_member_change(data))
    if item.kind == SubmissionItem.Kind.PROPOSAL:
        return _("Usulan KK %(kk)s with %(n)d members") % {"kk": data.get("kk_number", ""),
                                                           "n": len(data.get("members", []))}
    if item.kind == SubmissionItem.Kind.RECOMMENDATION:
        from groundcheck.models import Visit

        return _("%(recommendation)s (visit of %(date)s)") % {
            "recommendation": _choice_label(Visit, "recommendation", data.get("recommendation")),
            "date": data.get("visited_on", "")}
    if item.kind == SubmissionItem.Kind.REPORT:
        from distribution.models import CitizenReport

        return f"{_choice_label(CitizenReport, 'kind', data.get('kind'))}: {data.get('reason', '')[:120]}"
    return item.ref


def _describe_member_change(data: dict) -> str:
    change, nik = data.get("change"), data.get("nik", "")
    if change == "added":
        return _("Member added: %(name)s (%(nik)s)") % {"name": data.get("member", {}).get("name", ""), "nik": nik}
    if change in ("deceased", "moved"):
        return _("%(status)s on %(date)s: NIK %(nik)s") % {
            "status": _choice_label(Member, "life_status", change), "date": data.get("date") or "-", "nik": nik}
    fields = data.get("fields", {})
    return _("NIK %(nik)s corrected: %(fields)s") % {"nik": nik, "fields": ", ".join(
        f"{_field_label(Member, f)} {_choice_label(Member, f, v.get('before'))} → "
        f"{_choice_label(Member, f, v.get('after'))}" for f, v in fields.items())}


def desil_publications():
    return DesilPublication.objects.all()[:12]


# -- families held because they clash with the register ----------------------------------------------------
def clash_list(*, user, state: str = "", batch_pk: int | None = None, kind: str = ""):
    """The adjudication queue in the user's area; ``kind`` "clash" (KK or NIK) or "similar" narrows it."""
    clashes = scope_queryset(user, BatchClash.objects.select_related("batch", "village", "resolved_by"))
    if state:
        clashes = clashes.filter(state=state)
    if kind == BatchClash.Kind.SIMILAR:
        clashes = clashes.filter(kind=kind)
    elif kind == "clash":
        clashes = clashes.exclude(kind=BatchClash.Kind.SIMILAR)
    if batch_pk:
        clashes = clashes.filter(batch_id=batch_pk)
    return clashes.order_by("state", "-created_at", "central_id")


def clash_batches(*, user):
    """The batches that have clashes in the user's area, for the list's filter."""
    ids = scope_queryset(user, BatchClash.objects.all()).values("batch_id")
    return CentralBatch.objects.filter(pk__in=ids).order_by("-created_at").only("pk", "batch_id")


def clash_get(*, user, pk: int) -> BatchClash:
    return get_scoped_or_404(user, BatchClash.objects.select_related("batch", "village", "resolved_by",
                                                                       "register_family", "batch_family"), pk=pk)


@dataclass
class Difference:
    """One item of the two versions side by side; ``differs`` marks it for the eye."""

    label: str
    centre: str
    register: str
    differs: bool


@dataclass
class MemberPair:
    """A person matched by NIK across the two versions (one side is empty when only the other lists them)."""

    nik: str
    name: str
    items: list[Difference]
    in_centre: bool
    in_register: bool


MEMBER_SHOWN = ["nik", "name", "sex", "birth_place", "birth_date", "relationship", "education", "occupation",
                "disability", "life_status"]


def _plain(value) -> str:
    return "" if value is None else str(value)


def _shown(field, value) -> str:
    if value in (None, ""):
        return "-"
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field is not None and field.get_internal_type() == "DateField":
        try:
            return dt.date.fromisoformat(value).strftime("%d-%m-%Y")
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _pair(label, field, centre, register) -> Difference:
    return Difference(str(label), _shown(field, centre), _shown(field, register), _plain(centre) != _plain(register))


def clash_sides(clash: BatchClash) -> dict:
    """The centre's and the register's version of a held family, item by item, differences marked."""
    centre, register = clash.central_version or {}, clash.register_version or {}
    villages = dict(Region.objects.filter(code__in=[centre.get("village_code"), register.get("village_code")])
                    .values_list("code", "name"))

    def village(code):
        return f"{villages.get(code, '?')} ({code})" if code else None

    field = Family._meta.get_field
    family = [
        _pair(field("central_id").verbose_name, None, centre.get("central_id"), register.get("central_id")),
        _pair(field("kk_number").verbose_name, None, centre.get("kk_number"), register.get("kk_number")),
        _pair(field("village").verbose_name, None, village(centre.get("village_code")),
              village(register.get("village_code"))),
        *[_pair(field(name).verbose_name, None, centre.get(name), register.get(name))
          for name in ("dusun", "rt", "rw", "address", "desil")],
    ]
    centre_attrs, register_attrs = centre.get("attrs") or {}, register.get("attrs") or {}
    attrs = [_pair(field(name).verbose_name, field(name), centre_attrs.get(name), register_attrs.get(name))
             for name in ATTR_FIELDS]
    people = {}
    centre_members, register_members = centre.get("members") or [], register.get("members") or []
    # People are matched by NIK; a likely duplicate's people have other NIKs, so they are matched by name.
    same_as = {}
    if clash.kind == BatchClash.Kind.SIMILAR:
        for i, j, _score in duplicates.alike_names([m.get("name") or "" for m in centre_members],
                                                   [m.get("name") or "" for m in register_members],
                                                   duplicates.SAME_PERSON_NAME):
            if i not in same_as and j not in same_as.values():
                same_as[i] = j
    for i, member in enumerate(centre_members):
        key = register_members[same_as[i]].get("nik") if i in same_as else member.get("nik")
        people.setdefault(key, {})["centre"] = member
    for member in register_members:
        people.setdefault(member.get("nik"), {})["register"] = member
    member_field = Member._meta.get_field
    pairs = []
    for nik, sides in people.items():
        mine, theirs = sides.get("centre") or {}, sides.get("register") or {}
        items = [_pair(member_field(name).verbose_name, member_field(name), mine.get(name), theirs.get(name))
                 for name in MEMBER_SHOWN]
        if not (mine and theirs):  # a person on one side only: the whole row is the difference
            items = [Difference(i.label, i.centre if mine else "", i.register if theirs else "", False)
                     for i in items]
        pairs.append(MemberPair(nik=nik, name=mine.get("name") or theirs.get("name") or "", items=items,
                                in_centre=bool(mine), in_register=bool(theirs)))
    return {"family": family, "attrs": attrs, "members": pairs,
            "differences": sum(d.differs for d in family + attrs) + sum(
                any(i.differs for i in p.items) or not (p.in_centre and p.in_register) for p in pairs)}
def unmatched_rankings(*, user, period):
    """Families a publication ranks that the register does not hold, in the user's area (by village code)."""
    return scope_queryset(user, UnmatchedRanking.objects.filter(period=period)).order_by("village_code", "central_id")
