"""Reads for the monitoring pages, with the user's area scope applied and a fixed number of queries."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Substr
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.scope import area_q, get_scoped_or_404, scope_queryset
from central.models import DesilPublication, Submission, SubmissionItem
from distribution.models import CitizenReport
from distribution.services import overdue_q
from registry.models import DesilChange, Member, Region
from verification.models import (
    APPROVED_STATES,
    FieldCorrection,
    Musdesus,
    RoundEvent,
    RoundFamily,
    RoundState,
    UpdatePeriod,
    VerificationRound,
)

# -- the update cycle's scorecard ---------------------------------------------------------------------------
# The scorecard's status filter: each is a question about a row (they overlap: an approved round was on time too).
SCORECARD_STATUSES = {
    "not_received": gettext_lazy("Data awal not received yet"),
    "in_progress": gettext_lazy("Verval in progress"),
    "overdue": gettext_lazy("Past the deadline, not submitted"),
    "waiting": gettext_lazy("Waiting for the regency's review"),
    "on_time": gettext_lazy("Submitted on time"),
    "late": gettext_lazy("Submitted late"),
    "approved": gettext_lazy("Approved"),
    "accepted": gettext_lazy("Accepted by the centre"),
    "rejected": gettext_lazy("Rejected by the centre (in part or whole)"),
}
_NOT_SUBMITTED = (RoundState.OPEN, RoundState.IN_VERIFICATION, RoundState.MUSDESUS_HELD, RoundState.RETURNED)


def _day(value) -> dt.date | None:
    return timezone.localdate(value) if value else None


@dataclass
class ScorecardRow:
    """One village (and round, when its data awal came) of the scorecard: how far its update cycle went.

    Timeliness is the village's first submission against the round's deadline: a round the regency
    returns and the village sends again keeps the timeliness of its first sending (the regency's review
    time is not the village's delay); the latest sending is shown beside it.
    """

    kecamatan_code: str
    village_code: str
    village_name: str
    today: dt.date
    round_id: int | None = None
    batch_ref: str = ""
    programme: str = ""
    state: str = ""
    received_on: dt.date | None = None
    families: int = 0
    proposals: int = 0
    total: int = 0
    decided: int = 0
    musdesus_on: dt.date | None = None
    signed_on: dt.date | None = None
    deadline: dt.date | None = None
    first_submitted_on: dt.date | None = None
    last_submitted_on: dt.date | None = None
    returns: int = 0
    approved_on: dt.date | None = None
    centre_state: str = ""
    centre_sent_on: dt.date | None = None
    centre_answered_on: dt.date | None = None
    items_accepted: int = 0
    items_rejected: int = 0
    items_pending: int = 0
    overdue_reports: int = 0  # citizens' reports the village left past their due date (issue 16)

    @property
    def received(self) -> bool:
        return self.round_id is not None

    @property
    def percent(self) -> int:
        return round(100 * self.decided / self.total) if self.total else 0

    @property
    def state_display(self) -> str:
        return str(RoundState(self.state).label) if self.state else ""

    @property
    def late_days(self) -> int:
        """Days the first submission came after the deadline (0: on time)."""
        if not (self.first_submitted_on and self.deadline):
            return 0
        return max(0, (self.first_submitted_on - self.deadline).days)

    @property
    def overdue_days(self) -> int:
        """Days past the deadline of a round never submitted (0: not overdue)."""
        if not self.received or self.first_submitted_on or not self.deadline:
            return 0
        return max(0, (self.today - self.deadline).days)

    @property
    def days_left(self) -> int | None:
        if not self.received or self.first_submitted_on or not self.deadline or self.today > self.deadline:
            return None
        return (self.deadline - self.today).days

    @property
    def timeliness(self) -> str:
        """What the user reads beside the submission date (or in its place when it is missing)."""
        if self.first_submitted_on:
            if self.late_days:
                return ngettext("late by %(n)d day", "late by %(n)d days", self.late_days) % {"n": self.late_days}
            return _("on time")
        if self.overdue_days:
            return ngettext("overdue by %(n)d day", "overdue by %(n)d days", self.overdue_days) % {
                "n": self.overdue_days}
        if self.days_left is not None:
            return ngettext("%(n)d day left", "%(n)d days left", self.days_left) % {"n": self.days_left}
        return ""

    @property
    def centre_state_display(self) -> str:
        return str(Submission.State(self.centre_state).label) if self.centre_state else ""

    @property
    def centre_accepted(self) -> bool:
        return self.centre_state == Submission.State.ACKNOWLEDGED and not self.items_rejected

    @property
    def centre_rejected(self) -> bool:
        return self.centre_state == Submission.State.REJECTED or (
            self.centre_state == Submission.State.ACKNOWLEDGED and self.items_rejected > 0)

    @property
    def statuses(self) -> set[str]:
        if not self.received:
            return {"not_received"}
        found = set()
        if self.state in _NOT_SUBMITTED and not self.overdue_days:
            found.add("in_progress")
        if self.overdue_days:
            found.add("overdue")
        if self.state == RoundState.SUBMITTED:
            found.add("waiting")
        if self.first_submitted_on:
            found.add("late" if self.late_days else "on_time")
        if self.state in APPROVED_STATES:
            found.add("approved")
        if self.centre_accepted:
            found.add("accepted")
        if self.centre_rejected:
            found.add("rejected")
        return found


@dataclass
class ScorecardTotals:
    """Counts over a set of rows: the summary at the top, or one kecamatan's subtotal."""

    code: str = ""
    name: str = ""
    villages: int = 0
    received: int = 0
    families: int = 0
    total: int = 0
    decided: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    waiting: int = 0
    approved: int = 0
    accepted: int = 0
    rejected: int = 0
    overdue_reports: int = 0
    rows: list = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(100 * self.decided / self.total) if self.total else 0

    def add(self, row: ScorecardRow) -> None:
        self.rows.append(row)
        self.families += row.families
        self.total += row.total
        self.decided += row.decided
        statuses = row.statuses
        for name in ("on_time", "late", "overdue", "waiting", "approved", "accepted", "rejected"):
            setattr(self, name, getattr(self, name) + (name in statuses))

    def finish(self) -> ScorecardTotals:
        # A village with two rounds in the period (two programmes' batches) is one village.
        self.villages = len({r.village_code for r in self.rows})
        self.received = len({r.village_code for r in self.rows if r.received})
        self.overdue_reports = sum({r.village_code: r.overdue_reports for r in self.rows}.values())
        return self


@dataclass
class Scorecard:
    period: UpdatePeriod
    regency: Region
    today: dt.date
    summary: ScorecardTotals
    kecamatan: list[ScorecardTotals]  # the shown rows grouped, each with its subtotal
    kecamatan_choices: list[tuple[str, str]]
    rows: list[ScorecardRow]

    @property
    def is_final(self) -> bool:
        return self.period.is_final(self.today)


def scorecard_periods(*, user) -> list[UpdatePeriod]:
    """Every update period, newest first, marked with whether the user's area has rounds in it."""
    rounds = scope_queryset(user, VerificationRound.objects.filter(period=OuterRef("pk")))
    return list(UpdatePeriod.objects.annotate(has_rounds=Exists(rounds)).order_by("-starts_on"))


def scorecard_default_period(periods: list[UpdatePeriod], today: dt.date) -> UpdatePeriod | None:
    """Today's period if the area has rounds in it, else the latest one with rounds, else today's or the latest."""
    current = next((p for p in periods if p.starts_on <= today <= p.ends_on), None)
    if current and current.has_rounds:
        return current
    return next((p for p in periods if p.has_rounds), None) or current or (periods[0] if periods else None)


def scorecard_regencies(*, user, period: UpdatePeriod) -> list[Region]:
    """The regencies the user may pick: those with rounds in the period (an administrator's picker)."""
    codes = (scope_queryset(user, VerificationRound.objects.filter(period=period))
             .annotate(regency=Substr("village_id", 1, 5)).values("regency"))
    return list(scope_queryset(user, Region.objects.filter(code__in=codes, level=Region.Level.REGENCY)))


def scorecard_regency(*, user, code: str) -> Region:
    return get_scoped_or_404(user, Region.objects.filter(level=Region.Level.REGENCY), code=code)


def _round_rows(*, user, period: UpdatePeriod, area: str):
    """The period's rounds in ``area`` with every date the scorecard shows, in one query."""
    def event_at(state: str, *, first: bool = False):
        events = RoundEvent.objects.filter(round=OuterRef("pk"), to_state=state)
        return Subquery(events.order_by(*(("at", "id") if first else ("-at", "-id"))).values("at")[:1])

    returns = (RoundEvent.objects.filter(round=OuterRef("pk"), to_state=RoundState.RETURNED).order_by()
               .values("round").annotate(n=Count("id")).values("n"))
    # The submission of the latest approval (a round re-checked and approved again has a newer one).
    latest = Submission.objects.filter(round=OuterRef("pk")).order_by("-created_at", "-id")
    return (scope_queryset(user, VerificationRound.objects.filter(period=period))
            .filter(Q(village_id=area) | Q(village__pk__startswith=f"{area}."))
            .annotate(
                due=Coalesce("deadline", "period__verval_deadline"),
                first_submitted_at=event_at(RoundState.SUBMITTED, first=True),
                last_submitted_at=event_at(RoundState.SUBMITTED),
                approved_at=event_at(RoundState.APPROVED),
                return_count=Coalesce(Subquery(returns), 0),
                submission_id=Subquery(latest.values("id")[:1]),
                submission_state=Subquery(latest.values("state")[:1]),
                submission_sent_at=Subquery(latest.values("sent_at")[:1]),
                submission_answered_at=Subquery(latest.values("acknowledged_at")[:1]),
            )
            .values("pk", "village_id", "batch_ref", "programme", "state", "created_at", "due",
                    "musdesus__held_on", "musdesus__signed_off_at", "first_submitted_at", "last_submitted_at",
                    "approved_at", "return_count", "submission_id", "submission_state", "submission_sent_at",
                    "submission_answered_at")
            .order_by("village_id", "batch_ref"))


def scorecard(*, user, period: UpdatePeriod, regency: Region, kecamatan: str = "", status: str = "",
              today: dt.date | None = None) -> Scorecard:
    """The regency scorecard of an update period: one row per village and round (a village without data awal in
    the period gets a row too), in five queries whatever the number of villages or families: the regions, the
    rounds with their dates, the family counts per round, the centre's answers per submission and the citizens'
    reports overdue per village."""
    today = today or timezone.localdate()
    regions = list(scope_queryset(user, Region.objects.filter(
        code__startswith=f"{regency.code}.", level__in=[Region.Level.DISTRICT, Region.Level.VILLAGE]))
        .order_by("code").values_list("code", "name", "level"))
    kecamatan_names = {code: name for code, name, level in regions if level == Region.Level.DISTRICT}
    if kecamatan not in kecamatan_names:
        kecamatan = ""
    area = kecamatan or regency.code
    villages = {code: name for code, name, level in regions
                if level == Region.Level.VILLAGE and code.startswith(f"{area}.")}

    rounds = list(_round_rows(user=user, period=period, area=area))
    round_ids = [r["pk"] for r in rounds]
    # Grouped once per round: the family counts of a regency (up to a million rows) in one pass.
    counts = {c["round_id"]: c for c in RoundFamily.objects.filter(round_id__in=round_ids).order_by()
              .values("round_id").annotate(total=Count("id"), decided=Count("id", filter=~Q(decision="")),
                                           proposals=Count("id", filter=Q(is_proposal=True)))}
    outcomes: dict[int, dict[str, int]] = {}
    submission_ids = [r["submission_id"] for r in rounds if r["submission_id"]]
    for item in (SubmissionItem.objects.filter(submission_id__in=submission_ids).order_by()
                 .values("submission_id", "outcome").annotate(n=Count("id"))):
        outcomes.setdefault(item["submission_id"], {})[item["outcome"]] = item["n"]

    rows = []
    for r in rounds:
        count = counts.get(r["pk"], {})
        outcome = outcomes.get(r["submission_id"], {})
        rows.append(ScorecardRow(
            kecamatan_code=r["village_id"][:8], village_code=r["village_id"],
            village_name=villages.get(r["village_id"], r["village_id"]), today=today, round_id=r["pk"],
            batch_ref=r["batch_ref"], programme=r["programme"], state=r["state"], received_on=_day(r["created_at"]),
            families=count.get("total", 0) - count.get("proposals", 0), proposals=count.get("proposals", 0),
            total=count.get("total", 0), decided=count.get("decided", 0), musdesus_on=r["musdesus__held_on"],
            signed_on=_day(r["musdesus__signed_off_at"]), deadline=r["due"],
            first_submitted_on=_day(r["first_submitted_at"]), last_submitted_on=_day(r["last_submitted_at"]),
            returns=r["return_count"], approved_on=_day(r["approved_at"]),
            centre_state=r["submission_state"] or "", centre_sent_on=_day(r["submission_sent_at"]),
            centre_answered_on=_day(r["submission_answered_at"]),
            items_accepted=outcome.get(SubmissionItem.Outcome.ACCEPTED, 0),
            items_rejected=outcome.get(SubmissionItem.Outcome.REJECTED, 0),
            items_pending=outcome.get(SubmissionItem.Outcome.PENDING, 0)))
    with_round = {r.village_code for r in rows}
    rows.extend(ScorecardRow(kecamatan_code=code[:8], village_code=code, village_name=name, today=today)
                for code, name in villages.items() if code not in with_round)
    # Citizens' reports past their due date, per village: whatever the period, they are late now.
    overdue = dict(scope_queryset(user, CitizenReport.objects.filter(overdue_q(today)))
                   .filter(village__pk__startswith=f"{area}.").order_by().values("village_id")
                   .annotate(n=Count("id")).values_list("village_id", "n"))
    for row in rows:
        row.overdue_reports = overdue.get(row.village_code, 0)
    rows.sort(key=lambda row: (row.village_code, row.batch_ref))

    summary = ScorecardTotals(code=area, name=kecamatan_names.get(kecamatan, regency.name))
    groups: dict[str, ScorecardTotals] = {}
    for row in rows:
        summary.add(row)
        if status in SCORECARD_STATUSES and status not in row.statuses:
            continue
        group = groups.setdefault(row.kecamatan_code, ScorecardTotals(
            code=row.kecamatan_code, name=kecamatan_names.get(row.kecamatan_code, "")))
        group.add(row)
    shown = [groups[code].finish() for code in sorted(groups)]
    return Scorecard(period=period, regency=regency, today=today, summary=summary.finish(), kecamatan=shown,
                     kecamatan_choices=sorted(kecamatan_names.items()),
                     rows=[row for group in shown for row in group.rows])


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
        return "; ".join(f"{c.member_label + ' · ' if c.member_label else ''}{capfirst(c.label)}: "
                         f"{c.before or '-'} -> {c.after or '-'}" for c in self.corrections)


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


