"""Reads for the monitoring pages, with the user's area scope applied and a fixed number of queries."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Substr
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.scope import area_q, get_scoped_or_404, scope_queryset
from central.models import DesilPublication
from registry.models import DesilChange, Member, Region
from verification.models import APPROVED_STATES, FieldCorrection, Musdesus, RoundEvent, RoundFamily, RoundState

# -- the update cycle's scorecard ---------------------------------------------------------------------------


# -- the scorecard ends here ---------------------------------------------------------------------------------


# -- the desil change feed ----------------------------------------------------------------------------------
FEED_MOVEMENTS = {
    "": (DesilChange.Movement.ENTERED, DesilChange.Movement.LEFT),  # the default: across the desil 4 line
    "entered": (DesilChange.Movement.ENTERED,),
    "left": (DesilChange.Movement.LEFT,),
    "all": tuple(DesilChange.Movement),
}
KK_SEARCH_RE = re.compile(r"^\d{1,16}$")
FEED_PUBLICATION_CHOICES = 24  # two years of monthly publications in the picker


def feed_publications() -> list[DesilPublication]:
    """Publications the portal has applied (a replaced one waiting to be applied again included), newest first."""
    return list(DesilPublication.objects.filter(applied_at__isnull=False).order_by("-period")
                [:FEED_PUBLICATION_CHOICES])


@dataclass
class FeedFilters:
    """What the feed shows, read from the query string; a publication or area the user may not see is a 404."""

    publication: DesilPublication | None
    area: Region | None  # None: everything the user may see (an administrator's whole country)
    movement: str = ""
    kk: str = ""
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, *, user, params, publications: list[DesilPublication]) -> FeedFilters:
        period = params.get("publication", "").strip()
        if not period:
            publication = publications[0] if publications else None
        else:
            publication = next((p for p in publications if p.period.isoformat() == period), None)
            if publication is None:
                try:
                    day = dt.date.fromisoformat(period)
                except ValueError:
                    raise Http404 from None
                publication = get_object_or_404(DesilPublication, period=day, applied_at__isnull=False)
        code = params.get("area", "").strip()
        if code:
            area = get_scoped_or_404(user, Region.objects.select_related("parent"), code=code)
        else:
            area = user.area if user.area_id else None
        movement = params.get("movement", "")
        kk, errors = params.get("q", "").strip(), []
        if kk and not KK_SEARCH_RE.match(kk):
            errors.append(_("Search by KK number: digits only, at most 16."))
            kk = ""
        return cls(publication=publication, area=area, movement=movement if movement in FEED_MOVEMENTS else "",
                   kk=kk, errors=errors)

    @property
    def cutoff(self):
        """Verification approved up to the moment the portal applied the publication can stand behind it."""
        return self.publication.applied_at


def _area_changes(*, user, filters: FeedFilters):
    changes = scope_queryset(user, DesilChange.objects.filter(period=filters.publication.period))
    if filters.area is not None and filters.area.code != user.area_id:  # the user's own area is the scope
        changes = changes.filter(area_q(filters.area.code, "village__pk"))
    return changes


def desil_changes(*, user, filters: FeedFilters):
    """The families whose desil changed in the chosen publication, area, movement and KK search, with their
    head's name and village; ``desil_change_reasons`` adds the verification behind each (per page)."""
    if filters.publication is None:
        return DesilChange.objects.none()
    head = Member.objects.filter(family=OuterRef("family_id"), relationship=Member.Relationship.HEAD).order_by("id")
    changes = _area_changes(user=user, filters=filters).filter(movement__in=FEED_MOVEMENTS[filters.movement])
    if filters.kk:
        changes = changes.filter(family__kk_number__startswith=filters.kk)
    return (changes.select_related("family", "village__parent")
            .annotate(head_name=Subquery(head.values("name")[:1]))
            .order_by("village_id", "family__kk_number", "id"))


@dataclass
class SummaryRow:
    code: str
    name: str
    entered: int
    left: int
    changed: int


