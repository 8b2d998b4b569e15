"""Admin of ground-checks (scoped)."""
from django.contrib import admin

from accounts.admin import ScopedAdminMixin

from .models import Assignment, Visit, VisitPhoto


@admin.register(Assignment)
class AssignmentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["family", "facilitator", "source", "created_at", "completed_at"]
    list_filter = ["source"]
    list_select_related = ["family", "facilitator"]
    raw_id_fields = ["family", "facilitator", "entry", "assigned_by"]


class PhotoInline(admin.TabularInline):
    model = VisitPhoto
    extra = 0


@admin.register(Visit)
class VisitAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["family", "facilitator", "visited_at", "recommendation", "received_at"]
    list_filter = ["recommendation"]
    list_select_related = ["family", "facilitator"]
    raw_id_fields = ["assignment", "family", "facilitator", "entry"]
    inlines = [PhotoInline]


@admin.register(VisitPhoto)
class VisitPhotoAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["visit", "image", "width", "height"]
    raw_id_fields = ["visit"]
