"""Admin of the register: families, members and desil rankings, scoped, with their audit history."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import ScopedAdminMixin
from accounts.admin_scope import ReferenceAdminMixin
from dtsen_portal.spreadsheets import SafeExportResource
from privacy.admin import RecordsExportsMixin, RecordsNikViewsMixin
from privacy.masking import mask_nik

from .models import DesilChange, DesilRanking, DesilThreshold, DuplicatePair, Family, Member


class FamilyResource(SafeExportResource):
    class Meta:
        model = Family
        exclude = ["version"]


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    fields = ["nik", "name", "sex", "birth_date", "relationship", "life_status"]
    show_change_link = True


class DesilRankingInline(admin.TabularInline):
    model = DesilRanking
    extra = 0
    fields = ["period", "desil", "score", "source"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # desil comes from the centre's publications


@admin.register(Family)
class FamilyAdmin(RecordsNikViewsMixin, RecordsExportsMixin, ScopedAdminMixin, ExportMixin, SimpleHistoryAdmin):
    resource_classes = [FamilyResource]
    nik_object_type = "family"
    list_display = ["kk_number", "village", "dusun", "rt", "rw", "desil", "origin"]
    list_filter = ["desil", "origin"]
    list_select_related = ["village"]
    search_fields = ["=kk_number", "=members__nik", "=central_id"]
    autocomplete_fields = ["village"]
    inlines = [MemberInline, DesilRankingInline]
    readonly_fields = ["desil", "central_id", "origin"]
    show_full_result_count = False

    def nik_area_and_people(self, family):
        return family.village_id, family.members.count()


@admin.register(Member)
class MemberAdmin(RecordsNikViewsMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["masked_nik", "name", "sex", "birth_date", "relationship", "life_status", "family"]
    nik_object_type = "member"
    list_filter = ["life_status", "sex", "relationship"]
    list_select_related = ["family"]
    search_fields = ["=nik", "name", "=family__kk_number"]
    raw_id_fields = ["family"]
    show_full_result_count = False

    # A list shows many people: their NIKs masked (privacy.masking); the change page shows it whole, recorded.
    @admin.display(description=_("NIK"), ordering="nik")
    def masked_nik(self, member):
        return mask_nik(member.nik)

    def nik_area_and_people(self, member):
        return member.family.village_id, 1


@admin.register(DesilRanking)
class DesilRankingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["family", "period", "desil", "score", "source"]
    list_filter = ["period", "desil", "source"]
    list_select_related = ["family"]
    search_fields = ["=family__kk_number"]
    raw_id_fields = ["family"]
    show_full_result_count = False


@admin.register(DesilChange)
class DesilChangeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["family", "village", "period", "old_desil", "new_desil", "movement"]
    list_filter = ["period", "movement"]
    list_select_related = ["family", "village"]
    search_fields = ["=family__kk_number"]
    raw_id_fields = ["family", "village"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # recorded from the centre's publications

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DesilThreshold)
class DesilThresholdAdmin(ReferenceAdminMixin, admin.ModelAdmin):
    list_display = ["period", "desil", "min_score", "max_score", "families"]
    list_filter = ["period"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DuplicatePair)
class DuplicatePairAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """What a duplicate scan found, read only: the scan's page is where the pairs are worked."""

    list_display = ["family_a", "family_b", "likelihood", "job"]
    list_select_related = ["family_a", "family_b", "job"]
    raw_id_fields = ["family_a", "family_b", "job"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
