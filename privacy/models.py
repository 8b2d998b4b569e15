"""The record of who read whose personal data: every view of a person's whole NIK and every export of
personal data (UU PDP), shown to the regency's Dinsos and read-only in the admin."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PersonalDataAccess(models.Model):
    class Kind(models.TextChoices):
        VIEW_NIK = "view_nik", _("Viewed whole NIK")
        EXPORT = "export", _("Exported personal data")

    class ObjectType(models.TextChoices):
        FAMILY = "family", _("Family")
        MEMBER = "member", _("Family member")
        VERVAL_ENTRY = "verval_entry", _("Family in a verval round")
        CLASH = "clash", _("Data clash")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             on_delete=models.SET_NULL, related_name="personal_data_accesses")
    # Kept apart from the user row so the record still says who it was after the account is deleted.
    username = models.CharField(_("username"), max_length=150)
    role = models.CharField(_("role"), max_length=20)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    object_type = models.CharField(_("object type"), max_length=40, blank=True, choices=ObjectType.choices,
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


class ExportJob(models.Model):
    """A large export written by a Celery worker rather than in the request (a regency's approved list as
    Excel takes longer than a web worker may run), with its progress and, once done, its file: kept in
    MEDIA_ROOT/exports/, handed only to the user who asked for it, removed a day later."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Being written")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="export_jobs")
    name = models.CharField(_("export"), max_length=100)
    kind = models.CharField(_("format"), max_length=10)
    area = models.ForeignKey("registry.Region", verbose_name=_("area"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    # The language of the request: the words written in the sheet (decisions, "yes") are the user's.
    language = models.CharField(max_length=10, blank=True)
    # What the export is of, as its function takes it (a payment period's id, say); {} for the whole area.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="exports/", max_length=200, blank=True)
    access = models.ForeignKey(PersonalDataAccess, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name}.{self.kind} {self.state}"

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.state == self.State.DONE else 0
        return min(100, self.rows_done * 100 // self.rows_total)
