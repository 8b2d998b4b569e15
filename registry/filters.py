"""Filters of the family list, shared by the browser page and the REST API."""
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from accounts.scope import area_q

from .models import Family, Member
from .validators import is_ascii_digits


class FamilyFilter(filters.FilterSet):
    village = filters.CharFilter(field_name="village_id", label=_("village"))
    area = filters.CharFilter(method="filter_area", label=_("region code"))
    desil = filters.NumberFilter(label=_("desil"))
    desil_max = filters.NumberFilter(field_name="desil", lookup_expr="lte", label=_("desil up to"))
    q = filters.CharFilter(method="filter_q", label=_("KK, NIK or name"))

    class Meta:
        model = Family
        fields = ["village", "area", "dusun", "rt", "rw", "desil", "desil_max", "origin", "q"]

    def filter_area(self, queryset, name, value):
        # A kecamatan or village code: everything at or below it (the queryset is already scoped).
        return queryset.filter(area_q(value.strip(), "village__pk"))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if is_ascii_digits(value):
            nik_match = Member.objects.filter(family=OuterRef("pk"), nik=value)
            return queryset.filter(Q(kk_number=value) | Exists(nik_match))
        name_match = Member.objects.filter(family=OuterRef("pk"), name__icontains=value)
        return queryset.filter(Exists(name_match) | Q(address__icontains=value))
