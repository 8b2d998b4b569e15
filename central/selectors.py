"""Reads of the sync records, with the user's area scope applied."""
from django.db.models import Count, Q
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from accounts.scope import get_scoped_or_404, scope_queryset
from registry.models import Family, Member
from verification.models import RoundFamily, VerificationRound

from .models import CentralBatch, DesilPublication, Submission, SubmissionItem


def batch_list(*, user):
    return scope_queryset(user, CentralBatch.objects.all()).order_by("-created_at")


def batch_get(*, user, pk: int) -> CentralBatch:
    return get_scoped_or_404(user, CentralBatch.objects.all(), pk=pk)


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


def desil_publications():
    return DesilPublication.objects.all()[:12]
