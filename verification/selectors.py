"""Reads of verification rounds, with the user's area scope applied."""
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, Subquery, Window
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Role
from accounts.scope import get_scoped_or_404, scope_queryset
from dtsen_portal.formats import number
from registry.models import Member

from . import tallies
from .models import EDITABLE_STATES, FieldCorrection, RoundEvent, RoundFamily, RoundState, VerificationRound


def round_list(*, user, open_only: bool = False, state: str | None = None):
    """Rounds in the user's area with their progress (decided / total), newest first, in one query (the
    counts come from the rounds' tallies). ``state`` names one state (``submitted`` is the regency's review
    queue); a value that is no state is ignored, as a hand-edited URL should be."""
    rounds = tallies.with_round_counts(scope_queryset(user, VerificationRound.objects.select_related("village")))
    if open_only:
        rounds = rounds.filter(state__in=[*EDITABLE_STATES, "musdesus_held"])
    if state in RoundState.values:
        rounds = rounds.filter(state=state)
    return rounds.order_by("deadline", "-created_at", "-pk")  # pk: rounds created together keep one order


def round_get(*, user, pk: int) -> VerificationRound:
    return get_scoped_or_404(user, VerificationRound.objects.select_related("village__parent__parent"), pk=pk)


def round_entries(*, round_: VerificationRound):
    """The families of a round with what the list shows, one query per page whatever the village size."""
    head = Member.objects.filter(family=OuterRef("family_id"), relationship=Member.Relationship.HEAD).order_by("id")
    return (RoundFamily.objects.filter(round=round_)
            .select_related("family", "decided_by")
            .annotate(head_name=Subquery(head.values("name")[:1]), head_nik=Subquery(head.values("nik")[:1])))


class _Paginator(Paginator):
    count = None  # set by entries_page from the window count, so the paginator never counts again


