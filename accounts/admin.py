"""Admin for users, and the one scoping mixin every admin of this project uses."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.models import Region

from .models import LoginEvent, Role, User
from .scope import scope_queryset, user_sees_everything


class ScopedAdminMixin:
    """Admin lists, change pages, exports and foreign-key pickers read through ``scope_queryset``.

    An object outside the staff member's area is not in the queryset, so the admin answers as if it did
    not exist, as the pages and the API do.
    """

    def get_queryset(self, request):
        return scope_queryset(request.user, super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django's admin would redirect with "does not exist"; outside the area answers 404 everywhere.
            raise Http404(_("Not found."))
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if getattr(related, "area_scope_path", None) and "queryset" not in kwargs:
            kwargs["queryset"] = scope_queryset(request.user, related._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
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
class LoginEventAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The login audit, read-only: it is evidence, so nobody edits or deletes it here."""

    list_display = ["at", "username", "kind", "ip_address", "user_agent"]
    list_filter = ["kind"]
    search_fields = ["username", "=ip_address"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
