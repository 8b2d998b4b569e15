"""Verification rounds: one per village per central batch, with its state machine and event log.

The round's states and allowed moves are declared once here with django-fsm-2; who may make a move, in
which area, and the audit row are the job of ``verification.services`` (the only caller of the
transitions, since the state field is protected).
"""
import uuid

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from registry.models import Family, Member, Region


class RoundState(models.TextChoices):
    OPEN = "open", _("Open")
    IN_VERIFICATION = "in_verification", _("In verification")
    MUSDESUS_HELD = "musdesus_held", _("Musdesus held")
    SUBMITTED = "submitted", _("Submitted to regency")
    RETURNED = "returned", _("Returned by regency")
    APPROVED = "approved", _("Approved by regency")
    SENT = "sent", _("Sent to the centre")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged by the centre")


# States in which the village may still change the round's data.
EDITABLE_STATES = (RoundState.OPEN, RoundState.IN_VERIFICATION, RoundState.RETURNED)
# States after the regency's approval: the results are on their way to, or at, the centre.
APPROVED_STATES = (RoundState.APPROVED, RoundState.SENT, RoundState.ACKNOWLEDGED)

# How long a note may be, wherever it comes in (page, API, spreadsheet): one family's, a round's.
NOTE_MAX_LENGTH = 2000
ROUND_NOTE_MAX_LENGTH = 4000


class UpdatePeriod(models.Model):
    """One cycle of the DTSEN update (data is updated at least every three months).

    Data awal comes down at its start, villages verify by the deadline, the regency approves, and the monthly
    publication on the 20th (``publication_on``) counts the results. Until that publication the regency may
    still re-check an approved round; from then on the period is final.
    """

    code = models.CharField(_("code"), max_length=20, unique=True, help_text=_("e.g. 2026-Q4"))
    name = models.CharField(_("name"), max_length=80)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    verval_deadline = models.DateField(_("verval deadline"),
                                       help_text=_("Villages submit by this date unless their batch names another."))
    publication_on = models.DateField(_("publication (final)"),
                                      help_text=_("The publication on the 20th that counts this period's results."))

    unscoped_reference_data = True  # the national calendar, no area's data

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("update period")
        verbose_name_plural = _("update periods")

    def __str__(self):
        return self.name or self.code

    def is_final(self, today) -> bool:
        return today >= self.publication_on


