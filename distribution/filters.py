"""Filters of a payment period's KPM list, shared by the page and its exports (CSV, Excel, background)."""
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from accounts.scope import area_q, scope_queryset
from registry.models import Family
from registry.search import families_matching, validate_search_text
from registry.selectors import area_filter_choices

from .models import Disbursement


class KpmFilter(filters.FilterSet):
    """By kecamatan or village, payment status, and a family's KK, a member's NIK or name (the register's
    indexed search, ``registry.search``). The programme is the period's: each period belongs to one."""

    area = filters.ChoiceFilter(method="filter_area", label=_("Kecamatan or village"), empty_label=_("All areas"))
    status = filters.ChoiceFilter(choices=Disbursement.Status.choices, label=_("Payment status"),
                                  empty_label=_("All"))
    q = filters.CharFilter(method="filter_q", label=_("Name or KK number"), validators=[validate_search_text])

    class Meta:
        model = Disbursement
        fields = []

    # Set by a name search that found more families than it lists (registry.search.MATCH_LIMIT).
    more_matches = False

    def __init__(self, *args, user, area_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # The user's own kecamatan and villages: an area outside them is no choice.
        self.filters["area"].extra["choices"] = (area_filter_choices(user=user) if area_choices is None
                                                 else area_choices)

    def filter_area(self, queryset, name, value):
        return queryset.filter(area_q(value, "family__village__pk"))

    def filter_q(self, queryset, name, value):
        if not value.strip():
            return queryset
        matches = families_matching(scope_queryset(self.user, Family.objects.all()), value, addresses=False)
        self.more_matches = matches.more
        return queryset.filter(family__in=matches.families)

    def chosen(self) -> dict:
        """The filters in force (valid and not empty), as an export link and a background export take them."""
        self.is_valid()
        return {name: value for name, value in self.form.cleaned_data.items() if value}
