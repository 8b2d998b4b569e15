"""Distribution: the centre's determinations of who receives which programme (KPM) in which period."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.models import Family, Region


class Determination(models.Model):
    """The centre decided that a family is a KPM of a programme for a period (pulled by the central sync)."""

    determination_id = models.CharField(_("determination"), max_length=40, unique=True)
    central_id = models.CharField(_("DTSEN id"), max_length=32, db_index=True)
    family = models.ForeignKey(Family, verbose_name=_("family"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="determinations",
                               help_text=_("Empty while the family is not (yet) in the portal's register."))
    village = models.ForeignKey(Region, verbose_name=_("village"), on_delete=models.PROTECT,
                                related_name="determinations")
    programme = models.CharField(_("programme"), max_length=30)
    period = models.CharField(_("period"), max_length=7, help_text=_("YYYY-MM"))
    status = models.CharField(_("status"), max_length=20, default="kpm")
    receipt_id = models.CharField(_("receipt"), max_length=40, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    area_scope_path = "village_id"

    class Meta:
        ordering = ["-period", "programme", "village_id"]
        verbose_name = _("determination (KPM)")
        verbose_name_plural = _("determinations (KPM)")

    def __str__(self):
        return f"{self.programme} {self.period} {self.central_id}"
