"""Reads about accounts for the pages (writes are in accounts.services)."""
from registry.models import Region
from registry.selectors import history_entries

from .models import User

ACCOUNT_HISTORY_FIELDS = ("role", "area", "is_active", "first_name", "last_name", "phone", "must_change_password")


def account_histories(users) -> dict[int, list]:
    """Each account's "Riwayat" (role, area, activation... from -> to, who, when), for a page of accounts in
    two queries: their history rows, and the names of the areas those rows name."""
    records = list(User.history.filter(id__in=[u.pk for u in users]).select_related("history_user"))
    codes = {r.area_id for r in records if r.area_id}
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    return history_entries(records, fields=ACCOUNT_HISTORY_FIELDS,
                           words={"area": lambda code: f"{names.get(code, '')} ({code})".strip()})
