"""The access records in the admin: read-only, scoped like everything else."""
from django.contrib import admin

from accounts.admin import ScopedAdminMixin
from accounts.admin_scope import EvidenceAdminMixin, SuperuserOnlyAdminMixin

from .masking import Context, can_see_full_nik
from .models import ExportJob, PersonalDataAccess
from .services import record_export, record_view


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(EvidenceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """A record of who read what: shown in its area, never written or rewritten by hand."""

    list_display = ["at", "username", "role", "kind", "object_type", "object_id", "export_name", "row_count", "area",
                    "ip"]
    list_filter = ["kind", "role"]
    list_select_related = ["area"]
    search_fields = ["=username", "=object_id", "export_name"]
    date_hierarchy = "at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(ExportJob)
class ExportJobAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Background exports, for a superuser looking into a stuck or failed one; the file is its owner's alone
    (the export job page), so the admin neither links nor serves it."""

    list_display = ["created_at", "user", "name", "kind", "state", "rows_done", "rows_total", "finished_at", "error"]
    list_filter = ["state", "name"]
    list_select_related = ["user"]
    exclude = ["file"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecordsNikViewsMixin:
    """For the admin of a model whose change page shows whole NIKs (a family with its members, a member):
    a GET of that page by a role that may read whole NIKs is recorded like the family page."""

    nik_object_type = ""

    def nik_area_and_people(self, obj) -> tuple[str, int]:
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original") if response.status_code == 200 else None
        if request.method == "GET" and original is not None and can_see_full_nik(request.user, Context.DETAIL):
            area, people = self.nik_area_and_people(original)
            record_view(request, object_type=self.nik_object_type, object_id=original.pk, area_code=area,
                        people=people)
        return response


class RecordsExportsMixin:
    """For an admin with django-import-export's export: each export is recorded with its row count."""

    def get_data_for_export(self, request, queryset, **kwargs):
        data = super().get_data_for_export(request, queryset, **kwargs)
        record_export(request, export_name=f"admin-{self.model._meta.model_name}", area_code=request.user.area_id,
                      rows=data.height)
        return data