class VerificationRound(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    village = models.ForeignKey(Region, verbose_name=_("village"), on_delete=models.PROTECT,
                                related_name="verification_rounds")
    batch_ref = models.CharField(_("central batch"), max_length=40, db_index=True,
                                 help_text=_("Identifier of the central batch of data awal this round verifies."))
    programme = models.CharField(_("programme"), max_length=30, blank=True)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    period = models.ForeignKey(UpdatePeriod, verbose_name=_("update period"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="rounds")
    state = FSMField(_("state"), default=RoundState.OPEN, choices=RoundState.choices, protected=True,
                     db_index=True)
    return_note = models.TextField(_("regency's notes"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    state_changed_at = models.DateTimeField(_("state changed"), auto_now_add=True)

    area_scope_path = "village_id"

    class Meta:
        ordering = ["-created_at", "village_id"]
        verbose_name = _("verification round")
        verbose_name_plural = _("verification rounds")
        constraints = [
            models.UniqueConstraint(fields=["village", "batch_ref"], name="round_one_per_village_batch"),
        ]

    def __str__(self):
        return f"{self.batch_ref} · {self.village_id}"

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES

    # Transitions: the legal moves only. Guards on actor and content live in verification.services.
    @transition(field=state, source=[RoundState.OPEN, RoundState.RETURNED], target=RoundState.IN_VERIFICATION)
    def start(self):
        pass

    @transition(field=state, source=RoundState.IN_VERIFICATION, target=RoundState.MUSDESUS_HELD)
    def hold_musdesus(self):
        pass

    @transition(field=state, source=RoundState.MUSDESUS_HELD, target=RoundState.IN_VERIFICATION)
    def reopen_musdesus(self):
        pass

    @transition(field=state, source=RoundState.MUSDESUS_HELD, target=RoundState.SUBMITTED)
    def submit(self):
        pass

    @transition(field=state, source=RoundState.SUBMITTED, target=RoundState.RETURNED)
    def return_to_village(self):
        pass

    @transition(field=state, source=RoundState.SUBMITTED, target=RoundState.APPROVED)
    def approve(self):
        pass

    # The regency re-checks an approved round before the period is final; a new approval sends the new state.
    @transition(field=state, source=list(APPROVED_STATES), target=RoundState.RETURNED)
    def reopen_for_recheck(self):
        pass

    @transition(field=state, source=RoundState.APPROVED, target=RoundState.SENT)
    def mark_sent(self):
        pass

    @transition(field=state, source=RoundState.SENT, target=RoundState.ACKNOWLEDGED)
    def acknowledge(self):
        pass


class RoundEvent(models.Model):
    """Insert-only log of every round transition: who, when, from, to and why."""

    round = models.ForeignKey(VerificationRound, verbose_name=_("round"), on_delete=models.CASCADE,
                              related_name="events")
    from_state = models.CharField(_("from"), max_length=20, choices=RoundState.choices)
    to_state = models.CharField(_("to"), max_length=20, choices=RoundState.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+",
                              help_text=_("Empty when the system made the move (central sync)."))
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    area_scope_path = "round__village_id"

    class Meta:
        ordering = ["round_id", "at", "id"]
        verbose_name = _("round event")
        verbose_name_plural = _("round events")

    def __str__(self):
        return f"{self.round_id}: {self.from_state} → {self.to_state}"


class CentreOutcome(models.TextChoices):
    """What the centre did with something the portal sent (a family's result, an usulan, a citizen's report)."""

    RECEIVED = "received", _("Received by the centre")
    ACCEPTED = "accepted", _("Accepted by the centre")
    PARTIAL = "partial", _("Partly accepted by the centre")
    REJECTED = "rejected", _("Rejected by the centre")


class RoundFamily(models.Model):
    """A family of the data awal inside a round; the village's decision on it is recorded here."""

    class Decision(models.TextChoices):
        ELIGIBLE = "eligible", _("Eligible (layak)")
        NOT_ELIGIBLE = "not_eligible", _("Not eligible")
        CORRECTED = "corrected", _("Data corrected")

    class Reason(models.TextChoices):
        WELL_OFF = "well_off", _("Well-off (mampu)")
        DECEASED = "deceased", _("Deceased")
        MOVED = "moved", _("Moved")
        NOT_FOUND = "not_found", _("Not found")
        DUPLICATE = "duplicate", _("Duplicate")

    round = models.ForeignKey(VerificationRound, verbose_name=_("round"), on_delete=models.CASCADE,
                              related_name="entries")
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.PROTECT,
                               related_name="round_entries")
    decision = models.CharField(_("decision"), max_length=14, choices=Decision.choices, blank=True,
                                db_index=True)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    evidence = models.FileField(_("evidence photo"), upload_to="evidence/%Y/%m/", blank=True)
    is_proposal = models.BooleanField(_("proposal (usulan baru)"), default=False, db_index=True)
    return_note = models.TextField(_("regency's note on this family"), blank=True)
    # Set when a ground-check visit disagrees with the register: the operator looks at the differences.
    flagged = models.BooleanField(_("flagged by a ground-check"), default=False, db_index=True)
    # What the centre did with this family (or usulan) in the round's latest submission, written by the
    # central sync when the centre answers; the details per item are in central.SubmissionItem.
    centre_outcome = models.CharField(_("centre's answer"), max_length=10, choices=CentreOutcome.choices,
                                      blank=True, db_index=True)
    centre_reason = models.TextField(_("centre's reason"), blank=True)
    centre_answered_at = models.DateTimeField(_("centre answered at"), null=True, blank=True)
    # Optimistic locking: every change through the round bumps it; a form based on an older version is
    # refused with a conflict message instead of overwriting someone else's work.
    version = models.PositiveIntegerField(_("version"), default=1)
    # The family's dusun and KK number, copied by database triggers (migration 0007) so that a round's list
    # is ordered by an index of this table alone: a big village's last page reads the round's own rows
    # instead of every family of the village. Only the triggers write them (any other value is replaced).
    family_dusun = models.CharField(_("dusun (hamlet)"), max_length=60, blank=True, default="", editable=False)
    family_kk = models.CharField(_("KK number"), max_length=16, blank=True, default="", editable=False)
    # The names of the family's members, one a line, kept by triggers (migration 0008): a search by name within
    # a round reads the round's own rows instead of probing every member of the village.
    family_names = models.TextField(_("members' names"), null=True, blank=True, editable=False)

    # Every decision kept with who made it and when (a changed decision no longer overwrites the earlier one);
    # the copies kept by triggers and the lock counter say nothing about the decision.
    history = HistoricalRecords(excluded_fields=["version", "family_dusun", "family_kk", "family_names"])
    area_scope_path = "round__village_id"

    class Meta:
        indexes = [models.Index(fields=["round", "family_dusun", "family_kk", "id"], name="round_list_order")]
        ordering = ["round_id", "family_id"]
        verbose_name = _("family in round")
        verbose_name_plural = _("families in round")
        constraints = [
            models.UniqueConstraint(fields=["round", "family"], name="round_family_once"),
        ]

    def __str__(self):
        return f"{self.round_id}/{self.family_id}"


class FieldCorrection(models.Model):
    """One field of the register corrected during verification: before -> after, who, when. Insert-only."""

    ADDED = "__added__"  # a member added to the card (a newborn, say)

    entry = models.ForeignKey(RoundFamily, verbose_name=_("family in round"), on_delete=models.CASCADE,
                              related_name="corrections")
    member = models.ForeignKey("registry.Member", verbose_name=_("member"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    member_label = models.CharField(_("member"), max_length=160, blank=True)
    field = models.CharField(_("field"), max_length=40)
    field_label = models.CharField(_("field name"), max_length=80)
    old_value = models.TextField(_("before"), blank=True)
    new_value = models.TextField(_("after"), blank=True)
    # The coded values (JSON) as the register and the centre hold them; the texts above are for people.
    old_raw = models.JSONField(_("before (coded)"), null=True, blank=True)
    new_raw = models.JSONField(_("after (coded)"), null=True, blank=True)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT,
                                     related_name="+")
    corrected_at = models.DateTimeField(_("at"), auto_now_add=True)

    area_scope_path = "entry__round__village_id"

    class Meta:
        ordering = ["entry_id", "corrected_at", "id"]
        verbose_name = _("field correction")
        verbose_name_plural = _("field corrections")

    def __str__(self):
        return f"{self.field}: {self.old_value} → {self.new_value}"

    # Shown in the reader's language from the coded values: the stored texts are in the language of whoever
    # made the correction (English for some older rows), so they are only the fallback.
    def _register_field(self):
        model = Member if (self.member_id or self.member_label) else Family
        try:
            return model._meta.get_field(self.field)
        except FieldDoesNotExist:  # a member added to the card (ADDED), or a field since removed
            return None

    def _shown(self, raw, text: str) -> str:
        field = self._register_field()
        if field is None or raw is None:
            return text
        if field.choices:
            return str(dict(field.flatchoices).get(raw, text))
        if isinstance(raw, bool):
            return str(_("yes") if raw else _("no"))
        return text

    @property
    def label(self) -> str:
        field = self._register_field()
        return str(field.verbose_name) if field is not None else self.field_label

    @property
    def before(self) -> str:
        return self._shown(self.old_raw, self.old_value)

    @property
    def after(self) -> str:
        return self._shown(self.new_raw, self.new_value)


class Musdesus(models.Model):
    """The village deliberation (Musyawarah Desa Khusus) that ratifies a round, and its berita acara."""

    round = models.OneToOneField(VerificationRound, verbose_name=_("round"), on_delete=models.CASCADE,
                                 related_name="musdesus")
    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200)
    chair = models.CharField(_("chaired by"), max_length=120)
    notes = models.TextField(_("notes"), blank=True)
    document_number = models.CharField(_("document number"), max_length=60, unique=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now=True)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signed off by"), null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+")
    signed_off_at = models.DateTimeField(_("signed off at"), null=True, blank=True)
    signed_scan = models.FileField(_("signed scan"), upload_to="berita-acara/%Y/%m/", blank=True)

    area_scope_path = "round__village_id"

    class Meta:
        verbose_name = _("Musdesus")
        verbose_name_plural = _("Musdesus")

    def __str__(self):
        return self.document_number

    @property
    def total_attendance(self) -> int:
        return sum(a.count for a in self.attendees.all())


class MusdesusAttendee(models.Model):
    musdesus = models.ForeignKey(Musdesus, verbose_name=_("Musdesus"), on_delete=models.CASCADE,
                                 related_name="attendees")
    name = models.CharField(_("name"), max_length=120)
    role = models.CharField(_("role"), max_length=120, help_text=_("e.g. BPD, RT head, community leader"))
    count = models.PositiveSmallIntegerField(_("number of people"), default=1)

    area_scope_path = "musdesus__round__village_id"

    class Meta:
        ordering = ["musdesus_id", "id"]
        verbose_name = _("attendee")
        verbose_name_plural = _("attendees")

    def __str__(self):
        return f"{self.name} ({self.role})"


class VillageLetterhead(models.Model):
    """The village's letterhead (kop surat) on its berita acara: the office's address, phone, e-mail and logo.

    The names of the regency, kecamatan and village come from the region table, so a village that never
    filled this in still gets a correct letterhead. Changed only through ``verification.services.
    letterhead_save``; the history keeps every earlier state, so minutes signed off earlier are printed with
    the letterhead they were signed under (their logo files are kept for that reason).
    """

    village = models.OneToOneField(Region, verbose_name=_("village"), on_delete=models.PROTECT,
                                   related_name="letterhead")
    address = models.CharField(_("office address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), max_length=120, blank=True)
    logo = models.FileField(_("logo"), upload_to="kop-surat/%Y/%m/", blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    history = HistoricalRecords()
    area_scope_path = "village_id"

    class Meta:
        verbose_name = _("village letterhead")
        verbose_name_plural = _("village letterheads")

    def __str__(self):
        return f"{self.village_id}"


# -- tallies ------------------------------------------------------------------------------------------------
# Counts the regency pages show, kept exact as the data changes by PostgreSQL statement-level triggers with
# transition tables (migration 0005_tallies_kept_by_triggers): every write path (services, the ingest's bulk
# SQL and COPY, the admin, deletes) adds or subtracts one aggregate per statement, so a page reads a few
# hundred rows instead of recounting millions. Only PostgreSQL keeps them; on SQLite (the demo) the
# selectors count instead (see ``verification.tallies``).

class RoundTally(models.Model):
    """A round's families: in all, decided, per decision, proposals and flagged."""

    round = models.OneToOneField(VerificationRound, verbose_name=_("round"), primary_key=True,
                                 on_delete=models.DO_NOTHING, db_constraint=False, related_name="tally")
    total = models.BigIntegerField(default=0)
    decided = models.BigIntegerField(default=0)
    eligible = models.BigIntegerField(default=0)
    not_eligible = models.BigIntegerField(default=0)
    corrected = models.BigIntegerField(default=0)
    proposals = models.BigIntegerField(default=0)
    flagged = models.BigIntegerField(default=0)

    area_scope_path = "round__village_id"

    class Meta:
        verbose_name = _("round tally")
        verbose_name_plural = _("round tallies")

    def __str__(self):
        return f"{self.round_id}: {self.decided}/{self.total}"


class VillageDesilTally(models.Model):
    """Families of a village with one desil (0: not ranked yet)."""

    village = models.ForeignKey(Region, verbose_name=_("village"), on_delete=models.DO_NOTHING,
                                db_constraint=False, related_name="+")
    desil = models.PositiveSmallIntegerField(_("desil"))
    families = models.BigIntegerField(default=0)

    area_scope_path = "village_id"

    class Meta:
        verbose_name = _("village desil tally")
        verbose_name_plural = _("village desil tallies")
        constraints = [models.UniqueConstraint(fields=["village", "desil"], name="village_desil_tally_once")]

    def __str__(self):
        return f"{self.village_id} desil {self.desil}: {self.families}"


class VillageMemberTally(models.Model):
    """Living members (life status present) of a village's families."""

    village = models.OneToOneField(Region, verbose_name=_("village"), primary_key=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    living = models.BigIntegerField(default=0)

    area_scope_path = "village_id"

    class Meta:
        verbose_name = _("village member tally")
        verbose_name_plural = _("village member tallies")

    def __str__(self):
        return f"{self.village_id}: {self.living}"
