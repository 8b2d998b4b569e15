"""State changes of accounts: creating and updating users in an area."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from registry.models import Region

from .models import Role, User


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    area: Region | None


# username, role, which region of the demo regency the account is assigned to
DEMO_ACCOUNTS = (
    ("operator", Role.VILLAGE_OPERATOR, "village"),
    ("kades", Role.VILLAGE_HEAD, "village"),
    ("pendamping", Role.FACILITATOR, "kecamatan"),
    ("dinsos", Role.DINSOS, "regency"),
    ("admin", Role.ADMIN, None),
)


@transaction.atomic
def demo_accounts_ensure(*, village_code: str, password: str | None = None) -> list[DemoAccount]:
    """One account per role around ``village_code``, with a fresh password each run unless one is given.

    A fresh random password means a demo database copied somewhere else is not open to a known login.
    """
    village = Region.objects.select_related("parent__parent").get(code=village_code, level=Region.Level.VILLAGE)
    areas = {"village": village, "kecamatan": village.parent, "regency": village.parent.parent, None: None}
    accounts = []
    for username, role, area_key in DEMO_ACCOUNTS:
        secret = password or secrets.token_urlsafe(9)
        user, _created = User.objects.get_or_create(username=username)
        user.role, user.area = role, areas[area_key]
        user.first_name = {"operator": "Operator", "kades": "Kepala Desa", "pendamping": "Pendamping PKH",
                           "dinsos": "Staf Dinsos", "admin": "Administrator"}[username]
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.is_active = True
        user.set_password(secret)
        user.full_clean(exclude=["password"])
        user.save()
        accounts.append(DemoAccount(username, secret, role, areas[area_key]))
    return accounts
