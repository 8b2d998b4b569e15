"""Admin of verification rounds: read mostly; state moves go through verification.services."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import ScopedAdminMixin
from accounts.admin_scope import EvidenceAdminMixin, ReferenceAdminMixin

from .models import (
    FieldCorrection,
    Musdesus,
    MusdesusAttendee,
    RoundEvent,
    RoundFamily,
    RoundTally,
    UpdatePeriod,
    VerificationRound,
    VillageDesilTally,
    VillageLetterhead,
    VillageMemberTally,
)


class RoundEventInline(admin.TabularInline):
    model = RoundEvent
    extra = 0
    fields = ["at", "from_state", "to_state", "actor", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # the event log is insert-only, written by the services


@admin.register(VerificationRound)
class VerificationRoundAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["batch_ref", "village", "programme", "state", "deadline", "state_changed_at"]
    list_filter = ["state", "programme"]
    list_select_related = ["village"]
    search_fields = ["=batch_ref", "=village__code", "village__name"]
    readonly_fields = ["state", "public_id", "created_at", "state_changed_at"]
    autocomplete_fields = ["village"]
    inlines = [RoundEventInline]


@admin.register(RoundFamily)
class RoundFamilyAdmin(EvidenceAdminMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    """Shown, never edited here: a decision changes on the verval page, through the services that check the
    round's state, the actor and the version and write the audit trail."""

    list_display = ["round", "family", "decision", "reason", "decided_by", "decided_at"]
    list_filter = ["decision", "reason"]
    list_select_related = ["round", "family", "decided_by"]
    raw_id_fields = ["round", "family"]
    readonly_fields = ["decided_by", "decided_at"]


@admin.register(RoundEvent)
class RoundEventAdmin(EvidenceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["round", "from_state", "to_state", "actor", "at"]
    list_select_related = ["round", "actor"]
    readonly_fields = ["round", "from_state", "to_state", "actor", "note", "at"]


@admin.register(FieldCorrection)
class FieldCorrectionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["entry", "member_label", "field_label", "old_value", "new_value", "corrected_by", "corrected_at"]
    list_select_related = ["entry", "corrected_by"]
    readonly_fields = [f.name for f in FieldCorrection._meta.fields]

    def has_add_permission(self, request):
        return False  # insert-only, written by the verval services


class AttendeeInline(admin.TabularInline):
    model = MusdesusAttendee
    extra = 0


@admin.register(Musdesus)
class MusdesusAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["document_number", "round", "held_on", "place", "signed_off_by", "signed_off_at"]
    list_select_related = ["round", "signed_off_by"]
    readonly_fields = ["document_number", "recorded_by", "recorded_at", "signed_off_by", "signed_off_at"]
    inlines = [AttendeeInline]


@admin.register(MusdesusAttendee)
class MusdesusAttendeeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "role", "count", "musdesus"]
    list_select_related = ["musdesus"]


@admin.register(UpdatePeriod)
class UpdatePeriodAdmin(ReferenceAdminMixin, admin.ModelAdmin):
    """The national calendar of update cycles: administrators may correct a deadline or publication date."""

    list_display = ["code", "name", "starts_on", "ends_on", "verval_deadline", "publication_on"]
    search_fields = ["=code"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # rounds refer to their period


class TallyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The tallies are kept by database triggers (see verification.tallies): shown, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoundTally)
class RoundTallyAdmin(TallyAdmin):
    list_display = ["round", "total", "decided", "eligible", "not_eligible", "corrected", "proposals", "flagged"]
    list_select_related = ["round__village"]


@admin.register(VillageDesilTally)
class VillageDesilTallyAdmin(TallyAdmin):
    list_display = ["village_id", "desil", "families"]


@admin.register(VillageMemberTally)
class VillageMemberTallyAdmin(TallyAdmin):
    list_display = ["village_id", "living"]


@admin.register(VillageLetterhead)
class VillageLetterheadAdmin(EvidenceAdminMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    """Shown with its history; changed on the village's own page, where the logo is checked and rebuilt."""

    list_display = ["village", "address", "phone", "email", "updated_by", "updated_at"]
    list_select_related = ["village", "updated_by"]
    search_fields = ["=village__code", "village__name"]
