"""Read-only API of the register: regions and families with members and desil history."""
from django.db.models import Prefetch
from django_filters import rest_framework as filters
from rest_framework import viewsets
from rest_framework.filters import OrderingFilter, SearchFilter

from dtsen_portal.api import ScopedQuerysetMixin, StableCursorPagination
from registry.filters import FamilyFilter
from registry.models import DesilRanking, Family, Member, Region

from .serializers import FamilySerializer, RegionSerializer


class RegionCursorPagination(StableCursorPagination):
    ordering = "code"


class RegionViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Regions inside the user's area (Kemendagri codes)."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    pagination_class = RegionCursorPagination
    filter_backends = [filters.DjangoFilterBackend, SearchFilter]
    filterset_fields = ["level", "parent"]
    search_fields = ["name", "=code"]
    lookup_value_regex = r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?"


class FamilyViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Families (KK) with members and desil history, inside the user's area."""

    queryset = Family.objects.all()
    serializer_class = FamilySerializer
    pagination_class = StableCursorPagination
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = FamilyFilter
    search_fields = ["=kk_number", "=members__nik", "members__name"]
    ordering_fields = ["id", "desil", "kk_number"]

    def base_queryset(self):
        return Family.objects.select_related("village").prefetch_related(
            Prefetch("members", queryset=Member.objects.order_by("birth_date")),
            Prefetch("desil_rankings", queryset=DesilRanking.objects.order_by("-period")),
        )

    def filter_queryset(self, queryset):
        # Searching across members joins one row per member; distinct keeps one row per family.
        queryset = super().filter_queryset(queryset)
        return queryset.distinct() if self.request.query_params.get("search") else queryset
