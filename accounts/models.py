"""Users, their role and the area their reach is limited to."""
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from registry.models import Region


class Role(models.TextChoices):
    VILLAGE_OPERATOR = "village_operator", _("Village operator")
    VILLAGE_HEAD = "village_head", _("Village head")
    FACILITATOR = "facilitator", _("PKH facilitator / TKSK")
    DINSOS = "dinsos", _("Regency Dinsos staff")
    ADMIN = "admin", _("Administrator")


# The region level each role's area must have; administrators have no area.
ROLE_AREA_LEVEL = {
    Role.VILLAGE_OPERATOR: Region.Level.VILLAGE,
    Role.VILLAGE_HEAD: Region.Level.VILLAGE,
    Role.FACILITATOR: Region.Level.DISTRICT,
    Role.DINSOS: Region.Level.REGENCY,
}


class AccountHistory(HistoricalRecords):
    """A user's history without a row per login: Django saves ``last_login`` (and a new password hash) alone,
    which changes nothing anyone reviews."""

    def post_save(self, instance, created, using=None, **kwargs):
        update_fields = kwargs.get("update_fields")
        if not created and update_fields and set(update_fields) <= {"last_login", "password"}:
            return
        super().post_save(instance, created, using=using, **kwargs)


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VILLAGE_OPERATOR)
    area = models.ForeignKey(
        Region, verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT, related_name="users",
        help_text=_("Village for operators and village heads, kecamatan for facilitators, regency for Dinsos."),
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Set when Dinsos hands out a one-time password; until the user picks their own, only the change page opens.
    must_change_password = models.BooleanField(_("must change password"), default=False)

    # Role and area changes (and activation) kept with who changed them; never the password hash.
    history = AccountHistory(excluded_fields=["password", "last_login"])

    # Users are scoped by the area they belong to (see accounts.scope).
    area_scope_path = "area_id"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_administrator(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_regency_staff(self) -> bool:
        """Dinas Sosial of a regency, or an administrator: who reaches the regency's pages."""
        return self.is_administrator or self.role == Role.DINSOS

    def clean(self):
        super().clean()
        level = ROLE_AREA_LEVEL.get(self.role)
        if level is None:
            return
        if self.area_id is None:
            raise ValidationError({"area": _("This role needs an area.")})
        if Region.level_of(self.area_id) != level:
            raise ValidationError({"area": _("A %(role)s must be assigned to a %(level)s.") % {
                "role": self.get_role_display(), "level": Region.Level(level).label}})


class LoginEvent(models.Model):
    """One login, failure, lockout, logout or password change: who (or which name was tried), from where, when."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Logged in")
        FAILED = "failed", _("Wrong password")
        LOCKED_OUT = "locked_out", _("Locked out")
        TOTP_FAILED = "totp_failed", _("Wrong authenticator code")
        TOTP_VERIFIED = "totp_verified", _("Authenticator code accepted")
        TOTP_ENABLED = "totp_enabled", _("Authenticator enabled")
        TOTP_DISABLED = "totp_disabled", _("Authenticator removed")
        LOGOUT = "logout", _("Logged out")
        EXPIRED = "expired", _("Session ended after inactivity")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        PASSWORD_RESET = "password_reset", _("One-time password issued")

    user = models.ForeignKey(User, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="login_events")
    username = models.CharField(_("username"), max_length=150, blank=True,
                                help_text=_("As typed, also when no such account exists."))
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    # Dinsos sees the events of its regency's accounts; attempts on unknown names only administrators see.
    area_scope_path = "user__area_id"

    class Meta:
        verbose_name = _("login event")
        verbose_name_plural = _("login events")
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.kind}"
