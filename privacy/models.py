"""The record of who read whose personal data: every view of a person's whole NIK and every export of
personal data (UU PDP), shown to the regency's Dinsos and read-only in the admin."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PersonalDataAccess(models.Model):
    class Kind(models.TextChoices):
        VIEW_NIK = "view_nik", _("Viewed whole NIK")
        EXPORT = "export", _("Exported personal data")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             on_delete=models.SET_NULL, related_name="personal_data_accesses")
    # Kept apart from the user row so the record still says who it was after the account is deleted.
    username = models.CharField(_("username"), max_length=150)
    role = models.CharField(_("role"), max_length=20)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    object_type = models.CharField(_("object type"), max_length=40, blank=True,
                                   help_text=_("What was opened: family, verval entry, clash, ..."))
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    export_name = models.CharField(_("export"), max_length=100, blank=True)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    row_count = models.PositiveIntegerField(_("rows or people"), default=0)
    # The region the data belongs to (a village, or the user's whole area for an export across it); Dinsos
    # sees the records of its regency through the area scope. Empty for an administrator's national export.
    area = models.ForeignKey("registry.Region", verbose_name=_("area"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    area_scope_path = "area_id"

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["area", "-at"], name="privacy_access_area_at")]

    def __str__(self):
        return f"{self.username} {self.kind} {self.object_type or self.export_name} {self.at:%Y-%m-%d %H:%M}"
