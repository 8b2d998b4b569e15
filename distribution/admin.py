"""Admin of determinations (read only: they come from the centre)."""
from django.contrib import admin

from accounts.admin import ScopedAdminMixin
from accounts.admin_scope import ReferenceAdminMixin

from .models import CitizenReport, Determination, Disbursement, PaymentPeriod, Programme


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
class CitizenReportAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "kind", "village", "subject_name", "status", "created_at", "resolved_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["village"]
    search_fields = ["=reference", "subject_name"]
    raw_id_fields = ["family", "village", "resolved_by"]


@admin.register(Programme)
class ProgrammeAdmin(ReferenceAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "max_desil", "monthly_amount", "active"]


@admin.register(PaymentPeriod)
class PaymentPeriodAdmin(ReferenceAdminMixin, admin.ModelAdmin):
    list_display = ["programme", "code", "name", "amount"]


@admin.register(Disbursement)
class DisbursementAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["family", "programme", "period", "channel", "amount_planned", "amount_paid", "status"]
    list_filter = ["programme", "status", "channel"]
    list_select_related = ["family", "programme", "period"]
    raw_id_fields = ["family"]
