"""The one area-scoping mechanism.

Every page, admin list, export and API view reads through ``scope_queryset`` (or ``get_scoped_or_404``).
A scoped model declares ``area_scope_path``: the lookup path to the Kemendagri code of the region the row
belongs to (for example ``"village_id"`` or ``"family__village_id"``). Because region codes are
hierarchical, "inside the user's area" is an equality or a prefix match on that code. A model without a
path fails loudly instead of leaking, and a user without an area sees nothing.
"""
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _


def scope_path(model: type[Model]) -> str:
    path = getattr(model, "area_scope_path", None)
    if not path:
        raise ImproperlyConfigured(f"{model.__name__} has no area_scope_path; it cannot be shown scoped.")
    # Django has no prefix lookup on a foreign key's attname ("village_id__startswith"), but it does on
    # the related primary key ("village__pk__startswith") and still trims the join away.
    if path.endswith("_id"):
        path = path[: -len("_id")] + "__pk"
    return path


def area_q(area_code: str, path: str) -> Q:
    """Rows whose region code at ``path`` is ``area_code`` or lies below it."""
    return Q(**{path: area_code}) | Q(**{f"{path}__startswith": f"{area_code}."})


def user_sees_everything(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_administrator)


def scope_queryset(user, queryset: QuerySet) -> QuerySet:
    """Restrict ``queryset`` to the rows inside ``user``'s area."""
    path = scope_path(queryset.model)
    if user_sees_everything(user):
        return queryset
    if not (user and user.is_authenticated and user.is_active and user.area_id):
        return queryset.none()
    return queryset.filter(area_q(user.area_id, path))


def get_scoped_or_404(user, queryset: QuerySet, **lookup):
    """Fetch one object inside the user's area; anything else answers 404, as if it did not exist."""
    try:
        return scope_queryset(user, queryset).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(_("Not found.")) from None


def user_covers_code(user, region_code: str) -> bool:
    """Whether a region code (a village, say) lies inside the user's area."""
    if user_sees_everything(user):
        return True
    area = getattr(user, "area_id", None)
    return bool(area) and (region_code == area or region_code.startswith(area + "."))


def require_regency_staff(user) -> None:
    """For the regency's pages: Dinas Sosial staff and administrators only (the services check again)."""
    if not user.is_regency_staff:
        raise PermissionDenied(_("This page is for Dinas Sosial staff and administrators."))
