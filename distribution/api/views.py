"""API of distribution: programmes (national reference data), citizens' reports, KPM determinations and
disbursements in the user's area. A village operator resolves a citizen's report through the same service as
the village queue page."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from distribution import services
from distribution.models import CitizenReport, Determination, Disbursement, PaymentPeriod, Programme
from dtsen_portal.api import ReadModelSerializer, ScopedReadOnlyViewSet


class PaymentPeriodSerializer(ReadModelSerializer):
    class Meta:
        model = PaymentPeriod
        fields = ["id", "code", "name", "months", "amount"]


class ProgrammeSerializer(ReadModelSerializer):
    periods = PaymentPeriodSerializer(many=True, read_only=True)

    class Meta:
        model = Programme
        fields = ["code", "name", "max_desil", "monthly_amount", "conditions", "active", "periods"]


class CitizenReportSerializer(ReadModelSerializer):
    class Meta:
        model = CitizenReport
        fields = ["id", "reference", "kind", "village", "family", "subject_name", "reason", "status", "resolution",
                  "created_at", "resolved_at"]


class DeterminationSerializer(ReadModelSerializer):
    class Meta:
        model = Determination
        fields = ["id", "determination_id", "central_id", "family", "village", "programme", "period", "status",
                  "received_at"]


class DisbursementSerializer(ReadModelSerializer):
    class Meta:
        model = Disbursement
        fields = ["id", "family", "programme", "period", "channel", "amount_planned", "amount_paid", "status",
                  "reason", "updated_at"]


class ResolveSerializer(serializers.Serializer):
    accept = serializers.BooleanField(help_text="true: take the report into the village's verification.")
    resolution = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                       help_text="Required when rejecting: the citizen reads it.")


class ProgrammeViewSet(viewsets.ReadOnlyModelViewSet):
    """Social assistance programmes and their payment periods (tahap): the same for every area."""

    queryset = Programme.objects.prefetch_related("periods")
    serializer_class = ProgrammeSerializer
    pagination_class = None  # a handful of national programmes
    filterset_fields = ["active"]
    search_fields = ["code", "name"]
    ordering_fields = ["code"]


class CitizenReportViewSet(ScopedReadOnlyViewSet):
    """Citizens' proposals (usulan) and objections (sanggahan) for the villages in the user's area."""

    queryset = CitizenReport.objects.all()
    serializer_class = CitizenReportSerializer
    filterset_fields = ["kind", "status", "village"]
    search_fields = ["=reference", "subject_name"]
    ordering_fields = ["id", "created_at"]

    @extend_schema(request=ResolveSerializer, responses={200: CitizenReportSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """The village operator accepts the report into the verification or rejects it, saying why."""
        report = self.get_object()
        payload = self.validated(ResolveSerializer)
        report = services.report_resolve(actor=request.user, report_id=report.pk, **payload)
        return Response(CitizenReportSerializer(report).data)


class DeterminationViewSet(ScopedReadOnlyViewSet):
    """KPM: the centre's determinations of who receives which programme in which month."""

    queryset = Determination.objects.all()
    serializer_class = DeterminationSerializer
    filterset_fields = ["programme", "period", "village"]
    search_fields = ["=family__kk_number", "=determination_id"]
    ordering_fields = ["id", "received_at"]


class DisbursementViewSet(ScopedReadOnlyViewSet):
    """Payments per family, programme and period."""

    queryset = Disbursement.objects.all()
    serializer_class = DisbursementSerializer
    filterset_fields = ["programme", "period", "status", "channel"]
    search_fields = ["=family__kk_number"]
    ordering_fields = ["id", "updated_at"]
