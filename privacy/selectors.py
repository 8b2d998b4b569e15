"""Reading the access records, with the area scope applied (Dinsos: its regency; administrators: all)."""
from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from accounts.scope import scope_queryset

from .models import PersonalDataAccess


def access_list(*, user, username: str = "", kind: str = "", date_from: dt.date | None = None,
                date_to: dt.date | None = None) -> QuerySet[PersonalDataAccess]:
    accesses = scope_queryset(user, PersonalDataAccess.objects.select_related("area"))
    if username:
        accesses = accesses.filter(username=username)
    if kind:
        accesses = accesses.filter(kind=kind)
    if date_from:
        accesses = accesses.filter(at__date__gte=date_from)
    if date_to:
        accesses = accesses.filter(at__date__lte=date_to)
    return accesses.order_by("-at", "-id")


def access_usernames(*, user) -> list[str]:
    """Who appears in the records the user may read (for the filter)."""
    return list(scope_queryset(user, PersonalDataAccess.objects.all())
                .order_by("username").values_list("username", flat=True).distinct())
