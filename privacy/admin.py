"""The access records in the admin: read-only, scoped like everything else."""
from django.contrib import admin

from accounts.admin import ScopedAdminMixin

from .models import PersonalDataAccess


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["at", "username", "role", "kind", "object_type", "object_id", "export_name", "row_count", "area",
                    "ip"]
    list_filter = ["kind", "role"]
    list_select_related = ["area"]
    search_fields = ["=username", "=object_id", "export_name"]
    date_hierarchy = "at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    # A record of who read what must not be written or rewritten by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
