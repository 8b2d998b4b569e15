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


class CitizenReport(models.Model):
    """A citizen's proposal (usulan) or objection (sanggahan), sent from the public Cek Bansos page."""

    class Kind(models.TextChoices):
        PROPOSAL = "usulan", _("Proposal (usulan)")
        OBJECTION = "sanggahan", _("Objection (sanggahan)")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, waiting for the village")
        ACCEPTED = "accepted", _("Accepted into the verification")
        REJECTED = "rejected", _("Rejected")

    reference = models.CharField(_("reference number"), max_length=12, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    village = models.ForeignKey(Region, verbose_name=_("village"), on_delete=models.PROTECT,
                                related_name="citizen_reports")
    family = models.ForeignKey(Family, verbose_name=_("family concerned"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="citizen_reports")
    subject_name = models.CharField(_("name of the person concerned"), max_length=120)
    subject_nik = models.CharField(_("NIK of the person concerned"), max_length=16, blank=True)
    reason = models.TextField(_("reason"), max_length=1000)
    reporter_name = models.CharField(_("reporter's name"), max_length=120)
    reporter_phone = models.CharField(_("reporter's phone"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED,
                              db_index=True)
    resolution = models.TextField(_("outcome"), blank=True)
    resolved_by = models.ForeignKey("accounts.User", verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    area_scope_path = "village_id"

    class Meta:
        ordering = ["status", "-created_at"]
        verbose_name = _("citizen's report")
        verbose_name_plural = _("citizens' reports")

    def __str__(self):
        return self.reference
