"""State changes of accounts: creating and updating users in an area."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

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


# -- village accounts managed by the regency ---------------------------------------------------------------
MANAGED_ROLES = (Role.VILLAGE_OPERATOR, Role.VILLAGE_HEAD, Role.FACILITATOR)
MANAGER_ROLES = (Role.DINSOS, Role.ADMIN)


def _check_manager(actor, area_code: str | None) -> None:
    from dtsen_portal.errors import NotAllowed, NotInScope

    from .scope import user_covers_code

    if not (actor.is_administrator or actor.role in MANAGER_ROLES):
        raise NotAllowed(_("Your role may not do this."))
    if area_code is None or not user_covers_code(actor, area_code):
        raise NotInScope(_("Not found."))


@transaction.atomic
def user_create(*, actor, username: str, first_name: str, last_name: str, role: str, area_code: str,
                phone: str = "") -> tuple[User, str]:
    """Dinsos creates a village operator, village head or facilitator account in its regency; returns the
    account and a one-time password to hand over."""
    from dtsen_portal.errors import InvalidState

    _check_manager(actor, area_code)
    if role not in MANAGED_ROLES:
        raise InvalidState(_("Dinsos can create village operator, village head and facilitator accounts only."))
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidState(_("The username %(name)s is taken.") % {"name": username})
    password = secrets.token_urlsafe(9)
    user = User(username=username, first_name=first_name, last_name=last_name, role=role, area_id=area_code,
                phone=phone)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user, password


def _managed(actor, user_id: int) -> User:
    from dtsen_portal.errors import NotInScope

    user = User.objects.filter(pk=user_id, role__in=MANAGED_ROLES).first()
    if user is None:
        raise NotInScope(_("Not found."))
    _check_manager(actor, user.area_id)
    return user


@transaction.atomic
def user_reset_password(*, actor, user_id: int) -> tuple[User, str]:
    """A new one-time password for a village account (the old one stops working at once)."""
    user = _managed(actor, user_id)
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, password


@transaction.atomic
def user_set_active(*, actor, user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) a village account; a deactivated account cannot log in."""
    user = _managed(actor, user_id)
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user
