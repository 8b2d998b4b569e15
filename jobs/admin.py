"""Background jobs in the admin: for a superuser looking into a stuck or failed one."""
from django.contrib import admin

from accounts.admin_scope import SuperuserOnlyAdminMixin

from .models import Job


@admin.register(Job)
class JobAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: jobs are started from the portal's pages, never edited; their arguments (checked rows of an
    upload, which hold KK numbers) are not shown."""

    list_display = ["created_at", "user", "kind", "target", "state", "count", "finished_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["user"]
    exclude = ["params"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
