"""Reads for the monitoring pages, with the user's area scope applied and a fixed number of queries."""

# -- the update cycle's scorecard ---------------------------------------------------------------------------

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.scope import get_scoped_or_404, scope_queryset
from central.models import Submission, SubmissionItem
from registry.models import Region
from verification.models import APPROVED_STATES, RoundEvent, RoundFamily, RoundState, UpdatePeriod, VerificationRound

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

    def finish(self) -> "ScorecardTotals":
        # A village with two rounds in the period (two programmes' batches) is one village.
        self.villages = len({r.village_code for r in self.rows})
        self.received = len({r.village_code for r in self.rows if r.received})
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
    the period gets a row too), in four queries whatever the number of villages or families: the regions, the
    rounds with their dates, the family counts per round and the centre's answers per submission."""
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


# -- the scorecard ends here ---------------------------------------------------------------------------------


# -- the desil change feed ----------------------------------------------------------------------------------


# -- the desil change feed ends here -------------------------------------------------------------------------
