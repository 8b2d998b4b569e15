"""Filters of the family list, shared by the browser page and the REST API."""
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from accounts.scope import area_q

from .models import Family
from .search import families_matching, validate_search_text


class FamilyFilter(filters.FilterSet):
    village = filters.CharFilter(field_name="village_id", label=_("village"))
    area = filters.CharFilter(method="filter_area", label=_("region code"))
    desil = filters.NumberFilter(label=_("desil"))
    desil_max = filters.NumberFilter(field_name="desil", lookup_expr="lte", label=_("desil up to"))
    q = filters.CharFilter(method="filter_q", label=_("KK, NIK or name"), strip=False,
                           validators=[validate_search_text])
    search = filters.CharFilter(method="filter_search", label=_("KK, NIK or full name"), strip=False,
                                validators=[validate_search_text])

    class Meta:
        model = Family
        fields = ["village", "area", "dusun", "rt", "rw", "desil", "desil_max", "origin", "q", "search"]

    # Set by a name search that found more families than it lists (registry.search.MATCH_LIMIT).
    more_matches = False

    def filter_area(self, queryset, name, value):
        # A kecamatan or village code: everything at or below it (the queryset is already scoped).
        return queryset.filter(area_q(value.strip(), "village__pk"))

    def filter_q(self, queryset, name, value):
        # KK or NIK when all digits, else part of a member's name or of the address.
        return self._matching(queryset, value, addresses=True)

    def filter_search(self, queryset, name, value):
        # The API's ?search=: KK or NIK when all digits, else part of a member's (full) name.
        return self._matching(queryset, value, addresses=False)

    def _matching(self, queryset, value, *, addresses):
        matches = families_matching(queryset, value, addresses=addresses)
        self.more_matches = self.more_matches or matches.more
        return matches.families
