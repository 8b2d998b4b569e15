"""A piece of long work a user started from a page, as a worker runs it."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Job(models.Model):
    """Work too long for a web request (a regency's KPM list, a payment report, a sheet of decisions), run by a
    Celery worker as the user who asked for it: the services it calls check that user's role, area and the
    object's state again when it runs. Only that user sees the job's page."""

    class Kind(models.TextChoices):
        KPM_BUILD = "kpm-build", _("Building the KPM list")
        PAYMENT_REPORT = "payment-report", _("Applying a payment report")
        DECISION_IMPORT = "decision-import", _("Importing decisions")
        DUPLICATE_SCAN = "duplicate-scan", _("Scanning the regency for duplicates")

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting in the queue")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Not done")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="jobs")
    kind = models.CharField(_("work"), max_length=20, choices=Kind.choices)
    # What the work is on ("round 12", "period 3"): a second request for the same work while one is pending
    # is given the pending job instead of doing it twice.
    target = models.CharField(_("on"), max_length=100)
    # The service's arguments besides the actor (checked rows of an upload included).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(max_length=10, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    count = models.PositiveIntegerField(_("result"), null=True, blank=True)
    # Percent done, for work that reports it while it runs (a regency-wide duplicate scan); else empty.
    progress = models.PositiveSmallIntegerField(_("progress (%)"), null=True, blank=True)
    error = models.TextField(_("why not done"), blank=True)
    # Where the user goes back to once it is done (the round, the payment period).
    return_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "kind", "target", "state"], name="job_pending_lookup")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.target} ({self.state})"

    @property
    def pending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)
