"""Read-only API of the register: regions and families with members and desil history."""
from django.db.models import Prefetch

from dtsen_portal.api import ScopedReadOnlyViewSet
from dtsen_portal.pagination import StableCursorPagination
from registry.filters import FamilyFilter
from registry.models import DesilRanking, Family, Member, Region

from .serializers import FamilySerializer, RegionSerializer


class RegionCursorPagination(StableCursorPagination):
    ordering = "code"


class RegionViewSet(ScopedReadOnlyViewSet):
    """Regions inside the user's area (Kemendagri codes)."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    pagination_class = RegionCursorPagination
    filterset_fields = ["level", "parent"]
    search_fields = ["name", "=code"]
    ordering_fields = ["code"]
    lookup_value_regex = r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?"


class FamilyViewSet(ScopedReadOnlyViewSet):
    """Families (KK) with members and desil history, inside the user's area."""

    queryset = Family.objects.all()
    serializer_class = FamilySerializer
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
