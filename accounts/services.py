"""State changes of accounts: creating and updating users in an area."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from registry.models import Region

from .models import LoginEvent, Role, User


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
                phone=phone, must_change_password=True)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user._history_user = actor
    user.save()
    login_event_record(kind=LoginEvent.Kind.PASSWORD_RESET, user=user)
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
    """A new one-time password for a village account (the old one stops working at once); the user must
    choose their own at the next login."""
    user = _managed(actor, user_id)
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.must_change_password = True
    user._history_user = actor
    user.save(update_fields=["password", "must_change_password"])
    login_event_record(kind=LoginEvent.Kind.PASSWORD_RESET, user=user)
    return user, password


@transaction.atomic
def user_set_active(*, actor, user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) a village account; a deactivated account cannot log in."""
    user = _managed(actor, user_id)
    user.is_active = active
    user._history_user = actor
    user.save(update_fields=["is_active"])
    return user


# -- logins, sessions, second factor ------------------------------------------------------------------------
# Session keys: when the session last saw a request, and a login still waiting for its authenticator code.
LAST_SEEN_KEY = "last_seen"
TOTP_PENDING_KEY = "login_totp_pending"
TOTP_ROLES = (Role.DINSOS, Role.ADMIN)


def login_event_record(*, kind: str, request=None, user=None, username: str = "") -> LoginEvent:
    """Write one row of the login audit; the address is the one the trusted proxies report."""
    from dtsen_portal.client_address import client_ip

    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    meta = getattr(request, "META", {}) if request is not None else {}
    ip = client_ip(request) if meta.get("REMOTE_ADDR") else ""
    return LoginEvent.objects.create(
        kind=kind, user=user, username=(user.get_username() if user else username)[:150],
        ip_address=ip or None, user_agent=meta.get("HTTP_USER_AGENT", "")[:255])


def login_started(*, request, user) -> None:
    """After the password was accepted: audit it, start the idle clock, and hold the session at the code page
    if the user has an authenticator."""
    from django_otp import user_has_device

    login_event_record(kind=LoginEvent.Kind.LOGIN, request=request, user=user)
    session = getattr(request, "session", None)
    if session is None:
        return
    session[LAST_SEEN_KEY] = int(time.time())
    if (user.is_administrator or user.role in TOTP_ROLES) and user_has_device(user, confirmed=True):
        session[TOTP_PENDING_KEY] = True


def totp_device(user, *, confirmed: bool | None = None):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        devices = devices.filter(confirmed=confirmed)
    return devices.order_by("-confirmed", "-pk").first()


@transaction.atomic
def login_totp_verify(*, request, token: str) -> bool:
    """The second step of a login with an authenticator. A wrong code counts towards the lockout like a wrong
    password; once locked out the half-finished login is ended."""
    import django_otp
    from django.contrib.auth import logout
    from django.contrib.auth.signals import user_login_failed

    user = request.user
    device = totp_device(user, confirmed=True)
    if device is not None and device.verify_token(token.strip()):
        request.session.pop(TOTP_PENDING_KEY, None)
        django_otp.login(request, device)
        login_event_record(kind=LoginEvent.Kind.TOTP_VERIFIED, request=request, user=user)
        return True
    login_event_record(kind=LoginEvent.Kind.TOTP_FAILED, request=request, user=user)
    request.login_event_recorded = True
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    if getattr(request, "axes_locked_out", False):
        logout(request)
    return False


@transaction.atomic
def totp_enrol(*, user):
    """The user's authenticator waiting to be confirmed (a fresh secret, or the one already shown)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not (user.is_administrator or user.role in TOTP_ROLES):
        from dtsen_portal.errors import NotAllowed

        raise NotAllowed(_("Authenticator apps are for Dinas Sosial staff and administrators."))
    device = totp_device(user, confirmed=False)
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def totp_confirm(*, request, user, token: str) -> bool:
    """Confirm the authenticator with a code it shows; from then on every login asks for a code."""
    device = totp_device(user, confirmed=False)
    if device is None or not device.verify_token(token.strip()):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    user.totpdevice_set.exclude(pk=device.pk).delete()
    login_event_record(kind=LoginEvent.Kind.TOTP_ENABLED, request=request, user=user)
    return True


@transaction.atomic
def totp_remove(*, request, user, token: str) -> bool:
    """Remove the authenticator; a current code proves the one removing it still holds it."""
    device = totp_device(user, confirmed=True)
    if device is None or not device.verify_token(token.strip()):
        return False
    user.totpdevice_set.all().delete()
    login_event_record(kind=LoginEvent.Kind.TOTP_DISABLED, request=request, user=user)
    return True


@transaction.atomic
def password_change(*, request, user, password: str) -> None:
    """The user's own new password (already validated); it ends the one-time password's hold on the account."""
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    login_event_record(kind=LoginEvent.Kind.PASSWORD_CHANGED, request=request, user=user)
