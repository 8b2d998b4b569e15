"""Reads of the register, with the user's area scope already applied."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from accounts.scope import get_scoped_or_404, scope_queryset
from privacy.masking import mask_nik, mask_numbers_in_text

from .models import DesilRanking, DesilThreshold, Family, Member, Region
from .pmt import PMT_WEIGHTS, pmt_score


def family_list(*, user):
    """Families in the user's area with their head's name and the number of living members."""
    head = Member.objects.filter(family=OuterRef("pk"), relationship=Member.Relationship.HEAD).order_by("id")
    living = (Member.objects.filter(family=OuterRef("pk"), life_status=Member.LifeStatus.PRESENT)
              .order_by().values("family").annotate(n=Count("id")).values("n"))
    # Subqueries rather than a join with GROUP BY, so the paginator's COUNT(*) leaves them out.
    return scope_queryset(user, Family.objects.select_related("village")).annotate(
        head_name=Subquery(head.values("name")[:1]),
        living_members=Coalesce(Subquery(living), 0),
    )


def family_get(*, user, pk: int) -> Family:
    queryset = Family.objects.select_related("village__parent__parent").prefetch_related(
        Prefetch("members", queryset=Member.objects.order_by("birth_date")),
        Prefetch("desil_rankings", queryset=DesilRanking.objects.order_by("-period")),
    )
    return get_scoped_or_404(user, queryset, pk=pk)


# A village picker longer than this is no help; above it the page asks for a region code instead.
VILLAGE_PICKER_LIMIT = 1000


def villages_in_scope(*, user) -> list[Region] | None:
    """The villages a user may pick from, or None when the area holds too many for a picker."""
    villages = list(scope_queryset(user, Region.objects.filter(level=Region.Level.VILLAGE))
                    .only("code", "name")[:VILLAGE_PICKER_LIMIT + 1])
    return None if len(villages) > VILLAGE_PICKER_LIMIT else villages


def area_choices(*, user) -> list[tuple[str, list[tuple[str, str]]]] | None:
    """The kecamatan and villages of the user's area as grouped choices for an area picker (each kecamatan
    first, as itself, then its villages), in two queries; None when the area holds too many to list."""
    villages = villages_in_scope(user=user)
    if villages is None:
        return None
    kecamatan = dict(scope_queryset(user, Region.objects.filter(level=Region.Level.DISTRICT))
                     .order_by("code").values_list("code", "name"))
    groups: dict[str, list[tuple[str, str]]] = {
        code: [(code, _("%(name)s - the whole kecamatan") % {"name": name})] for code, name in kecamatan.items()}
    for village in sorted(villages, key=lambda v: v.code):
        groups.setdefault(village.code[:8], []).append((village.code, village.name))
    return [(f"{_('Kecamatan')} {kecamatan.get(code, code)}", choices) for code, choices in groups.items()]


def kecamatan_choices(*, user) -> list[tuple[str, str]]:
    """The kecamatan of the user's area as (code, name) choices, in one query: a filter by kecamatan stays
    short even in a regency of hundreds of villages."""
    return list(scope_queryset(user, Region.objects.filter(level=Region.Level.DISTRICT))
                .order_by("name", "code").values_list("code", "name"))


def area_filter_choices(*, user) -> list:
    """Choices of a list's area filter: the kecamatan with their villages where the area is small enough to
    list them (``area_choices``), else the kecamatan alone."""
    return area_choices(user=user) or kecamatan_choices(user=user)


@dataclass
class AuditEntry:
    when: object
    who: str
    action: str
    subject: str
    reason: str = ""
    changes: list[tuple[str, object, object]] = field(default_factory=list)


def _entries(records, subject_of) -> list[AuditEntry]:
    entries, previous = [], {}
    actions = {"+": _("created"), "~": _("changed"), "-": _("deleted")}
    for record in sorted(records, key=lambda r: (r.history_date, r.history_id)):
        before = previous.get(record.id)
        changes = []
        if before is not None and record.history_type == "~":
            delta = record.diff_against(before)
            for change in delta.changes:
                model_field = record.instance_type._meta.get_field(change.field)
                shown = dict(model_field.flatchoices) if model_field.choices else {}
                changes.append((str(model_field.verbose_name), shown.get(change.old, change.old),
                                shown.get(change.new, change.new)))
        previous[record.id] = record
        if record.history_type == "~" and not changes:
            continue  # a save that changed nothing visible
        user = record.history_user
        entries.append(AuditEntry(
            when=record.history_date, who=(user.get_full_name() or user.username) if user else _("system"),
            action=actions[record.history_type], subject=subject_of(record),
            reason=record.history_change_reason or "", changes=changes))
    return entries


_EMPTY = (None, "")


def _shown(model_field, value, words: dict):
    if value in _EMPTY:
        return ""
    if model_field.name in words:
        return words[model_field.name](value)
    if model_field.choices:
        return dict(model_field.flatchoices).get(value, value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return value


def history_entries(records, *, fields: tuple[str, ...], words: dict | None = None) -> dict[object, list[AuditEntry]]:
    """Per object (its id), the "Riwayat" newest first: each recorded save as when, who and every one of
    ``fields`` it changed from -> to, in words (choice labels, yes/no, or ``words[field](value)``: an area's
    name, rupiah). The first record known of an object is compared with nothing ("-"): rows created in bulk
    (a round's families, a KPM list) have no record of their creation. ``records`` come with
    ``history_user`` selected, so this runs no query of its own."""
    words = words or {}
    by_object: dict[object, list[AuditEntry]] = {}
    previous: dict[object, object] = {}
    actions = {"+": _("created"), "~": _("changed"), "-": _("deleted")}
    for record in sorted(records, key=lambda r: (r.history_date, r.history_id)):
        model = record.instance_type._meta
        key = getattr(record, model.pk.attname)  # a programme's key is its code
        before = previous.get(key)
        previous[key] = record
        changes = []
        for name in fields:
            model_field = model.get_field(name)
            new = getattr(record, model_field.attname)
            old = getattr(before, model_field.attname) if before is not None else None
            if (before is not None and old == new) or (before is None and new in _EMPTY):
                continue
            changes.append((str(model_field.verbose_name), _shown(model_field, old, words),
                            _shown(model_field, new, words)))
        if record.history_type == "~" and not changes:
            continue  # a save that changed nothing shown here
        user = record.history_user
        by_object.setdefault(key, []).append(AuditEntry(
            when=record.history_date, who=(user.get_full_name() or user.username) if user else _("system"),
            action=actions[record.history_type], subject="", reason=record.history_change_reason or "",
            changes=changes))
    for entries in by_object.values():
        entries.reverse()
    return by_object


def family_audit_trail(family: Family, *, full_nik: bool = False) -> list[AuditEntry]:
    """Who changed what on the family card and its members, newest first (two queries). NIKs (and KK numbers
    in changed values) are masked unless ``full_nik`` (``privacy.masking.can_see_full_nik``)."""
    family_records = family.history.select_related("history_user")
    member_records = Member.history.filter(family_id=family.pk).select_related("history_user")
    entries = _entries(family_records, lambda r: _("Family card"))
    entries += _entries(member_records, lambda r: f"{r.name} ({r.nik if full_nik else mask_nik(r.nik)})")
    if not full_nik:
        for entry in entries:
            entry.changes = [(label, _masked(old), _masked(new)) for label, old, new in entry.changes]
    return sorted(entries, key=lambda e: e.when, reverse=True)


def _masked(value):
    return mask_numbers_in_text(value) if isinstance(value, str) else value


@dataclass
class ScoreEstimate:
    """The portal's own reading of a family's current data beside the centre's latest ranking.

    ``available`` is false when no publication with score thresholds exists to place the score in a desil.
    """

    official: DesilRanking | None
    period: object  # the publication whose thresholds place the estimate
    living_members: int
    score: float
    desil: int | None
    available: bool

    @property
    def score_difference(self) -> float | None:
        if not self.available or self.official is None or self.official.score is None:
            return None
        return round(self.score - float(self.official.score), 3)

    @property
    def desil_difference(self) -> int | None:
        if not self.available or self.official is None:
            return None
        return self.desil - self.official.desil


def _place_in_desil(score: float, thresholds: list[DesilThreshold]) -> int:
    # The lowest desil whose highest score reaches the family's: a score between two desils' ranges
    # (ties at a boundary, gaps in the publication) goes to the upper one; beyond desil 10 stays 10.
    above = [t.desil for t in thresholds if float(t.max_score) >= score]
    return min(above) if above else max(t.desil for t in thresholds)


def family_score_estimate(family: Family) -> ScoreEstimate:
    """The official latest ranking (period, desil, score) beside the portal's PMT score of the family's
    current data (``registry.pmt``, living members only) and the desil that score falls in by the same
    publication's thresholds. One query when the family's members and rankings are prefetched."""
    official = next(iter(family.desil_rankings.all()), None)  # ordered newest first (Meta and family_get)
    living = sum(1 for m in family.members.all() if m.life_status == Member.LifeStatus.PRESENT)
    attrs = {name: getattr(family, name) for name in (*PMT_WEIGHTS, "floor_area_m2")}
    score = pmt_score(attrs, living)
    thresholds = DesilThreshold.objects.all()
    if official is not None:
        thresholds = thresholds.filter(period=official.period)
    else:  # never ranked: place it by the latest publication that has thresholds
        latest = DesilThreshold.objects.order_by("-period").values("period")[:1]
        thresholds = thresholds.filter(period=Subquery(latest))
    thresholds = list(thresholds)
    if not thresholds:
        return ScoreEstimate(official=official, period=None, living_members=living, score=score, desil=None,
                             available=False)
    return ScoreEstimate(official=official, period=thresholds[0].period, living_members=living, score=score,
                         desil=_place_in_desil(score, thresholds), available=True)


def duplicate_scans(*, user):
    """The user's own regency-wide duplicate scans, latest first."""
    from jobs.models import Job

    return Job.objects.filter(user=user, kind=Job.Kind.DUPLICATE_SCAN).order_by("-created_at", "-id")


def duplicate_pairs(*, user, job):
    """The pairs of one of the user's scans, most likely first, both families inside the user's area (an area
    taken from the user since the scan shows less), with each family's village and head."""
    from django.db.models import Prefetch

    from accounts.scope import area_q, user_sees_everything

    from .models import DuplicatePair, Member

    pairs = DuplicatePair.objects.filter(job=job)
    if not user_sees_everything(user):
        if not user.area_id:
            return pairs.none()
        pairs = pairs.filter(area_q(user.area_id, "family_a__village__pk"),
                             area_q(user.area_id, "family_b__village__pk"))
    heads = Member.objects.filter(relationship=Member.Relationship.HEAD).order_by("id")
    return (pairs.select_related("family_a__village", "family_b__village")
            .prefetch_related(Prefetch("family_a__members", queryset=heads, to_attr="heads"),
                              Prefetch("family_b__members", queryset=heads, to_attr="heads"))
            .order_by("-likelihood", "id"))