def desil_change_summary(*, user, filters: FeedFilters) -> tuple[str, list[SummaryRow], dict]:
    """Families that entered and left desil 1-4 per region one level below the area (kecamatan of a regency,
    villages of a kecamatan), and the area's totals: two grouped queries whatever the number of families."""
    totals = {"entered": 0, "left": 0, "changed": 0}
    if filters.publication is None:
        return "", [], totals
    level = filters.area.level if filters.area else Region.Level.PROVINCE - 1
    child_length = {Region.Level.PROVINCE - 1: 2, Region.Level.PROVINCE: 5, Region.Level.REGENCY: 8,
                    Region.Level.DISTRICT: 13, Region.Level.VILLAGE: 13}[level]
    grouped = list(_area_changes(user=user, filters=filters).annotate(child=Substr("village_id", 1, child_length))
                   .values("child").annotate(
                       entered=Count("id", filter=Q(movement=DesilChange.Movement.ENTERED)),
                       left=Count("id", filter=Q(movement=DesilChange.Movement.LEFT)), changed=Count("id"))
                   .order_by("child"))
    for row in grouped:
        for key in totals:
            totals[key] += row[key]
    if level == Region.Level.VILLAGE:
        return "", [], totals
    names = dict(Region.objects.filter(code__in=[r["child"] for r in grouped]).values_list("code", "name"))
    title = {Region.Level.REGENCY: _("By kecamatan"), Region.Level.DISTRICT: _("By village")}.get(
        level, _("By region"))
    return title, [SummaryRow(r["child"], names.get(r["child"], ""), r["entered"], r["left"], r["changed"])
                   for r in grouped], totals


def feed_breadcrumbs(*, user, area: Region | None) -> list[Region]:
    """The regions from the user's own area down to the one shown, for going back up (one query)."""
    if area is None:
        return []
    parts = area.code.split(".")
    codes = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
    top = Region.level_of(user.area_id) if user.area_id else 1
    return list(Region.objects.filter(code__in=[c for c in codes if Region.level_of(c) >= top]).order_by("code"))


@dataclass
class VerificationBehind:
    """The village verification that stands behind a desil change: the family's latest entry in a round the
    regency approved before the publication was applied."""

    entry: RoundFamily
    approval: RoundEvent | None = None
    corrections: list[FieldCorrection] = field(default_factory=list)

    @property
    def musdesus(self) -> Musdesus | None:
        return getattr(self.entry.round, "musdesus", None)

    def corrections_text(self) -> str:
        return "; ".join(f"{c.member_label + ' · ' if c.member_label else ''}{c.field_label}: "
                         f"{c.old_value or '-'} -> {c.new_value or '-'}" for c in self.corrections)


def desil_change_reasons(changes: list[DesilChange], *, cutoff) -> list[DesilChange]:
    """Set ``change.verification`` (a ``VerificationBehind`` or None: the centre's own re-ranking) on each
    change, in three queries whatever the number of changes."""
    family_ids = [c.family_id for c in changes]
    approval = (RoundEvent.objects.filter(round=OuterRef("round_id"), to_state=RoundState.APPROVED, at__lte=cutoff)
                .order_by("-at", "-id"))
    entries = (RoundFamily.objects.filter(family_id__in=family_ids, round__state__in=APPROVED_STATES)
               .annotate(approval_id=Subquery(approval.values("id")[:1]),
                         approved_at=Subquery(approval.values("at")[:1]))
               .filter(approval_id__isnull=False).select_related("round__village", "round__musdesus"))
    latest: dict[int, RoundFamily] = {}
    for entry in entries:
        held = latest.get(entry.family_id)
        if held is None or (entry.approved_at, entry.pk) > (held.approved_at, held.pk):
            latest[entry.family_id] = entry
    behind = {family_id: VerificationBehind(entry=entry) for family_id, entry in latest.items()}
    by_entry = {v.entry.pk: v for v in behind.values()}
    if by_entry:
        for correction in FieldCorrection.objects.filter(entry_id__in=list(by_entry)).order_by(
                "entry_id", "corrected_at", "id"):
            by_entry[correction.entry_id].corrections.append(correction)
        approvals = RoundEvent.objects.filter(pk__in=[v.entry.approval_id for v in behind.values()]).select_related(
            "actor").in_bulk()
        for v in behind.values():
            v.approval = approvals.get(v.entry.approval_id)
    for change in changes:
        change.verification = behind.get(change.family_id)
    return changes


# -- the desil change feed ends here -------------------------------------------------------------------------
