"""What the portal keeps of its exchange with the centre: batches pulled, pages downloaded, results pushed.

Every object here is recoverable state: a download resumes from its stored pages, a push is re-sent with
the same idempotency key, and a batch that cannot be applied is held (quarantined) with its reason rather
than dropped.
"""
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .protocol import canonical_json


class SyncCursor(models.Model):
    """How far the portal has read one of the centre's lists (batches, determinations, desil publications)."""

    stream = models.CharField(_("stream"), max_length=30, unique=True)
    cursor = models.CharField(_("cursor"), max_length=100, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    unscoped_reference_data = True  # national sync plumbing, no area's data; administrators only

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")

    def __str__(self):
        return f"{self.stream}: {self.cursor}"


class BatchState(models.TextChoices):
    DISCOVERED = "discovered", _("Waiting for download")
    DOWNLOADING = "downloading", _("Downloading")
    DOWNLOADED = "downloaded", _("Downloaded, waiting to be applied")
    INGESTING = "ingesting", _("Being applied")
    INGESTED = "ingested", _("Applied, rounds created")
    QUARANTINED = "quarantined", _("Held: cannot be applied")


class CentralBatch(models.Model):
    """A batch of data awal the centre published for one regency and programme."""

    batch_id = models.CharField(_("batch"), max_length=60, unique=True)
    # A plain code, not a foreign key: a batch for a regency the portal does not know is still recorded
    # (and held) rather than refused at the door.
    regency_code = models.CharField(_("regency"), max_length=13, db_index=True)
    programme = models.CharField(_("programme"), max_length=30)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    family_count = models.PositiveIntegerField(_("families"), default=0)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    page_size = models.PositiveIntegerField(_("page size"), default=0)
    page_count = models.PositiveIntegerField(_("pages"), default=0)
    checksum = models.CharField(_("checksum"), max_length=64, blank=True)

    state = FSMField(_("state"), default=BatchState.DISCOVERED, choices=BatchState.choices, db_index=True)
    pages_done = models.PositiveIntegerField(_("pages downloaded"), default=0)
    rows_done = models.PositiveIntegerField(_("rows applied"), default=0)
    rows_total = models.PositiveIntegerField(_("rows to apply"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    rounds_created = models.PositiveIntegerField(_("rounds created"), default=0)
    families_changed = models.PositiveIntegerField(_("families added or changed"), default=0)
    ingested_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    created_at = models.DateTimeField(_("discovered at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    area_scope_path = "regency_code"

    class Meta:
        ordering = ["-created_at", "batch_id"]
        verbose_name = _("central batch")
        verbose_name_plural = _("central batches")

    def __str__(self):
        return self.batch_id

    @property
    def progress_percent(self) -> int:
        if self.state == BatchState.INGESTED:
            return 100
        if self.rows_total:
            return min(99, round(100 * self.rows_done / self.rows_total))
        return round(100 * self.pages_done / self.page_count) if self.page_count else 0

    # Moves of the batch; the sync services make them, the retry action restarts a held batch.
    @transition(field=state, source=[BatchState.DISCOVERED, BatchState.DOWNLOADING], target=BatchState.DOWNLOADING)
    def start_download(self):
        pass

    @transition(field=state, source=[BatchState.DOWNLOADING, BatchState.DOWNLOADED], target=BatchState.DOWNLOADED)
    def finish_download(self):
        pass

    @transition(field=state, source=[BatchState.DOWNLOADED, BatchState.INGESTING], target=BatchState.INGESTING)
    def start_ingest(self):
        pass

    @transition(field=state, source=BatchState.INGESTING, target=BatchState.INGESTED)
    def finish_ingest(self):
        pass

    @transition(field=state, source="*", target=BatchState.QUARANTINED)
    def quarantine(self):
        pass

    @transition(field=state, source=[BatchState.QUARANTINED, BatchState.DISCOVERED, BatchState.DOWNLOADING,
                                     BatchState.DOWNLOADED, BatchState.INGESTING], target=BatchState.DISCOVERED)
    def restart(self):
        pass


class DownloadedPage(models.Model):
    """One verified page of a batch or of a desil publication, kept so a download resumes where it stopped."""

    class Stream(models.TextChoices):
        BATCH = "batch", _("data awal batch")
        DESIL = "desil", _("desil publication")

    stream = models.CharField(_("stream"), max_length=10, choices=Stream.choices)
    ref = models.CharField(_("batch or period"), max_length=60)
    number = models.PositiveIntegerField(_("page"))
    checksum = models.CharField(_("checksum"), max_length=64)
    # The page's rows as canonical JSON text: re-checkable against the checksum, and read back without
    # the database converting JSONB to text first (ingest reads hundreds of megabytes).
    body = models.TextField(_("rows (JSON)"))
    fetched_at = models.DateTimeField(_("fetched"), auto_now_add=True)

    unscoped_reference_data = True  # raw transfer pages; never shown outside the superuser admin

    class Meta:
        ordering = ["stream", "ref", "number"]
        verbose_name = _("downloaded page")
        verbose_name_plural = _("downloaded pages")
        constraints = [models.UniqueConstraint(fields=["stream", "ref", "number"], name="page_once")]

    def __str__(self):
        return f"{self.stream} {self.ref} #{self.number}"

    def save_once(self) -> None:
        """Store the page unless an equal one is there already (a page fetched twice is kept once)."""
        DownloadedPage.objects.bulk_create([self], ignore_conflicts=True)

    @classmethod
    def for_rows(cls, *, stream: str, ref: str, number: int, checksum: str, rows: list) -> "DownloadedPage":
        return cls(stream=stream, ref=ref, number=number, checksum=checksum, body=canonical_json(rows).decode())


class DesilPublication(models.Model):
    """A monthly desil publication of the centre (dated the 20th) and how far the portal applied it."""

    class State(models.TextChoices):
        DISCOVERED = "discovered", _("Waiting for download")
        APPLIED = "applied", _("Applied")
        QUARANTINED = "quarantined", _("Held: cannot be applied")

    period = models.DateField(_("publication date"), unique=True)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    page_count = models.PositiveIntegerField(_("pages"), default=0)
    checksum = models.CharField(_("checksum"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.DISCOVERED)
    rows_applied = models.PositiveIntegerField(_("families ranked"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    unscoped_reference_data = True  # one national publication: dates and counts, no family's data

    class Meta:
        ordering = ["-period"]
        verbose_name = _("desil publication")
        verbose_name_plural = _("desil publications")

    def __str__(self):
        return str(self.period)


class Submission(models.Model):
    """An approved round's results on their way to the centre.

    The idempotency key is created and committed before the first attempt, so a push repeated after a
    lost acknowledgement carries the same key and the centre does not count it twice.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Received by the centre")
        ACKNOWLEDGED = "acknowledged", _("Accepted by the centre")
        REJECTED = "rejected", _("Rejected by the centre")
        FAILED = "failed", _("Failed: will be retried")

    round = models.OneToOneField("verification.VerificationRound", verbose_name=_("round"),
                                 on_delete=models.PROTECT, related_name="submission")
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(_("state"), max_length=14, choices=State.choices, default=State.PENDING,
                             db_index=True)
    receipt_id = models.CharField(_("receipt"), max_length=40, blank=True)
    result_count = models.PositiveIntegerField(_("results"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    area_scope_path = "round__village_id"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("submission to the centre")
        verbose_name_plural = _("submissions to the centre")

    def __str__(self):
        return f"{self.round} ({self.get_state_display()})"
