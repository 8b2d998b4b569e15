"""Reads of the register, with the user's area scope already applied."""
from django.db.models import Count, Prefetch, Q

from accounts.scope import get_scoped_or_404, scope_queryset

from .models import Family, Member


def family_list(*, user):
    return scope_queryset(user, Family.objects.select_related("village"))


def family_get(*, user, pk: int) -> Family:
    queryset = Family.objects.select_related("village__parent__parent").prefetch_related(
        Prefetch("members", queryset=Member.objects.order_by("birth_date")),
        "desil_rankings",
    )
    return get_scoped_or_404(user, queryset, pk=pk)


def area_summary(*, user) -> dict:
    families = scope_queryset(user, Family.objects.all())
    members = scope_queryset(user, Member.objects.all())
    totals = families.aggregate(families=Count("id"), aid_band=Count("id", filter=Q(desil__lte=4)))
    by_desil = dict(families.values_list("desil").annotate(n=Count("id")).order_by("desil"))
    return {
        "area": user.area,
        "families": totals["families"],
        "families_desil_1_4": totals["aid_band"],
        "members": members.filter(life_status=Member.LifeStatus.PRESENT).count(),
        "by_desil": [(d, by_desil.get(d, 0)) for d in range(1, 11)],
        "unranked": by_desil.get(None, 0),
    }
