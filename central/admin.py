"""Admin of the central sync's records (read only: the sync writes them)."""
from django.contrib import admin

from accounts.admin import ScopedAdminMixin
from accounts.admin_scope import ReferenceAdminMixin, SuperuserOnlyAdminMixin

from .models import (
    BatchClash,
    BatchHeldRow,
    CentralBatch,
    DesilPublication,
    DownloadedPage,
    FamilyDigest,
    Submission,
    SubmissionItem,
    SyncCursor,
    UnmatchedRanking,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CentralBatch)
class CentralBatchAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["batch_id", "regency_code", "programme", "state", "pages_done", "page_count", "family_count",
                    "attempts", "ingested_at"]
    list_filter = ["state", "programme"]
    search_fields = ["=batch_id", "=regency_code"]


@admin.register(Submission)
class SubmissionAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["round", "state", "receipt_id", "attempts", "sent_at", "acknowledged_at"]
    list_filter = ["state"]
    list_select_related = ["round"]


@admin.register(DesilPublication)
class DesilPublicationAdmin(ReferenceAdminMixin, ReadOnlyAdmin):
    list_display = ["period", "state", "row_count", "rows_applied", "attempts", "applied_at"]


@admin.register(DownloadedPage)
class DownloadedPageAdmin(SuperuserOnlyAdminMixin, ReadOnlyAdmin):
    list_display = ["stream", "ref", "number", "checksum", "fetched_at"]
    list_filter = ["stream"]
    exclude = ["rows"]  # pages can hold thousands of families


@admin.register(SyncCursor)
class SyncCursorAdmin(SuperuserOnlyAdminMixin, ReadOnlyAdmin):
    list_display = ["stream", "cursor", "updated_at"]


@admin.register(SubmissionItem)
class SubmissionItemAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["submission", "ref", "kind", "outcome", "reason", "central_id", "decided_at"]
    list_filter = ["kind", "outcome"]
    list_select_related = ["submission__round"]
    search_fields = ["=ref", "=central_id", "=family__kk_number"]
    show_full_result_count = False


@admin.register(BatchClash)
class BatchClashAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["batch", "central_id", "village", "kind", "state", "resolution", "resolved_at"]
    list_filter = ["state", "kind", "resolution"]
    list_select_related = ["batch", "village"]
    search_fields = ["=central_id", "=batch__batch_id"]


@admin.register(UnmatchedRanking)
class UnmatchedRankingAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["period", "central_id", "village_code", "desil", "score"]
    list_filter = ["period"]
    search_fields = ["=central_id", "=village_code"]
    show_full_result_count = False


@admin.register(BatchHeldRow)
class BatchHeldRowAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["batch", "page", "position", "central_id", "area_code", "created_at"]
    list_select_related = ["batch"]
    search_fields = ["=central_id", "=batch__batch_id"]
    # The reasons quote NIK and KK numbers and the document is the family as sent: the batch page shows both,
    # masked, to the users whose area it is.
    exclude = ["reasons", "document"]
    show_full_result_count = False


@admin.register(FamilyDigest)
class FamilyDigestAdmin(SuperuserOnlyAdminMixin, ReadOnlyAdmin):
    list_display = ["central_id", "digest"]
    search_fields = ["=central_id"]
    show_full_result_count = False
