"""Reads of the regency's counts: from the tallies PostgreSQL keeps as the data changes, never recounted.

The tallies (``RoundTally``, ``VillageDesilTally``, ``VillageMemberTally``) are maintained by the triggers of
migration 0006; these readers sum a few rows per village or round instead of counting millions of families,
members and round entries on every request. SQLite (the ``make run`` demo) has no statement triggers with
transition tables, so there the same functions count the rows, which are few.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, IntegerField, Q, Sum, Value
from django.db.models.functions import Coalesce, Substr
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.scope import scope_queryset
from registry.models import Family, Region

from .models import RoundFamily, RoundTally, VerificationRound, VillageDesilTally, VillageMemberTally

AID_BAND_MAX_DESIL = 4
ROUND_COUNTS = ("total", "decided", "eligible", "not_eligible", "corrected", "proposals", "flagged")


def kept() -> bool:
    """Whether the database keeps the tallies (PostgreSQL with the triggers)."""
    return connection.vendor == "postgresql"


def with_round_counts(rounds):
    """``rounds`` annotated with total, decided, proposals and flagged families (one LEFT JOIN)."""
    if kept():
        return rounds.annotate(**{name: Coalesce(F(f"tally__{name}"), Value(0), output_field=IntegerField())
                                  for name in ("total", "decided", "proposals", "flagged")})
    return rounds.annotate(
        total=Count("entries"), decided=Count("entries", filter=~Q(entries__decision="")),
        proposals=Count("entries", filter=Q(entries__is_proposal=True)),
        flagged=Count("entries", filter=Q(entries__flagged=True)),
    )


def round_progress(round_: VerificationRound) -> dict:
    """Total and decided families of a round and its families per decision ("" for undecided)."""
    if kept():
        row = RoundTally.objects.filter(round_id=round_.pk).values(*ROUND_COUNTS).first()
        row = row or dict.fromkeys(ROUND_COUNTS, 0)
        counts = {"": row["total"] - row["decided"]}
        counts.update({d: row[d] for d in RoundFamily.Decision.values})
        counts = {d: n for d, n in counts.items() if n}
        return {"total": row["total"], "decided": row["decided"], "by_decision": counts}
    counts = dict(RoundFamily.objects.filter(round=round_).values_list("decision")
                  .annotate(n=Count("id")).order_by())
    total = sum(counts.values())
    return {"total": total, "decided": total - counts.get("", 0), "by_decision": counts}


def families_by_desil(*, user) -> dict[int | None, int]:
    """Families in the user's area per desil (None: not ranked yet)."""
    from registry.models import Family

    if kept():
        rows = (scope_queryset(user, VillageDesilTally.objects.all()).values("desil")
                .annotate(n=Sum("families")).order_by("desil").values_list("desil", "n"))
        return {desil or None: n for desil, n in rows if n}
    return dict(scope_queryset(user, Family.objects.all()).values_list("desil").annotate(n=Count("id"))
                .order_by("desil"))


def living_members(*, user) -> int:
    """Members whose life status is present, of the families in the user's area."""
    from registry.models import Member

    if kept():
        return scope_queryset(user, VillageMemberTally.objects.all()).aggregate(n=Sum("living"))["n"] or 0
    return scope_queryset(user, Member.objects.filter(life_status=Member.LifeStatus.PRESENT)).count()


def families_by_child(*, user, child_length: int) -> list[dict]:
    """Families and families in the aid band (desil 1-4) per region one level down (the first
    ``child_length`` characters of the village code), in code order."""
    from registry.models import Family

    if kept():
        rows = (scope_queryset(user, VillageDesilTally.objects.all())
                .annotate(child=Substr(F("village_id"), 1, child_length)).values("child")
                .annotate(n=Sum("families"),
                          aid=Coalesce(Sum("families", filter=Q(desil__gte=1, desil__lte=AID_BAND_MAX_DESIL)), 0))
                .filter(n__gt=0).order_by("child"))
        return [{"child": r["child"], "families": r["n"], "aid_band": r["aid"]} for r in rows]
    return list(scope_queryset(user, Family.objects.all()).annotate(child=Substr(F("village_id"), 1, child_length))
                .values("child").annotate(aid_band=Count("id", filter=Q(desil__lte=AID_BAND_MAX_DESIL)),
                                          families=Count("id")).order_by("child"))


