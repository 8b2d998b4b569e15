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
    # The centre's calendar for this batch: when the regency's verified results are due, and the update
    # cycle (e.g. 2026-Q4) it belongs to. Both become the rounds' deadline and period.
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    cycle = models.CharField(_("update cycle"), max_length=20, blank=True)

    state = FSMField(_("state"), default=BatchState.DISCOVERED, choices=BatchState.choices, db_index=True)
    pages_done = models.PositiveIntegerField(_("pages downloaded"), default=0)
    rows_done = models.PositiveIntegerField(_("rows applied"), default=0)
    rows_total = models.PositiveIntegerField(_("rows to apply"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    rounds_created = models.PositiveIntegerField(_("rounds created"), default=0)
    families_changed = models.PositiveIntegerField(_("families added or changed"), default=0)
    rows_held = models.PositiveIntegerField(_("families held (rows breaking the register's rules)"), default=0)
    # Families the batch added beyond what is compared with the register at once (a first load of a regency):
    # the regency-wide duplicate scan looks at them.
    families_unchecked = models.PositiveIntegerField(_("families added, not compared for duplicates"), default=0)
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
    # A desil page's rows checked as they arrived and written as CSV for PostgreSQL's COPY, so applying the
    # publication does not decode and check a million rows again; empty when a row of the page is bad (the
    # apply reads the JSON to name it) and for batch pages.
    staged = models.TextField(_("rows checked (CSV)"), null=True, blank=True)
    fetched_at = models.DateTimeField(_("fetched"), auto_now_add=True)

    unscoped_reference_data = True  # raw transfer pages; never shown outside the superuser admin

    class Meta:
        ordering = ["stream", "ref", "number"]
        verbose_name = _("downloaded page")
        verbose_name_plural = _("downloaded pages")
        constraints = [models.UniqueConstraint(fields=["stream", "ref", "number"], name="page_once")]
        # A re-published page is taken from the store by its checksum instead of being downloaded again.
        indexes = [models.Index(fields=["checksum"], name="downloadedpage_checksum")]

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
    changed_count = models.PositiveIntegerField(_("families whose desil changed"), default=0)
    entered_count = models.PositiveIntegerField(_("families entering desil 1-4"), default=0)
    left_count = models.PositiveIntegerField(_("families leaving desil 1-4"), default=0)
    unknown_count = models.PositiveIntegerField(_("families not in the register"), default=0)
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
    """One approval of a round on its way to the centre, with everything it carries frozen as items.

    The items and the idempotency key are created and committed before the first attempt, so every retry
    sends the same pages under the same key and the centre does not count them twice. A round the regency
    re-checks and approves again gets a new submission (a new key) carrying the new state.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Received by the centre")
        ACKNOWLEDGED = "acknowledged", _("Answered by the centre")
        REJECTED = "rejected", _("Rejected by the centre")
        FAILED = "failed", _("Failed: will be retried")
        CANCELLED = "cancelled", _("Withdrawn: the round was re-checked before sending")

    round = models.ForeignKey("verification.VerificationRound", verbose_name=_("round"),
                              on_delete=models.PROTECT, related_name="submissions")
    # The approval this submission carries (who approved, when): the change feed links back to it.
    approval = models.OneToOneField("verification.RoundEvent", verbose_name=_("approval"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="submission")
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    protocol = models.PositiveSmallIntegerField(_("protocol version"), default=2)
    state = models.CharField(_("state"), max_length=14, choices=State.choices, default=State.PENDING,
                             db_index=True)
    receipt_id = models.CharField(_("receipt"), max_length=40, blank=True)
    result_count = models.PositiveIntegerField(_("results"), default=0)
    page_count = models.PositiveIntegerField(_("pages"), default=1)
    pages_sent = models.PositiveIntegerField(_("pages received by the centre"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    area_scope_path = "round__village_id"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("submission to the centre")
        verbose_name_plural = _("submissions to the centre")

    def __str__(self):
        return f"{self.round} ({self.get_state_display()})"


class SubmissionItem(models.Model):
    """One thing a submission tells the centre, exactly as sent, and what the centre did with it."""

    class Kind(models.TextChoices):
        RESULT = "result", _("Decision")
        CORRECTION = "correction", _("Field correction")
        MEMBER_CHANGE = "member_change", _("Member change")
        PROPOSAL = "proposal", _("Usulan")
        RECOMMENDATION = "recommendation", _("Ground-check recommendation")
        REPORT = "report", _("Citizen's report")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Sent, waiting for the centre")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    submission = models.ForeignKey(Submission, verbose_name=_("submission"), on_delete=models.CASCADE,
                                   related_name="items")
    kind = models.CharField(_("kind"), max_length=14, choices=Kind.choices)
    # The item's id in the protocol, unique in its submission; the centre's outcome names it.
    ref = models.CharField(_("reference"), max_length=40)
    page = models.PositiveIntegerField(_("page"), default=1)
    entry = models.ForeignKey("verification.RoundFamily", verbose_name=_("family in round"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="submission_items")
    family = models.ForeignKey("registry.Family", verbose_name=_("family"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="submission_items")
    report = models.ForeignKey("distribution.CitizenReport", verbose_name=_("citizen's report"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="submission_items")
    payload = models.JSONField(_("as sent"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING,
                               db_index=True)
    reason = models.TextField(_("centre's reason"), blank=True)
    central_id = models.CharField(_("new DTSEN id"), max_length=32, blank=True,
                                  help_text=_("The id the centre gave an accepted usulan."))
    decided_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    area_scope_path = "submission__round__village_id"

    class Meta:
        ordering = ["submission_id", "id"]
        verbose_name = _("submitted item")
        verbose_name_plural = _("submitted items")
        constraints = [models.UniqueConstraint(fields=["submission", "ref"], name="submission_item_ref_once")]

    def __str__(self):
        return f"{self.submission_id}/{self.ref}"


class BatchClash(models.Model):
    """An item of Dinsos's adjudication queue from a central batch, with both versions side by side.

    A *clash* (kind kk or nik): a family of the batch whose KK number or a member's NIK is held by another
    family of the register; it is held out of the register until Dinsos decides. A *likely duplicate* (kind
    similar): a family the batch added that looks like a family the register already held (the head's name
    as people write it, the birth date within a tolerance, another member or the RT alike); it is in the
    register, and Dinsos keeps both, merges it into the older family or marks it a duplicate."""

    class Kind(models.TextChoices):
        KK = "kk", _("KK number held by another family")
        NIK = "nik", _("NIK held by a member of another family")
        SIMILAR = "similar", _("Likely the same family as one already in the register")

    class State(models.TextChoices):
        HELD = "held", _("Waiting for Dinsos's decision")
        RESOLVED = "resolved", _("Resolved")

    class Resolution(models.TextChoices):
        TAKE_CENTRE = "take_centre", _("Take the centre's version")
        KEEP_REGISTER = "keep_register", _("Keep the register's version")
        DUPLICATE = "duplicate", _("Mark as a duplicate")
        KEEP_BOTH = "keep_both", _("Keep both: they are different families")
        MERGE = "merge", _("Merge into the register's family")

    batch = models.ForeignKey(CentralBatch, verbose_name=_("batch"), on_delete=models.PROTECT,
                              related_name="clashes")
    central_id = models.CharField(_("DTSEN id"), max_length=32)
    village = models.ForeignKey("registry.Region", verbose_name=_("village"), on_delete=models.PROTECT,
                                related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    reason = models.TextField(_("reason"))
    # A likely duplicate: the family the batch added (in the register), and how alike the two are (0-1).
    batch_family = models.ForeignKey("registry.Family", verbose_name=_("the batch's family"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    likelihood = models.FloatField(_("likelihood"), null=True, blank=True)
    central_version = models.JSONField(_("the centre's version"))
    register_family = models.ForeignKey("registry.Family", verbose_name=_("register's family"), null=True,
                                        blank=True, on_delete=models.SET_NULL, related_name="+")
    register_version = models.JSONField(_("the register's version"), default=dict)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.HELD, db_index=True)
    resolution = models.CharField(_("resolution"), max_length=14, choices=Resolution.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    resolved_by = models.ForeignKey("accounts.User", verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("held at"), auto_now_add=True)

    area_scope_path = "village_id"

    class Meta:
        ordering = ["state", "-created_at", "central_id"]
        verbose_name = _("adjudication item")
        verbose_name_plural = _("adjudication queue")
        constraints = [models.UniqueConstraint(fields=["batch", "central_id"], name="clash_once_per_batch")]

    def __str__(self):
        return f"{self.batch_id}/{self.central_id} ({self.get_kind_display()})"

    @property
    def resolutions(self) -> list[str]:
        """The decisions open to this item: a held clash is taken, kept out or a duplicate; a likely
        duplicate already in the register is kept, merged or marked."""
        if self.kind == self.Kind.SIMILAR:
            return [self.Resolution.KEEP_BOTH, self.Resolution.MERGE, self.Resolution.DUPLICATE]
        return [self.Resolution.TAKE_CENTRE, self.Resolution.KEEP_REGISTER, self.Resolution.DUPLICATE]


class BatchHeldRow(models.Model):
    """A family of a central batch that breaks the register's rules (a bad NIK or KK number, a village outside
    the batch's regency, a value the register does not know, a number the batch gives twice). It is held with
    its reasons and the centre's document as sent; the rest of the batch is applied."""

    batch = models.ForeignKey(CentralBatch, verbose_name=_("batch"), on_delete=models.CASCADE,
                              related_name="held_rows")
    page = models.PositiveIntegerField(_("page"))
    position = models.PositiveIntegerField(_("family on the page"))
    central_id = models.CharField(_("DTSEN id"), max_length=32, blank=True)
    # The family's village when it is one of the batch's regency, else the regency: a plain code, because a
    # bad row may name a village the portal does not know.
    area_code = models.CharField(_("area"), max_length=13, db_index=True)
    reasons = models.TextField(_("reasons"))
    document = models.JSONField(_("the centre's version"), null=True, blank=True)
    created_at = models.DateTimeField(_("held at"), auto_now_add=True)

    area_scope_path = "area_code"

    class Meta:
        ordering = ["batch_id", "page", "position"]
        verbose_name = _("batch row held")
        verbose_name_plural = _("batch rows held")
        constraints = [models.UniqueConstraint(fields=["batch", "page", "position"], name="held_row_once")]

    def __str__(self):
        return f"{self.batch_id} {self.page}/{self.position}"


class FamilyDigest(models.Model):
    """The hash of the centre's document of a family as last applied: a re-publication bringing the same
    document again is recognised without validating or rewriting it."""

    central_id = models.CharField(_("DTSEN id"), max_length=32, primary_key=True)
    digest = models.CharField(_("digest"), max_length=32)

    unscoped_reference_data = True  # hashes only; never shown

    class Meta:
        verbose_name = _("applied family digest")
        verbose_name_plural = _("applied family digests")

    def __str__(self):
        return self.central_id


class UnmatchedRanking(models.Model):
    """A family a desil publication ranks but the register does not hold: recorded and reported, not dropped."""

    period = models.DateField(_("publication date"))
    central_id = models.CharField(_("DTSEN id"), max_length=32)
    # A plain code: the centre may rank families of regions the portal does not know.
    village_code = models.CharField(_("village"), max_length=13, blank=True, db_index=True)
    desil = models.PositiveSmallIntegerField(_("desil"))
    score = models.DecimalField(_("score"), max_digits=8, decimal_places=3, null=True, blank=True)

    area_scope_path = "village_code"

    class Meta:
        ordering = ["-period", "village_code", "central_id"]
        verbose_name = _("ranked family not in the register")
        verbose_name_plural = _("ranked families not in the register")
        constraints = [models.UniqueConstraint(fields=["period", "central_id"], name="unmatched_once")]

    def __str__(self):
        return f"{self.period} {self.central_id}"
