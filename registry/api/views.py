"""Read-only API of the register: regions and families with members and desil history."""
from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from dtsen_portal.api import ScopedReadOnlyViewSet
from dtsen_portal.pagination import StableCursorPagination
from privacy.masking import Context, can_see_full_nik
from privacy.services import record_view
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
    """Families (KK) with members and desil history, inside the user's area.

    Members' NIKs are masked in the list; the detail shows them whole to the roles whose work needs them
    (``privacy.masking``) and records that read in the personal-data access log.
    """

    queryset = Family.objects.all()
    serializer_class = FamilySerializer
    filterset_class = FamilyFilter
    # ?search= is FamilyFilter's (registry.search, served by indexes), not DRF's SearchFilter (a join
    # over every member with LIKE per term).
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "desil", "kk_number"]

    def base_queryset(self):
        return Family.objects.select_related("village").prefetch_related(
            Prefetch("members", queryset=Member.objects.order_by("birth_date")),
            Prefetch("desil_rankings", queryset=DesilRanking.objects.order_by("-period")),
        )

    def retrieve(self, request, *args, **kwargs):
        family = self.get_object()
        full_nik = can_see_full_nik(request.user, Context.DETAIL)
        if full_nik:
            record_view(request, object_type="family", object_id=family.pk, area_code=family.village_id,
                        people=len(family.members.all()))
        return Response(self.get_serializer(family, context={**self.get_serializer_context(),
                                                             "full_nik": full_nik}).data)