def rounds_per_kecamatan(*, user) -> list[dict]:
    """Round entries per kecamatan of the rounds in the user's area: total, decided, flagged and how many
    villages have families in a round."""
    if kept():
        return list(scope_queryset(user, RoundTally.objects.filter(total__gt=0))
                    .annotate(kecamatan=Substr("round__village_id", 1, 8)).values("kecamatan")
                    .annotate(total=Sum("total"), decided=Sum("decided"), flagged=Sum("flagged"),
                              villages=Count("round__village_id", distinct=True))
                    .order_by("kecamatan"))
    return list(scope_queryset(user, RoundFamily.objects.all())
                .annotate(kecamatan=Substr("round__village_id", 1, 8)).values("kecamatan")
                .annotate(total=Count("id"), decided=Count("id", filter=~Q(decision="")),
                          flagged=Count("id", filter=Q(flagged=True)),
                          villages=Count("round__village_id", distinct=True))
                .order_by("kecamatan"))


# -- the role home page's area figures -------------------------------------------------------------------
def _bars(counts: dict) -> list[dict]:
    top = max([counts.get(d, 0) for d in range(1, 11)] + [1])
    return [{"desil": d, "count": counts.get(d, 0), "percent": round(100 * counts.get(d, 0) / top)}
            for d in range(1, 11)]


def area_summary(*, user) -> dict:
    """Families, living members and families per desil in the user's area (two queries, read from the
    tallies kept as the register changes, so the size of the area does not matter)."""
    by_desil = families_by_desil(user=user)
    total = sum(by_desil.values())
    return {
        "area": user.area,
        "families": total,
        "families_desil_1_4": sum(n for d, n in by_desil.items() if d is not None and d <= AID_BAND_MAX_DESIL),
        "members": living_members(user=user),
        "by_desil": [(d, by_desil.get(d, 0)) for d in range(1, 11)],
        "bars": _bars(by_desil),
        "unranked": by_desil.get(None, 0),
    }


@dataclass
class BreakdownRow:
    label: str
    families: int
    aid_band: int
    link: str = ""

    @property
    def share(self) -> int:
        return round(100 * self.aid_band / self.families) if self.families else 0


def area_breakdown(*, user) -> tuple[str, list[BreakdownRow]]:
    """The user's area split one level down: kecamatan for a regency, villages for a kecamatan, dusun for
    a village. Two queries whatever the size of the area: above a village they read the tallies; a
    village's own families are few enough to count."""
    level = user.area.level if user.area else Region.Level.PROVINCE - 1
    if level == Region.Level.VILLAGE:
        counts = {"aid_band": Count("id", filter=Q(desil__lte=AID_BAND_MAX_DESIL)), "families": Count("id")}
        rows = scope_queryset(user, Family.objects.all()).values("dusun").annotate(**counts).order_by("dusun")
        return _("By dusun"), [BreakdownRow(r["dusun"] or "-", r["families"], r["aid_band"]) for r in rows]
    child_length = {Region.Level.PROVINCE - 1: 2, Region.Level.PROVINCE: 5, Region.Level.REGENCY: 8,
                    Region.Level.DISTRICT: 13}[level]
    rows = families_by_child(user=user, child_length=child_length)
    names = dict(Region.objects.filter(code__in=[r["child"] for r in rows]).values_list("code", "name"))
    title = {Region.Level.REGENCY: _("By kecamatan"), Region.Level.DISTRICT: _("By village")}.get(
        level, _("By region"))
    family_list_url = reverse("family-list")
    return title, [
        BreakdownRow(f"{r['child']} {names.get(r['child'], '')}", r["families"], r["aid_band"],
                     link=f"{family_list_url}?{urlencode({'area': r['child']})}")
        for r in rows
    ]
