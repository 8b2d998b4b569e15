"""Distribution: the centre's determinations of who receives which programme (KPM) in which period."""
import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from registry.models import Family, Member, Region
from registry.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from verification.models import CentreOutcome


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


# The village must handle a citizen's report within this many days; after that it escalates to Dinsos.
REPORT_HANDLING_DAYS = 14


def report_due_on() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=REPORT_HANDLING_DAYS)


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
    # Where the reporter hears of the report's progress (notifications.services), besides the phone.
    reporter_email = models.EmailField(_("reporter's e-mail"), max_length=254, blank=True)
    # Whether the reporter's NIK, KK, name and birth date matched one living person of the register, and whom;
    # an objection needs a match in its own village. The reporter's numbers themselves are not kept.
    reporter_verified = models.BooleanField(_("reporter identified in the register"), default=False)
    reporter_member = models.ForeignKey(Member, verbose_name=_("reporter in the register"), null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    # Evidence: a photo of the house, re-encoded as the facilitators' photos are (groundcheck.photos) and served
    # only through dtsen_portal.media to staff whose area covers the village; and where it was taken.
    photo = models.FileField(_("photo of the house"), upload_to="citizen-reports/%Y/%m/", blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                   validators=LATITUDE_VALIDATORS)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                    validators=LONGITUDE_VALIDATORS)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED,
                              db_index=True)
    # The day by which the village must accept or reject it; still waiting after it, the report is overdue:
    # Dinsos sees it in its queue and may resolve it, and the regency scorecard counts it against the village.
    due_on = models.DateField(_("to be handled by"), default=report_due_on, db_index=True)
    # When Dinsos was told the report is overdue (distribution.tasks.escalate_overdue_reports): told once.
    escalated_at = models.DateTimeField(_("escalated to Dinsos at"), null=True, blank=True)
    resolution = models.TextField(_("outcome"), blank=True)
    resolved_by = models.ForeignKey("accounts.User", verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # The family (or usulan) in a verification round the accepted report was taken into; its round's
    # submission carries the report to the centre.
    entry = models.ForeignKey("verification.RoundFamily", verbose_name=_("taken into"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="citizen_reports")
    # The ground-check an accepted objection became (the kecamatan's least busy facilitator visits the family).
    assignment = models.ForeignKey("groundcheck.Assignment", verbose_name=_("ground-check"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="citizen_reports")
    centre_outcome = models.CharField(_("centre's answer"), max_length=10, choices=CentreOutcome.choices,
                                      blank=True)
    centre_reason = models.TextField(_("centre's reason"), blank=True)
    centre_answered_at = models.DateTimeField(_("centre answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    history = HistoricalRecords()
    area_scope_path = "village_id"

    class Meta:
        ordering = ["status", "-created_at"]
        verbose_name = _("citizen's report")
        verbose_name_plural = _("citizens' reports")

    def __str__(self):
        return self.reference

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.RECEIVED and self.due_on < timezone.localdate()


class Programme(models.Model):
    """A social assistance programme and its eligibility rule, kept as data so a new programme needs no code."""

    code = models.SlugField(_("code"), max_length=30, primary_key=True)
    name = models.CharField(_("name"), max_length=120)
    max_desil = models.PositiveSmallIntegerField(_("highest desil that qualifies"), default=4)
    monthly_amount = models.PositiveIntegerField(_("amount per month (Rp)"), default=0)
    # Further conditions, e.g. {"min_living_members": 1}; read by distribution.services.rule_check.
    conditions = models.JSONField(_("other conditions"), default=dict, blank=True)
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    unscoped_reference_data = True  # national programme definitions

    class Meta:
        ordering = ["code"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self):
        return self.name


class PaymentPeriod(models.Model):
    """A payment stage (tahap) of a programme: which months it pays and how much per family."""

    programme = models.ForeignKey(Programme, verbose_name=_("programme"), on_delete=models.PROTECT,
                                  related_name="periods")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=120)
    months = models.JSONField(_("months"), default=list, help_text=_('e.g. ["2025-10", "2025-11", "2025-12"]'))
    amount = models.PositiveIntegerField(_("amount per family (Rp)"))

    history = HistoricalRecords()
    unscoped_reference_data = True

    class Meta:
        ordering = ["programme_id", "code"]
        verbose_name = _("payment period (tahap)")
        verbose_name_plural = _("payment periods (tahap)")
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="period_code_once")]

    def __str__(self):
        return f"{self.programme_id} {self.name}"


class Disbursement(models.Model):
    """One family's payment of one programme for one period, through one channel."""

    class Channel(models.TextChoices):
        POS = "pos", _("PT Pos Indonesia")
        HIMBARA = "himbara", _("Himbara bank (KKS)")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        DISBURSED = "disbursed", _("Disbursed")
        RECEIVED = "received", _("Received")
        RETURNED = "returned", _("Returned")
        FAILED = "failed", _("Failed")

    # No index of their own: pay_once_per_period (family, programme, period) serves lookups by family and by
    # family and programme, and every index costs the KPM build of a regency (hundreds of thousands of rows).
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.PROTECT,
                               related_name="disbursements", db_index=False)
    programme = models.ForeignKey(Programme, verbose_name=_("programme"), on_delete=models.PROTECT, db_index=False)
    period = models.ForeignKey(PaymentPeriod, verbose_name=_("period"), on_delete=models.PROTECT,
                               related_name="disbursements")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.POS)
    amount_planned = models.PositiveIntegerField(_("planned (Rp)"))
    amount_paid = models.PositiveIntegerField(_("paid (Rp)"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # Payment reports change thousands of rows at once: their history rows are written in bulk with them
    # (payment_report_apply), not one by one.
    history = HistoricalRecords(excluded_fields=["updated_at"])
    area_scope_path = "family__village_id"

    class Meta:
        ordering = ["period_id", "family_id"]
        verbose_name = _("disbursement")
        verbose_name_plural = _("disbursements")
        constraints = [models.UniqueConstraint(fields=["family", "programme", "period"], name="pay_once_per_period")]
        # A plain index on status (db_index=True would add a second, LIKE-pattern one nothing uses).
        indexes = [models.Index(fields=["status"], name="disbursement_status")]

    def __str__(self):
        return f"{self.family} {self.period}"


class PendingChange(models.Model):
    """A change where money moves, prepared by one Dinsos or administrator account and waiting for a second
    one to confirm it (four eyes): a channel's payment report, or a programme's rules. The prepared content
    is kept here, server-side, until it is confirmed (and applied) or rejected; the preparer cannot confirm
    their own."""

    class Kind(models.TextChoices):
        PAYMENT_REPORT = "payment-report", _("Payment report")
        PROGRAMME_RULES = "programme-rules", _("Programme rules")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for a second account's confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING,
                             db_index=True)
    # The preparer's area (a regency for Dinsos); empty when an administrator prepared it, so that only
    # another administrator can confirm it.
    area = models.ForeignKey(Region, verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    period = models.ForeignKey(PaymentPeriod, verbose_name=_("period"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="pending_changes")
    programme = models.ForeignKey(Programme, verbose_name=_("programme"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="pending_changes")
    # Payment report: {"rows": [...]} (the checked rows; dropped once applied). Programme: the new values.
    payload = models.JSONField(_("prepared content"), default=dict, blank=True)
    # What the confirming account reviews: counts and rupiah per status, or each rule from -> to.
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("prepared by"),
                                    on_delete=models.PROTECT, related_name="+")
    prepared_at = models.DateTimeField(_("prepared at"), auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("confirmed or rejected by"),
                                   null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("confirmed or rejected at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True, max_length=1000)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    job = models.ForeignKey("jobs.Job", verbose_name=_("background job"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+")

    area_scope_path = "area_id"

    class Meta:
        ordering = ["-prepared_at", "-id"]
        verbose_name = _("change awaiting confirmation")
        verbose_name_plural = _("changes awaiting confirmation")

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.get_state_display()})"

    @property
    def awaits_decision(self) -> bool:
        """Waiting for a second account: prepared, or confirmed but its apply failed (the job says why), in
        which case it may be confirmed again, rejected or withdrawn rather than stay stuck."""
        if self.state == self.State.PENDING:
            return True
        return (self.state == self.State.CONFIRMED and self.applied_at is None and self.job_id is not None
                and self.job.state == "failed")
