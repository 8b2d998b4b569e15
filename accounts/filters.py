"""Search and filters of the village accounts list Dinsos manages."""
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from .models import Role, User
from .scope import area_q
from .services import MANAGED_ROLES


class AccountFilter(filters.FilterSet):
    """By username or name, role, area (a kecamatan takes its villages with it) and whether the account may
    log in. A value that is no choice (a hand-edited URL, an area of another regency) is left out."""

    ACTIVE_CHOICES = [("yes", _("Active")), ("no", _("Deactivated"))]

    q = filters.CharFilter(method="filter_q", label=_("Username or name"), max_length=150)
    role = filters.ChoiceFilter(choices=[(r.value, r.label) for r in Role if r in MANAGED_ROLES],
                                label=_("Role"), empty_label=_("All roles"))
    area = filters.ChoiceFilter(method="filter_area", label=_("Area"), empty_label=_("All areas"))
    active = filters.ChoiceFilter(choices=ACTIVE_CHOICES, method="filter_active", label=_("Status"),
                                  empty_label=_("All"))

    class Meta:
        model = User
        fields = []

    def __init__(self, *args, area_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        # The manager's own kecamatan (and villages): an area outside them is no choice.
        self.filters["area"].extra["choices"] = list(area_choices)
        # The page also holds the new-account form, whose fields would otherwise share these ids (id_role).
        self.form.auto_id = "filter_%s"

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(username__icontains=value) | Q(first_name__icontains=value)
                               | Q(last_name__icontains=value))

    def filter_area(self, queryset, name, value):
        return queryset.filter(area_q(value, "area__pk"))

    def filter_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "yes")
