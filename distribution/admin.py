"""Admin of determinations (read only: they come from the centre), citizens' reports, programmes and payments,
each with its history; changes awaiting a second account's confirmation are shown, never edited here."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import ScopedAdminMixin
from accounts.admin_scope import EvidenceAdminMixin, ReadOnlyHistoryMixin, ReferenceAdminMixin

from .models import CitizenReport, Determination, Disbursement, PaymentPeriod, PendingChange, Programme


@admin.register(Determination)
class DeterminationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["determination_id", "programme", "period", "family", "village", "status", "received_at"]
    list_filter = ["programme", "period", "status"]
    list_select_related = ["family", "village"]
    search_fields = ["=determination_id", "=central_id", "=family__kk_number"]
    readonly_fields = [f for f in list_display if f != "family"] + ["central_id", "receipt_id", "family"]

    def has_add_permission(self, request):
        return False


@admin.register(CitizenReport)
class CitizenReportAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["reference", "kind", "village", "subject_name", "status", "created_at", "resolved_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["village"]
    search_fields = ["=reference", "subject_name"]
    raw_id_fields = ["family", "village", "resolved_by"]


@admin.register(Programme)
class ProgrammeAdmin(ReadOnlyHistoryMixin, ReferenceAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "max_desil", "monthly_amount", "active"]

    def get_readonly_fields(self, request, obj=None):
        # An existing programme's rules change on the programme rules page, confirmed by a second account.
        if obj is not None:
            return ("max_desil", "monthly_amount", "conditions", "active")
        return ()


@admin.register(PaymentPeriod)
class PaymentPeriodAdmin(ReadOnlyHistoryMixin, ReferenceAdminMixin, SimpleHistoryAdmin):
    list_display = ["programme", "code", "name", "amount"]
    # The amount is money: it follows the programme's rules, changed with a second administrator's confirmation.
    readonly_fields = ["amount"]


@admin.register(Disbursement)
class DisbursementAdmin(EvidenceAdminMixin, ReadOnlyHistoryMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    """Payments, to read: their status changes only through a payment report a second account confirmed (four
    eyes), never by hand here."""

    list_display = ["family", "programme", "period", "channel", "amount_planned", "amount_paid", "status"]
    list_filter = ["programme", "status", "channel"]
    list_select_related = ["family", "programme", "period"]
    raw_id_fields = ["family"]


@admin.register(PendingChange)
class PendingChangeAdmin(EvidenceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Who prepared which payment report or rule change and who confirmed or rejected it: evidence, read only
    (confirming happens on the payments and programme rules pages, through the services)."""

    list_display = ["pk", "kind", "state", "period", "programme", "prepared_by", "prepared_at", "decided_by",
                    "decided_at", "applied_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["period__programme", "programme", "prepared_by", "decided_by"]
    exclude = ["payload"]  # the checked rows of a report: thousands of KK numbers, shown by the history instead