def entries_page(queryset, number, per_page: int) -> Page:
    """One page of a round's (filtered, sorted) family list in two queries whatever the village's size.

    The first picks the page's ids from narrow rows, with the total as a window count in the same query,
    so neither the head-of-family subqueries nor the wide family rows are computed for the rows the
    OFFSET skips; the second reads the page's wide rows for those ids only. A page past the end falls back
    to the last page (one count more), as ``Paginator.get_page`` does.
    """
    try:
        number = max(1, int(number))
    except (TypeError, ValueError):
        number = 1
    counted = queryset.annotate(full_count=Window(Count("*")))

    def ids_of(page_number):
        rows = list(counted.values_list("pk", "full_count")[(page_number - 1) * per_page:page_number * per_page])
        return [pk for pk, _n in rows], (rows[0][1] if rows else None)

    ids, total = ids_of(number)
    if total is None and number > 1:
        total = queryset.count()
        number = max(1, -(-total // per_page))
        ids, total = ids_of(number)
    paginator = _Paginator(queryset, per_page)
    paginator.count = total or 0
    by_id = {entry.pk: entry for entry in queryset.filter(pk__in=ids)} if ids else {}
    return paginator._get_page([by_id[pk] for pk in ids if pk in by_id], number, paginator)


def entry_get(*, round_: VerificationRound, pk: int) -> RoundFamily:
    from django.http import Http404

    try:
        return RoundFamily.objects.select_related("family__village", "decided_by").get(round=round_, pk=pk)
    except RoundFamily.DoesNotExist:
        raise Http404 from None


def entry_corrections(entry: RoundFamily):
    return FieldCorrection.objects.filter(entry=entry).select_related("corrected_by")


def earlier_decisions(entry: RoundFamily):
    return (RoundFamily.objects.filter(family_id=entry.family_id).exclude(pk=entry.pk)
            .select_related("round", "decided_by").order_by("-round__created_at"))


DECISION_HISTORY_FIELDS = ("decision", "reason", "note", "evidence", "flagged", "return_note", "centre_outcome")


def entry_decision_history(entry: RoundFamily) -> list:
    """The village's decisions on the family in this round, newest first, each as who, when and from -> to
    (one query): a changed decision keeps the earlier one on record."""
    from registry.selectors import history_entries

    records = entry.history.select_related("history_user")
    # A photo's stored path means nothing to the reader; that one was attached (or replaced) does.
    words = {"evidence": lambda path: _("photo attached")}
    return history_entries(records, fields=DECISION_HISTORY_FIELDS, words=words).get(entry.pk, [])


def open_proposals(*, user) -> list[RoundFamily]:
    """The usulan of the open rounds in the user's area (a citizen's usulan can be tied to one of them)."""
    return list(round_entries_base(user=user).filter(is_proposal=True, round__state__in=EDITABLE_STATES)
                .order_by("round__village_id", "family__kk_number")[:500])


def round_events(round_: VerificationRound):
    return RoundEvent.objects.filter(round=round_).select_related("actor").order_by("-at", "-id")


def review_changes(round_: VerificationRound):
    """What the village changed against the data awal: corrections, not-eligible families and proposals."""
    corrections = FieldCorrection.objects.filter(entry__round=round_).select_related("entry__family", "corrected_by")
    not_eligible = (round_entries(round_=round_).filter(decision=RoundFamily.Decision.NOT_ELIGIBLE)
                    .order_by("family__kk_number"))
    proposals = round_entries(round_=round_).filter(is_proposal=True).order_by("family__kk_number")
    return corrections, not_eligible, proposals


def review_disagreements(round_: VerificationRound):
    """Ground-check visits of the round's families that disagree with the register."""
    from groundcheck.models import Visit

    return (Visit.objects.filter(entry__round=round_).exclude(differences=[])
            .select_related("family", "facilitator").order_by("family__kk_number", "-visited_at"))


def regency_progress(*, user):
    """Progress per village of the open rounds in the user's area, in one grouped query."""
    return (scope_queryset(user, RoundFamily.objects.all())
            .values("round__village_id", "round__village__name", "round__state", "round_id")
            .annotate(total=Count("id"), decided=Count("id", filter=~Q(decision="")))
            .order_by("round__village_id"))


def regency_dashboard(*, user) -> dict:
    """Verval progress per kecamatan, rounds waiting for review and ground-check coverage, in four queries."""
    from groundcheck.models import Assignment
    from registry.models import Region

    per_kecamatan = tallies.rounds_per_kecamatan(user=user)
    names = dict(Region.objects.filter(code__in=[r["kecamatan"] for r in per_kecamatan]).values_list("code", "name"))
    for row in per_kecamatan:
        row["name"] = names.get(row["kecamatan"], "")
        row["percent"] = round(100 * row["decided"] / row["total"]) if row["total"] else 0
    waiting = list(round_list(user=user).filter(state="submitted").order_by("state_changed_at")[:50])
    coverage = scope_queryset(user, Assignment.objects.all()).aggregate(
        assigned=Count("id"), visited=Count("id", filter=Q(completed_at__isnull=False)))
    return {"per_kecamatan": per_kecamatan, "waiting": waiting, "coverage": coverage}


def approved_entries(*, user):
    """Eligible families (decided eligible or corrected, proposals included) of approved rounds in the area."""
    return (round_entries_base(user=user)
            .filter(round__state__in=["approved", "sent", "acknowledged"],
                    decision__in=[RoundFamily.Decision.ELIGIBLE, RoundFamily.Decision.CORRECTED])
            .order_by("round__village_id", "family__kk_number"))


def round_entries_base(*, user):
    head = Member.objects.filter(family=OuterRef("family_id"), relationship=Member.Relationship.HEAD).order_by("id")
    return (scope_queryset(user, RoundFamily.objects.select_related("family", "round__village"))
            .annotate(head_name=Subquery(head.values("name")[:1])))


@dataclass(frozen=True)
class NextStep:
    """One thing the user should do now, with where to do it."""

    text: str
    url: str
    urgent: bool = False


def next_steps(*, user) -> list[NextStep]:
    """What each role should do next, for the "Langkah berikutnya" panel of the home page (two queries).

    Village staff: per open round, the step the procedure asks for now (decide the families left, record the
    Musdesus, sign its berita acara, submit; after a return, redo and re-ratify). Dinsos: the rounds waiting
    for review. Facilitators: the families waiting for their visit (they land on that list after logging in,
    ``accounts.views.PortalLoginView``)."""
    role = user.role
    steps: list[NextStep] = []
    if user.is_administrator or role == Role.DINSOS:
        waiting = round_list(user=user, state=RoundState.SUBMITTED).count()
        if waiting:
            steps.append(NextStep(ngettext("%(n)s round is waiting for your review.",
                                           "%(n)s rounds are waiting for your review.", waiting)
                                  % {"n": number(waiting)}, reverse("round-list") + "?state=submitted", True))
        return steps
    if role == Role.FACILITATOR:
        from groundcheck.models import Assignment

        waiting = Assignment.objects.filter(facilitator=user, completed_at__isnull=True).count()
        if waiting:
            steps.append(NextStep(ngettext("%(n)s family is waiting for your visit.",
                                           "%(n)s families are waiting for your visit.", waiting)
                                  % {"n": number(waiting)}, reverse("groundcheck-home"), True))
        return steps
    if role not in (Role.VILLAGE_OPERATOR, Role.VILLAGE_HEAD):
        return steps
    operator = role == Role.VILLAGE_OPERATOR
    for round_ in round_list(user=user, open_only=True).select_related("musdesus")[:10]:
        place = round_.village.name
        musdesus = getattr(round_, "musdesus", None)  # none recorded yet: the reverse accessor raises
        left = (round_.total or 0) - (round_.decided or 0)
        detail = reverse("round-detail", args=[round_.pk])
        if round_.state == RoundState.RETURNED and operator:
            steps.append(NextStep(_("%(place)s: the regency returned the round. Read its notes, correct the "
                                    "families, then record the Musdesus and have it signed again before "
                                    "submitting.") % {"place": place}, detail + "?status=returned", True))
        elif left and operator:
            steps.append(NextStep(ngettext("%(place)s: %(n)s family still has no decision.",
                                           "%(place)s: %(n)s families still have no decision.", left)
                                  % {"place": place, "n": number(left)}, detail + "?status=undecided"))
        elif round_.state != RoundState.MUSDESUS_HELD and operator:
            steps.append(NextStep(_("%(place)s: every family is decided. Record the Musdesus that ratified "
                                    "them.") % {"place": place}, reverse("round-musdesus", args=[round_.pk])))
        elif round_.state == RoundState.MUSDESUS_HELD and musdesus and not musdesus.signed_off_at:
            steps.append(NextStep(
                _("%(place)s: the berita acara of the Musdesus is waiting for your signature.") % {"place": place}
                if not operator else
                _("%(place)s: the berita acara is waiting for the village head's signature.") % {"place": place},
                reverse("round-musdesus", args=[round_.pk]), not operator))
        elif round_.state == RoundState.MUSDESUS_HELD and operator:
            steps.append(NextStep(_("%(place)s: the berita acara is signed. Submit the round to the regency.")
                                  % {"place": place}, detail, True))
    return steps


WELL_OFF_DESIL = 8  # desil 8-10: a bulk "layak" over these families is asked about twice


@dataclass(frozen=True)
class BulkPreview:
    """What a bulk decision would touch: (desil, families) in desil order (unranked last), and how many of
    them are well-off families it would mark eligible."""

    spread: list[tuple[int | None, int]]
    well_off: int


def bulk_preview(*, round_, entry_ids: list[int], decision: str) -> BulkPreview:
    """The desil spread of the selected entries of ``round_`` (one query), for the confirmation before a bulk
    decision: marking well-off families layak by mistake is the costly error."""
    rows = (RoundFamily.objects.filter(round=round_, pk__in=entry_ids).values_list("family__desil")
            .annotate(n=Count("pk")).order_by())
    spread = sorted(rows, key=lambda row: (row[0] is None, row[0] or 0))
    well_off = sum(n for desil, n in spread if desil and desil >= WELL_OFF_DESIL) \
        if decision == RoundFamily.Decision.ELIGIBLE else 0
    return BulkPreview(spread=spread, well_off=well_off)
