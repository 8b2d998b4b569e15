"""Who may see what in the Django admin: the one place the admin's access policy lives.

Every admin of this project takes one of three policies, and tests/test_admin_scope.py fails for an admin
that takes none:

* ``ScopedAdminMixin`` for register data (``area_scope_path``): lists, change and delete pages, the audit
  history, exports and foreign-key pickers all read through ``accounts.scope``; an object outside the staff
  member's area answers 404, as on the pages and in the API.
* ``ReferenceAdminMixin`` for national reference data (``unscoped_reference_data``): staff may read it, only
  administrators change it, because a change reaches every regency.
* ``SuperuserOnlyAdminMixin`` for what holds power over the whole portal (API tokens, Celery Beat schedules,
  groups, the sync's plumbing): invisible to everyone but superusers.
"""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.utils.translation import gettext as _

from .scope import area_q, scope_path, scope_queryset, user_sees_everything


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id input that names the chosen object only when it lies inside the user's area.

    Django's widget looks the id up without any scope, so re-showing a form with a foreign id typed in
    would print that family's KK number next to the box.
    """

    def __init__(self, rel, admin_site, queryset, attrs=None, using=None):
        super().__init__(rel, admin_site, attrs=attrs, using=using)
        self.scoped_queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.scoped_queryset.filter(**{key: value}).exists()
        except (ValueError, ValidationError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


def _is_versioned(model) -> bool:
    return any(field.name == "version" for field in model._meta.concrete_fields)


class ScopedAdminMixin:
    """Admin lists, change pages, history, exports and foreign-key pickers read through ``scope_queryset``.

    An object outside the staff member's area is not in the queryset, so the admin answers as if it did
    not exist. django-simple-history's history pages look objects up by themselves, and its "revert"
    saves a past version straight over the row (around the services and the optimistic-locking version),
    so they are routed through the scope here and reverting is switched off.
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
            if db_field.name in self.raw_id_fields and "widget" not in kwargs:
                kwargs["widget"] = ScopedRawIdWidget(db_field.remote_field, self.admin_site, kwargs["queryset"],
                                                     using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- optimistic locking ----------------------------------------------------------------------------
    # Families and round entries carry a version that every page and API change checks and bumps; a change
    # through the admin does the same, so neither side silently overwrites the other's newer work.

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if _is_versioned(self.model) and "version" not in fields:
            fields += ("version",)
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if not _is_versioned(self.model):
            return super().get_form(request, obj, change=change, **kwargs)
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"]:
            # The admin lists the form's own fields back to it; this one is not the model's.
            kwargs["fields"] = [name for name in kwargs["fields"] if name != "opened_version"]
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form

        class VersionCheckedForm(form):
            opened_version = forms.IntegerField(widget=forms.HiddenInput, initial=obj.version)

            def clean(self):
                cleaned = super().clean()
                # The change view runs in a transaction: the lock holds until the save commits.
                current = (type(self.instance)._default_manager.select_for_update()
                           .filter(pk=self.instance.pk).values_list("version", flat=True).first())
                if cleaned.get("opened_version") != current:
                    raise ValidationError(_("Someone changed this record after you opened it; open it again "
                                            "to see their change."), code="stale_version")
                self.instance.version = current + 1
                return cleaned

        return VersionCheckedForm

    # --- django-simple-history -------------------------------------------------------------------------

    def history_view(self, request, object_id, extra_context=None):
        try:
            self.get_object(request, unquote(object_id))
        except Http404:
            # simple-history shows a deleted object's past from its history rows, found without any scope;
            # only administrators (who see every area) keep that, and only for a well-formed id.
            if not user_sees_everything(request.user) or not self._is_valid_pk(unquote(object_id)):
                raise
        return super().history_view(request, object_id, extra_context)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        records = super().get_history_queryset(request, history_manager, pk_name, object_id)
        if user_sees_everything(request.user):
            return records
        # A family moved between villages keeps its past rows; those from outside the area stay hidden.
        return records.filter(area_q(request.user.area_id, scope_path(self.model)))

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            # Reverting writes a past version over the row without the services, their audit event or the
            # version check: changes go through the portal's own pages.
            raise PermissionDenied
        object_id = unquote(object_id)
        self.get_object(request, object_id)
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        records = self.get_history_queryset(request, history, self.model._meta.pk.attname, object_id)
        try:
            found = records.filter(history_id=int(version_id)).exists()
        except ValueError:
            found = False
        if not found:
            raise Http404(_("Not found."))
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

    def _is_valid_pk(self, value) -> bool:
        try:
            self.model._meta.pk.to_python(value)
        except ValidationError:
            return False
        return True

    # --- django-import-export --------------------------------------------------------------------------

    def has_import_permission(self, request):
        # An import writes rows wherever its file says, past the scope: administrators only, should an
        # admin of register data ever take import-export's ImportMixin.
        return user_sees_everything(request.user) and super().has_import_permission(request)

    def has_export_permission(self, request):
        # import-export lets any staff member export unless a setting names a permission: the list's own.
        return self.has_view_or_change_permission(request) and super().has_export_permission(request)

    def export_action(self, request):
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            # The export reads the list's filters from the address; an unknown one (?format=0) is the
            # user's mistake, not a server error: show the form again, unfiltered, with a message.
            messages.error(request, _("The export address holds a filter the list does not know; "
                                      "choose the format again."))
            return HttpResponseRedirect(request.path)


class EvidenceAdminMixin:
    """Records that are evidence (logins, access to personal data, a round's events): written by the portal,
    never added, changed or deleted by hand. Combined with ``ScopedAdminMixin`` for whom they may be shown."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReferenceAdminMixin:
    """National reference data: readable by staff with the view permission, changed only by administrators."""

    def has_add_permission(self, request, *args):
        return user_sees_everything(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return user_sees_everything(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return user_sees_everything(request.user) and super().has_delete_permission(request, obj)


class ReadOnlyHistoryMixin:
    """django-simple-history's pages for reference data, to read only: a "revert" would write a past version
    (a programme's old rules, say) straight over the row, past the second account's confirmation."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True


class SuperuserOnlyAdminMixin:
    """Tokens, schedules, groups and the sync's plumbing: neither listed nor reachable for other staff."""

    def _is_superuser(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request):
        return self._is_superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._is_superuser(request)

    def has_add_permission(self, request, *args):
        return self._is_superuser(request)

    def has_change_permission(self, request, obj=None):
        return self._is_superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_superuser(request)


def restrict_to_superusers(site: admin.AdminSite, models) -> None:
    """Re-register other packages' admins (DRF tokens, Celery Beat, auth groups) as superuser-only,
    keeping each package's own admin class underneath."""
    for model in models:
        current = site._registry.get(model)
        if current is None or isinstance(current, SuperuserOnlyAdminMixin):
            continue
        base = type(current)
        site.unregister(model)
        site.register(model, type(f"SuperuserOnly{base.__name__}", (SuperuserOnlyAdminMixin, base), {}))
