"""Ground-checks: families assigned to a PKH facilitator/TKSK, and the visits recorded in the field."""
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.models import Family
from registry.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS


class Assignment(models.Model):
    """A family a facilitator must visit."""

    class Source(models.TextChoices):
        DINSOS = "dinsos", _("Assigned by Dinsos")
        VILLAGE_FLAG = "village_flag", _("Requested by the village")
        OBJECTION = "objection", _("Citizen's objection")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.PROTECT,
                               related_name="groundcheck_assignments")
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("facilitator"),
                                    on_delete=models.PROTECT, related_name="assignments")
    entry = models.ForeignKey("verification.RoundFamily", verbose_name=_("family in round"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="assignments")
    source = models.CharField(_("source"), max_length=14, choices=Source.choices, default=Source.DINSOS)
    note = models.TextField(_("what to check"), blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned by"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("assigned at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("visited at"), null=True, blank=True, db_index=True)

    area_scope_path = "family__village_id"

    class Meta:
        ordering = ["completed_at", "family__village_id", "family__dusun", "id"]
        verbose_name = _("ground-check assignment")
        verbose_name_plural = _("ground-check assignments")
        constraints = [models.UniqueConstraint(fields=["family", "facilitator"],
                                               condition=models.Q(completed_at__isnull=True),
                                               name="one_open_assignment_per_family_facilitator")]

    def __str__(self):
        return f"{self.family} → {self.facilitator}"


class Visit(models.Model):
    """What a facilitator found at the family's house. ``client_uuid`` is made by the phone, so a visit
    sent twice (a retry after a lost answer) is stored once."""

    class Recommendation(models.TextChoices):
        CONTINUE = "continue", _("Continue assistance")
        STOP = "stop", _("Stop assistance")
        REVERIFY = "reverify", _("Verify again")

    client_uuid = models.UUIDField(_("phone's id of the visit"), unique=True, default=uuid.uuid4)
    assignment = models.ForeignKey(Assignment, verbose_name=_("assignment"), on_delete=models.PROTECT,
                                   related_name="visits")
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.PROTECT, related_name="visits")
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("facilitator"),
                                    on_delete=models.PROTECT, related_name="visits")
    entry = models.ForeignKey("verification.RoundFamily", verbose_name=_("family in round"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="visits")
    visited_at = models.DateTimeField(_("visited at"))
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                   validators=LATITUDE_VALIDATORS)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                    validators=LONGITUDE_VALIDATORS)
    accuracy_m = models.PositiveIntegerField(_("GPS accuracy (m)"), null=True, blank=True)
    checklist = models.JSONField(_("housing and assets found"), default=dict)
    # Items the facilitator marked "not as in the register" without noting what was seen (field names).
    mismatches = models.JSONField(_("items not as in the register (value not noted)"), default=list, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    recommendation = models.CharField(_("recommendation"), max_length=10, choices=Recommendation.choices)
    # (field, label, register value, visit value) for every item that disagrees with the register.
    differences = models.JSONField(_("differences from the register"), default=list)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    area_scope_path = "family__village_id"

    class Meta:
        ordering = ["-visited_at"]
        verbose_name = _("ground-check visit")
        verbose_name_plural = _("ground-check visits")

    def __str__(self):
        return f"{self.family} {self.visited_at:%Y-%m-%d}"


class VisitPhoto(models.Model):
    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(_("photo"), upload_to="visits/%Y/%m/")
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))

    area_scope_path = "visit__family__village_id"

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")

    def __str__(self):
        return self.image.name
