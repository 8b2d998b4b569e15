"""Users, their role and the area their reach is limited to."""
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

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


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VILLAGE_OPERATOR)
    area = models.ForeignKey(
        Region, verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT, related_name="users",
        help_text=_("Village for operators and village heads, kecamatan for facilitators, regency for Dinsos."),
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    # Users are scoped by the area they belong to (see accounts.scope).
    area_scope_path = "area_id"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_administrator(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

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
