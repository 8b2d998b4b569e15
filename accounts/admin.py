"""Admin for users and regions; the access policy every admin of this project uses is in admin_scope."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from registry.models import Region

from .admin_scope import EvidenceAdminMixin, ScopedAdminMixin, restrict_to_superusers
from .models import LoginEvent, Role, User
from .scope import user_sees_everything


@admin.register(User)
class UserAdmin(ScopedAdminMixin, SimpleHistoryAdmin, DjangoUserAdmin):
    list_display = ["username", "get_full_name", "role", "area", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    list_select_related = ["area"]
    search_fields = ["username", "first_name", "last_name", "area__name"]
    autocomplete_fields = ["area"]
    fieldsets = DjangoUserAdmin.fieldsets + (
        (_("Role and area"), {"fields": ("role", "area", "phone", "must_change_password")}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + ((_("Role and area"), {"fields": ("role", "area")}),)

    def get_readonly_fields(self, request, obj=None):
        # Dinsos staff manage village accounts; only administrators hand out admin powers.
        if user_sees_everything(request.user):
            return ()
        return ("is_superuser", "is_staff", "groups", "user_permissions", "last_login", "date_joined")

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not user_sees_everything(request.user):
            kwargs["choices"] = [c for c in Role.choices if c[0] != Role.ADMIN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(Region)
class RegionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["=code", "name"]
    ordering = ["code"]
    show_full_result_count = False  # 91,599 rows: skip the second count query
    readonly_fields = ["code", "level", "parent"]

    def has_add_permission(self, request):
        return False  # regions come from Kemendagri's list through load_regions

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LoginEvent)
class LoginEventAdmin(EvidenceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The login audit, read-only: it is evidence, so nobody edits or deletes it here."""

    list_display = ["at", "username", "kind", "ip_address", "user_agent"]
    list_filter = ["kind"]
    search_fields = ["username", "=ip_address"]
    date_hierarchy = "at"
    list_select_related = ["user"]


# django-otp registers its own admin on import, for every staff user with model permissions; replaced so that only
# administrators see authenticators (to remove one when a phone is lost), and never their secrets.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AdministratorTOTPDeviceAdmin(TOTPDeviceAdmin):
    def has_module_permission(self, request):
        return user_sees_everything(request.user)

    def has_view_permission(self, request, obj=None):
        return user_sees_everything(request.user)

    def has_add_permission(self, request):
        return False  # each user adds their own on the Autentikator page

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return user_sees_everything(request.user)


def _restrict_other_packages_admins():
    # API tokens (the administrator's included), Celery Beat's schedules and the permission groups hold
    # power over the whole portal, not over one area: superusers only.
    from django.contrib.auth.models import Group
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from rest_framework.authtoken.models import TokenProxy

    restrict_to_superusers(admin.site, [TokenProxy, PeriodicTask, IntervalSchedule, CrontabSchedule,
                                        SolarSchedule, ClockedSchedule, Group])


_restrict_other_packages_admins()
